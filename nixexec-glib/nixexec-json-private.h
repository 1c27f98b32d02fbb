/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The one JSON boundary: every JSON text that comes into the library is
 * read here, and what the library writes is written here. See
 * nixexec-json.c.
 */

/* Arrays and objects nested deeper than this are refused. */
#define NIX_EXEC_JSON_MAX_DEPTH 512

/*
 * Reads exactly one JSON text (RFC 8259; white space around it, nothing
 * else). Refused, with G_IO_ERROR_INVALID_DATA and a message that says what
 * and where: anything RFC 8259 does not allow (a BOM, single quotes, hex,
 * leading zeros, raw control characters, invalid UTF-8, a second value),
 * nesting deeper than NIX_EXEC_JSON_MAX_DEPTH, integers outside the 64-bit
 * range, numbers too large for a double, strings holding U+0000 or a lone
 * surrogate, and an object with the same key twice.
 */
JsonNode *nix_exec_json_read   (const char  *text,
                                gsize        length,
                                GError     **error);

/*
 * Checks a node the application built: no deeper than
 * NIX_EXEC_JSON_MAX_DEPTH, doubles finite, strings valid UTF-8; FALSE with
 * G_IO_ERROR_INVALID_ARGUMENT otherwise. A %NULL node is JSON null.
 */
gboolean  nix_exec_json_check  (JsonNode    *node,
                                GError     **error);

/*
 * Writes @node (which nix_exec_json_check() accepts) as JSON text, compact
 * or indented by two spaces; every number is valid JSON, and a double reads
 * back as the same double. %NULL with G_IO_ERROR_INVALID_ARGUMENT when the
 * check fails.
 */
char     *nix_exec_json_write  (JsonNode    *node,
                                gboolean     pretty,
                                GError     **error);

G_END_DECLS
