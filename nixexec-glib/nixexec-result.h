/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "nixexec-version-macros.h"
#include "nixexec-config.h"

G_BEGIN_DECLS

#define NIX_EXEC_TYPE_RESULT (nix_exec_result_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecResult, nix_exec_result, NIX_EXEC, RESULT, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
const char           *nix_exec_result_get_stage_id       (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
JsonNode             *nix_exec_result_get_output         (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char           *nix_exec_result_get_interpreter    (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char           *nix_exec_result_get_runtime_path   (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char           *nix_exec_result_get_flake_url      (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
NixExecRuntimeSource  nix_exec_result_get_runtime_source (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
gint64                nix_exec_result_get_duration       (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
int                   nix_exec_result_get_exit_status    (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char           *nix_exec_result_get_logs           (NixExecResult *self);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean              nix_exec_result_get_logs_truncated (NixExecResult *self);

G_END_DECLS
