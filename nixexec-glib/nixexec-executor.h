/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "nixexec-version-macros.h"
#include "nixexec-config.h"
#include "nixexec-effect-set.h"
#include "nixexec-result.h"
#include "nixexec-stage-store.h"

G_BEGIN_DECLS

#define NIX_EXEC_TYPE_EXECUTOR (nix_exec_executor_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecExecutor, nix_exec_executor, NIX_EXEC, EXECUTOR, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
char            *nix_exec_executor_find_nix                 (void) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
NixExecExecutor *nix_exec_executor_new                      (NixExecConfig        *config,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecExecutor *nix_exec_executor_new_from_store           (NixExecStageStore    *store,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecExecutor *nix_exec_executor_new_from_store_with_config (NixExecStageStore  *store,
                                                               NixExecConfig      *config,
                                                               GError            **error) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
const char      *nix_exec_executor_get_nix_path             (NixExecExecutor      *self);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_get_isolation_active     (NixExecExecutor      *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char      *nix_exec_executor_get_isolation_reason     (NixExecExecutor      *self);
NIX_EXEC_AVAILABLE_IN_ALL
NixExecConfig   *nix_exec_executor_config_snapshot          (NixExecExecutor      *self) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecExecutor *nix_exec_executor_rebuild_with_config      (NixExecExecutor      *self,
                                                             NixExecConfig        *config,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_add_stage                (NixExecExecutor      *self,
                                                             NixExecStage         *stage,
                                                             GError              **error);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_register_with_effects    (NixExecExecutor      *self,
                                                             const char           *stage_id,
                                                             const char           *code,
                                                             const char           *language,
                                                             NixExecEffectSet     *effects,
                                                             GError              **error);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_has_implementation       (NixExecExecutor      *self,
                                                             const char           *stage_id);
NIX_EXEC_AVAILABLE_IN_ALL
char           **nix_exec_executor_list_stage_ids           (NixExecExecutor      *self) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
void             nix_exec_executor_warmup_async             (NixExecExecutor      *self,
                                                             GCancellable         *cancellable,
                                                             GAsyncReadyCallback   callback,
                                                             gpointer              user_data);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_warmup_finish            (NixExecExecutor      *self,
                                                             GAsyncResult         *result,
                                                             GError              **error);

NIX_EXEC_AVAILABLE_IN_ALL
JsonNode        *nix_exec_executor_execute                  (NixExecExecutor      *self,
                                                             const char           *stage_id,
                                                             JsonNode             *input,
                                                             GCancellable         *cancellable,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
void             nix_exec_executor_execute_async            (NixExecExecutor      *self,
                                                             const char           *stage_id,
                                                             JsonNode             *input,
                                                             GCancellable         *cancellable,
                                                             GAsyncReadyCallback   callback,
                                                             gpointer              user_data);
NIX_EXEC_AVAILABLE_IN_ALL
JsonNode        *nix_exec_executor_execute_finish           (NixExecExecutor      *self,
                                                             GAsyncResult         *result,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
NixExecResult   *nix_exec_executor_execute_full             (NixExecExecutor      *self,
                                                             const char           *stage_id,
                                                             JsonNode             *input,
                                                             GCancellable         *cancellable,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
void             nix_exec_executor_execute_full_async       (NixExecExecutor      *self,
                                                             const char           *stage_id,
                                                             JsonNode             *input,
                                                             GCancellable         *cancellable,
                                                             GAsyncReadyCallback   callback,
                                                             gpointer              user_data);
NIX_EXEC_AVAILABLE_IN_ALL
NixExecResult   *nix_exec_executor_execute_full_finish      (NixExecExecutor      *self,
                                                             GAsyncResult         *result,
                                                             GError              **error) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
char            *nix_exec_executor_dup_locked_flake_url     (NixExecExecutor      *self) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_export_lock              (NixExecExecutor      *self,
                                                             const char           *path,
                                                             GError              **error);
NIX_EXEC_AVAILABLE_IN_ALL
void             nix_exec_executor_refresh_async            (NixExecExecutor      *self,
                                                             GCancellable         *cancellable,
                                                             GAsyncReadyCallback   callback,
                                                             gpointer              user_data);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean         nix_exec_executor_refresh_finish           (NixExecExecutor      *self,
                                                             GAsyncResult         *result,
                                                             GError              **error);

G_END_DECLS
