/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * What a Python stage needs besides the standard library, and the Nix
 * expression of an interpreter that has it. See the top of nixexec-pydeps.c.
 */

GStrv        nix_exec_pydeps_scan_imports        (const char          *code);
gboolean     nix_exec_pydeps_is_stdlib           (const char          *module);
char        *nix_exec_pydeps_attr_for_import     (const char          *module);

gboolean     nix_exec_pydeps_validate_attr       (const char          *attr,
                                                  GError             **error);
gboolean     nix_exec_pydeps_parse_requires      (const char          *code,
                                                  GStrv               *out_attrs,
                                                  GError             **error);

GStrv        nix_exec_pydeps_resolve             (const char          *code,
                                                  GError             **error);

char        *nix_exec_pydeps_nix_string          (const char          *text);
char        *nix_exec_pydeps_nix_expression      (const char          *flake_ref,
                                                  const char          *system,
                                                  const char * const  *attrs);

G_END_DECLS
