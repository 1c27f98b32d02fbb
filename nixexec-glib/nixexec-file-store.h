/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "nixexec-version-macros.h"
#include "nixexec-stage.h"

G_BEGIN_DECLS

#define NIX_EXEC_TYPE_FILE_STORE (nix_exec_file_store_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecFileStore, nix_exec_file_store, NIX_EXEC, FILE_STORE, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
NixExecFileStore *nix_exec_file_store_new      (const char        *path,
                                                GError           **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
const char       *nix_exec_file_store_get_path (NixExecFileStore  *self);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean          nix_exec_file_store_reload   (NixExecFileStore  *self,
                                                GError           **error);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean          nix_exec_file_store_add      (NixExecFileStore  *self,
                                                NixExecStage      *stage,
                                                GError           **error);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean          nix_exec_file_store_remove   (NixExecFileStore  *self,
                                                const char        *stage_id,
                                                GError           **error);

G_END_DECLS
