/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "nixexec-version-macros.h"
#include "nixexec-stage.h"

G_BEGIN_DECLS

#define NIX_EXEC_TYPE_MEMORY_STORE (nix_exec_memory_store_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecMemoryStore, nix_exec_memory_store, NIX_EXEC, MEMORY_STORE, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
NixExecMemoryStore *nix_exec_memory_store_new    (void) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_memory_store_add    (NixExecMemoryStore *self,
                                                  NixExecStage       *stage);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean            nix_exec_memory_store_remove (NixExecMemoryStore *self,
                                                  const char         *stage_id);

G_END_DECLS
