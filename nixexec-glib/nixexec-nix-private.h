/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "nixexec-config.h"

G_BEGIN_DECLS

GStrv        nix_exec_nix_build_argv          (const char     *nix_path,
                                               NixExecConfig  *config,
                                               const char     *installable,
                                               const char     *expression,
                                               const char     *out_link);
GStrv        nix_exec_nix_metadata_argv       (const char     *nix_path,
                                               NixExecConfig  *config,
                                               const char     *flake_ref);
char        *nix_exec_nix_parse_metadata_output (const char   *json,
                                                 gsize         length,
                                                 GError      **error);
char        *nix_exec_nix_parse_build_output  (const char     *json,
                                               gsize           length,
                                               GError        **error);
GError      *nix_exec_nix_classify_failure    (const char     *installable,
                                               const char     *nix_stderr,
                                               int             exit_status);

G_END_DECLS
