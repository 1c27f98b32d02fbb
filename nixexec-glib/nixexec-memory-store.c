/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-memory-store.h"
#include "nixexec-stage-store.h"

/**
 * NixExecMemoryStore:
 *
 * A [iface@NixExec.StageStore] that keeps its stages in memory, in the
 * order they were added, at most one per id.
 *
 * It is also a [iface@Gio.ListModel] of [class@NixExec.Stage], so a user
 * interface can show it directly: [method@NixExec.MemoryStore.add] and
 * [method@NixExec.MemoryStore.remove] emit
 * [signal@Gio.ListModel::items-changed].
 *
 * Since: 1.0
 */

struct _NixExecMemoryStore
{
  GObject    parent_instance;

  /* Owned references to NixExecStage, in insertion order; ids are unique. */
  GPtrArray *stages;
};

static void nix_exec_memory_store_list_model_init (GListModelInterface *iface);
static void nix_exec_memory_store_stage_store_init (NixExecStageStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NixExecMemoryStore, nix_exec_memory_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      nix_exec_memory_store_list_model_init)
                               G_IMPLEMENT_INTERFACE (NIX_EXEC_TYPE_STAGE_STORE,
                                                      nix_exec_memory_store_stage_store_init))

enum {
  PROP_0,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean
find_stage (NixExecMemoryStore *self,
            const char         *stage_id,
            guint              *out_position)
{
  for (guint i = 0; i < self->stages->len; i++)
    {
      NixExecStage *stage = g_ptr_array_index (self->stages, i);

      if (g_str_equal (nix_exec_stage_get_id (stage), stage_id))
        {
          *out_position = i;
          return TRUE;
        }
    }
  return FALSE;
}

static GType
nix_exec_memory_store_get_item_type (GListModel *model)
{
  return NIX_EXEC_TYPE_STAGE;
}

static guint
nix_exec_memory_store_get_n_items (GListModel *model)
{
  NixExecMemoryStore *self = NIX_EXEC_MEMORY_STORE (model);

  return self->stages->len;
}

static gpointer
nix_exec_memory_store_get_item (GListModel *model,
                                guint       position)
{
  NixExecMemoryStore *self = NIX_EXEC_MEMORY_STORE (model);

  if (position >= self->stages->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->stages, position));
}

static void
nix_exec_memory_store_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = nix_exec_memory_store_get_item_type;
  iface->get_n_items = nix_exec_memory_store_get_n_items;
  iface->get_item = nix_exec_memory_store_get_item;
}

static GPtrArray *
nix_exec_memory_store_list_stages (NixExecStageStore *store)
{
  NixExecMemoryStore *self = NIX_EXEC_MEMORY_STORE (store);
  GPtrArray *stages = g_ptr_array_new_full (self->stages->len, g_object_unref);

  for (guint i = 0; i < self->stages->len; i++)
    g_ptr_array_add (stages, g_object_ref (g_ptr_array_index (self->stages, i)));
  return stages;
}

static NixExecStage *
nix_exec_memory_store_lookup (NixExecStageStore *store,
                              const char        *stage_id)
{
  NixExecMemoryStore *self = NIX_EXEC_MEMORY_STORE (store);
  guint position;

  if (!find_stage (self, stage_id, &position))
    return NULL;
  return g_object_ref (g_ptr_array_index (self->stages, position));
}

static void
nix_exec_memory_store_stage_store_init (NixExecStageStoreInterface *iface)
{
  iface->list_stages = nix_exec_memory_store_list_stages;
  iface->lookup = nix_exec_memory_store_lookup;
}

static void
nix_exec_memory_store_finalize (GObject *object)
{
  NixExecMemoryStore *self = NIX_EXEC_MEMORY_STORE (object);

  /* Stages hold nothing that leads back here, so there is no cycle for a
   * dispose to break; they are dropped with the array. */
  g_clear_pointer (&self->stages, g_ptr_array_unref);

  G_OBJECT_CLASS (nix_exec_memory_store_parent_class)->finalize (object);
}

static void
nix_exec_memory_store_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  NixExecMemoryStore *self = NIX_EXEC_MEMORY_STORE (object);

  switch (prop_id)
    {
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->stages->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_memory_store_class_init (NixExecMemoryStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = nix_exec_memory_store_finalize;
  object_class->get_property = nix_exec_memory_store_get_property;

  /**
   * NixExecMemoryStore:n-items:
   *
   * The number of stages in the store, as
   * [method@Gio.ListModel.get_n_items] returns.
   *
   * Since: 1.0
   */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
nix_exec_memory_store_init (NixExecMemoryStore *self)
{
  self->stages = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * nix_exec_memory_store_new:
 *
 * Creates an empty memory store.
 *
 * Returns: (transfer full): a new [class@NixExec.MemoryStore]
 *
 * Since: 1.0
 */
NixExecMemoryStore *
nix_exec_memory_store_new (void)
{
  return g_object_new (NIX_EXEC_TYPE_MEMORY_STORE, NULL);
}

/**
 * nix_exec_memory_store_add:
 * @self: a [class@NixExec.MemoryStore]
 * @stage: (transfer none): the stage to add
 *
 * Adds @stage at the end of the store. If the store already has a stage
 * with @stage's id, @stage takes its place and position instead; adding
 * the very stage that is already there changes nothing.
 *
 * Since: 1.0
 */
void
nix_exec_memory_store_add (NixExecMemoryStore *self,
                           NixExecStage       *stage)
{
  guint position;

  g_return_if_fail (NIX_EXEC_IS_MEMORY_STORE (self));
  g_return_if_fail (NIX_EXEC_IS_STAGE (stage));

  if (find_stage (self, nix_exec_stage_get_id (stage), &position))
    {
      gpointer *slot = &g_ptr_array_index (self->stages, position);

      if (*slot == (gpointer) stage)
        return;

      /* Take the new reference before dropping the old one, in case the
       * old stage's last reference is what keeps @stage alive. */
      g_object_ref (stage);
      g_object_unref (*slot);
      *slot = stage;
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
      return;
    }

  g_ptr_array_add (self->stages, g_object_ref (stage));
  g_list_model_items_changed (G_LIST_MODEL (self), self->stages->len - 1, 0, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

/**
 * nix_exec_memory_store_remove:
 * @self: a [class@NixExec.MemoryStore]
 * @stage_id: the id of the stage to remove
 *
 * Removes the stage whose id is @stage_id, if there is one. The stages
 * after it keep their order.
 *
 * Returns: %TRUE if a stage was removed
 *
 * Since: 1.0
 */
gboolean
nix_exec_memory_store_remove (NixExecMemoryStore *self,
                              const char         *stage_id)
{
  guint position;

  g_return_val_if_fail (NIX_EXEC_IS_MEMORY_STORE (self), FALSE);
  g_return_val_if_fail (stage_id != NULL, FALSE);

  if (!find_stage (self, stage_id, &position))
    return FALSE;

  g_ptr_array_remove_index (self->stages, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  return TRUE;
}
