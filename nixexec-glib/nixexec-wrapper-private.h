/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "nixexec-stage.h"

G_BEGIN_DECLS

#define NIX_EXEC_N_LANGUAGES 3

/*
 * A wrapper that can tell why a stage failed exits with this status and
 * writes one JSON object on stdout:
 *
 *   {"kind": "exception" | "no-execute" | "syntax" | "bad-result",
 *    "type": "ValueError", "message": "...", "traceback": "..."}
 *
 * "type" and "traceback" may be missing. Any other non-zero status is a
 * stage failure whose text is the stage's stderr.
 */
#define NIX_EXEC_WRAPPER_REPORT_STATUS 97
/* The first thing every wrapper writes, on stderr, before the stage's code
 * can run: what tells a stage that ran from a sandbox that never let it
 * (see nixexec-outcome.c). Removed from the logs. */
#define NIX_EXEC_WRAPPER_STARTED_LINE  "nixexec:started\n"

const char  *nix_exec_language_to_string         (NixExecLanguage   language);
const char  *nix_exec_language_runtime_attr      (NixExecLanguage   language);
const char  *nix_exec_language_interpreter       (NixExecLanguage   language);
const char  *nix_exec_language_file_extension    (NixExecLanguage   language);

char        *nix_exec_wrapper_build_script       (NixExecLanguage   language,
                                                  const char       *code,
                                                  gsize            *out_length);
char        *nix_exec_wrapper_script_key         (NixExecLanguage   language,
                                                  const char       *code);
gboolean     nix_exec_ensure_private_dir         (const char       *dir,
                                                  const char       *what,
                                                  GError          **error);
char        *nix_exec_wrapper_ensure_script      (const char       *cache_dir,
                                                  NixExecLanguage   language,
                                                  const char       *code,
                                                  GError          **error);

G_END_DECLS
