/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-stage-store.h"

/**
 * NixExecStageStore:
 *
 * A source of stages, such as [class@NixExec.MemoryStore]. An executor
 * built with [ctor@NixExec.Executor.new_from_store] loads its stages from
 * one.
 *
 * An implementation provides [vfunc@NixExec.StageStore.list_stages]; it may
 * also provide [vfunc@NixExec.StageStore.lookup], which otherwise searches
 * the list.
 *
 * Since: 1.0
 */

G_DEFINE_INTERFACE (NixExecStageStore, nix_exec_stage_store, G_TYPE_OBJECT)

static NixExecStage *
nix_exec_stage_store_real_lookup (NixExecStageStore *self,
                                  const char        *stage_id)
{
  g_autoptr(GPtrArray) stages = nix_exec_stage_store_list_stages (self);

  for (guint i = 0; i < stages->len; i++)
    {
      NixExecStage *stage = g_ptr_array_index (stages, i);

      if (g_strcmp0 (nix_exec_stage_get_id (stage), stage_id) == 0)
        return g_object_ref (stage);
    }
  return NULL;
}

static void
nix_exec_stage_store_default_init (NixExecStageStoreInterface *iface)
{
  iface->lookup = nix_exec_stage_store_real_lookup;
}

/**
 * nix_exec_stage_store_list_stages: (virtual list_stages)
 * @self: a [iface@NixExec.StageStore]
 *
 * Lists every stage of the store, in the store's order.
 *
 * Implementations return a new array holding a reference on each stage,
 * with g_object_unref() as its free function.
 *
 * Returns: (transfer container) (element-type NixExecStage): the stages
 *
 * Since: 1.0
 */
GPtrArray *
nix_exec_stage_store_list_stages (NixExecStageStore *self)
{
  NixExecStageStoreInterface *iface;
  GPtrArray *stages;

  g_return_val_if_fail (NIX_EXEC_IS_STAGE_STORE (self), NULL);

  iface = NIX_EXEC_STAGE_STORE_GET_IFACE (self);
  g_return_val_if_fail (iface->list_stages != NULL, NULL);

  stages = iface->list_stages (self);
  /* Callers may rely on getting an array, even an empty one. */
  if (stages == NULL)
    {
      g_critical ("%s returned no array from NixExecStageStore.list_stages()",
                  G_OBJECT_TYPE_NAME (self));
      stages = g_ptr_array_new_with_free_func (g_object_unref);
    }
  return stages;
}

/**
 * nix_exec_stage_store_lookup: (virtual lookup)
 * @self: a [iface@NixExec.StageStore]
 * @stage_id: the id of a stage
 *
 * Finds the stage of the store whose id is @stage_id.
 *
 * Returns: (transfer full) (nullable): the stage, or %NULL if the store has
 *   none under that id
 *
 * Since: 1.0
 */
NixExecStage *
nix_exec_stage_store_lookup (NixExecStageStore *self,
                             const char        *stage_id)
{
  NixExecStageStoreInterface *iface;

  g_return_val_if_fail (NIX_EXEC_IS_STAGE_STORE (self), NULL);
  g_return_val_if_fail (stage_id != NULL, NULL);

  iface = NIX_EXEC_STAGE_STORE_GET_IFACE (self);
  g_return_val_if_fail (iface->lookup != NULL, NULL);

  return iface->lookup (self, stage_id);
}
