/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "nixexec-version-macros.h"
#include "nixexec-stage.h"

G_BEGIN_DECLS

#define NIX_EXEC_TYPE_STAGE_STORE (nix_exec_stage_store_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (NixExecStageStore, nix_exec_stage_store, NIX_EXEC, STAGE_STORE, GObject)

/**
 * NixExecStageStoreInterface:
 * @list_stages: returns every stage of the store, in the store's order.
 * @lookup: returns the stage with the given id, or %NULL.
 *
 * The virtual methods of [iface@NixExec.StageStore].
 *
 * Since: 1.0
 */
struct _NixExecStageStoreInterface
{
  GTypeInterface parent_iface;

  GPtrArray    *(*list_stages) (NixExecStageStore *self);
  NixExecStage *(*lookup)      (NixExecStageStore *self,
                                const char        *stage_id);

  /*< private >*/
  gpointer _reserved[8];
};

NIX_EXEC_AVAILABLE_IN_ALL
GPtrArray    *nix_exec_stage_store_list_stages (NixExecStageStore *self) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecStage *nix_exec_stage_store_lookup      (NixExecStageStore *self,
                                                const char        *stage_id) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
