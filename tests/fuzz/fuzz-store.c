/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store loader, through NixExecFileStore's public API only: the input
 * is written to a store.json, which is loaded; every stage it lists can be
 * looked up by its id, the list model agrees with the list, and a reload of
 * the same file gives the same stages.
 *
 * Input: the file's bytes.
 */
#include "fuzz-util.h"
#include "nixexec-glib.h"

static void
check_stages (NixExecFileStore *store,
              GPtrArray        *stages)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, stages->len);
  for (guint i = 0; i < stages->len; i++)
    {
      NixExecStage *stage = g_ptr_array_index (stages, i);
      g_autoptr(NixExecStage) found = NULL;
      g_autoptr(NixExecStage) item = NULL;
      g_autofree char *effects = NULL;
      const char *id = nix_exec_stage_get_id (stage);

      g_assert_nonnull (id);
      g_assert_cmpstr (id, !=, "");
      g_assert_true (g_hash_table_add (ids, (gpointer) id));
      g_assert_nonnull (nix_exec_stage_get_code (stage));
      g_assert_nonnull (nix_exec_stage_get_language (stage));
      g_assert_nonnull (nix_exec_stage_get_effects (stage));
      effects = nix_exec_effect_set_to_string (nix_exec_stage_get_effects (stage));
      g_assert_nonnull (effects);

      found = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), id);
      g_assert_nonnull (found);
      g_assert_cmpstr (nix_exec_stage_get_id (found), ==, id);

      item = g_list_model_get_item (G_LIST_MODEL (store), i);
      g_assert_nonnull (item);
      g_assert_cmpstr (nix_exec_stage_get_id (item), ==, id);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *path = nix_exec_fuzz_path ("store.json");
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(GPtrArray) stages = NULL;
  g_autoptr(GPtrArray) reloaded = NULL;
  g_autoptr(GError) error = NULL;

  nix_exec_fuzz_write (path, data, size);

  store = nix_exec_file_store_new (path, &error);
  if (store == NULL)
    {
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  g_assert_no_error (error);

  stages = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (store));
  g_assert_nonnull (stages);
  check_stages (store, stages);
  g_assert_null (nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "no such stage \x01"));

  g_assert_true (nix_exec_file_store_reload (store, &error));
  g_assert_no_error (error);
  reloaded = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (store));
  g_assert_cmpuint (reloaded->len, ==, stages->len);
  for (guint i = 0; i < stages->len; i++)
    g_assert_cmpstr (nix_exec_stage_get_id (g_ptr_array_index (reloaded, i)), ==,
                     nix_exec_stage_get_id (g_ptr_array_index (stages, i)));
  check_stages (store, reloaded);
  return 0;
}
