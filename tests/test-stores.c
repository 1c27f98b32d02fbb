/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nixexec-glib.h"
#include "nixexec-test-util.h"

/* Stages */

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  guint *count = user_data;

  (*count)++;
}

static void
test_stage_properties (void)
{
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
  g_autoptr(NixExecStage) stage = NULL;
  g_autoptr(NixExecEffectSet) got_effects = NULL;
  g_autofree char *id = NULL;
  g_autofree char *code = NULL;
  g_autofree char *language = NULL;
  g_autofree char *name = NULL;

  nix_exec_effect_set_add (effects, NIX_EXEC_EFFECT_KIND_NETWORK);
  nix_exec_effect_set_add_fs_read (effects, "/data");

  stage = nix_exec_stage_new ("stage-1", "def execute(x):\n    return x\n", "python", effects);
  g_assert_nonnull (stage);
  g_assert_cmpstr (nix_exec_stage_get_id (stage), ==, "stage-1");
  g_assert_cmpstr (nix_exec_stage_get_code (stage), ==, "def execute(x):\n    return x\n");
  g_assert_cmpstr (nix_exec_stage_get_language (stage), ==, "python");
  g_assert_null (nix_exec_stage_get_name (stage));
  g_assert_true (nix_exec_effect_set_equal (nix_exec_stage_get_effects (stage), effects));

  g_object_get (stage,
                "id", &id,
                "code", &code,
                "language", &language,
                "effects", &got_effects,
                "name", &name,
                NULL);
  g_assert_cmpstr (id, ==, "stage-1");
  g_assert_cmpstr (code, ==, "def execute(x):\n    return x\n");
  g_assert_cmpstr (language, ==, "python");
  g_assert_true (got_effects == nix_exec_stage_get_effects (stage));
  g_assert_null (name);

  /* The stage keeps its own copy: changing the caller's set later does not
   * widen what the stage declared. */
  nix_exec_effect_set_add (effects, NIX_EXEC_EFFECT_KIND_PROCESS);
  g_assert_false (nix_exec_effect_set_contains (nix_exec_stage_get_effects (stage),
                                                NIX_EXEC_EFFECT_KIND_PROCESS));
}

static void
test_stage_default_effects (void)
{
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("s", "", "bash", NULL);
  g_autoptr(NixExecStage) from_new = NULL;
  g_autoptr(NixExecEffectSet) unknown = nix_exec_effect_set_new_unknown ();

  /* Empty code and any language tag are the executor's business. */
  g_assert_cmpstr (nix_exec_stage_get_code (stage), ==, "");
  g_assert_nonnull (nix_exec_stage_get_effects (stage));
  g_assert_true (nix_exec_effect_set_equal (nix_exec_stage_get_effects (stage), unknown));

  from_new = g_object_new (NIX_EXEC_TYPE_STAGE,
                           "id", "t",
                           "code", "x",
                           "language", "klingon",
                           "name", "Named",
                           NULL);
  g_assert_cmpstr (nix_exec_stage_get_language (from_new), ==, "klingon");
  g_assert_cmpstr (nix_exec_stage_get_name (from_new), ==, "Named");
  g_assert_true (nix_exec_effect_set_equal (nix_exec_stage_get_effects (from_new), unknown));
}

static void
test_stage_name_notify (void)
{
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("s", "x", "bash", NULL);
  guint notified = 0;

  g_signal_connect (stage, "notify::name", G_CALLBACK (count_notify), &notified);

  nix_exec_stage_set_name (stage, "first");
  g_assert_cmpstr (nix_exec_stage_get_name (stage), ==, "first");
  g_assert_cmpuint (notified, ==, 1);

  nix_exec_stage_set_name (stage, "first");
  g_assert_cmpuint (notified, ==, 1);

  g_object_set (stage, "name", "first", NULL);
  g_assert_cmpuint (notified, ==, 1);

  g_object_set (stage, "name", "second", NULL);
  g_assert_cmpstr (nix_exec_stage_get_name (stage), ==, "second");
  g_assert_cmpuint (notified, ==, 2);

  nix_exec_stage_set_name (stage, NULL);
  g_assert_null (nix_exec_stage_get_name (stage));
  g_assert_cmpuint (notified, ==, 3);

  nix_exec_stage_set_name (stage, NULL);
  g_assert_cmpuint (notified, ==, 3);

  /* The empty string is a name, distinct from none. */
  nix_exec_stage_set_name (stage, "");
  g_assert_cmpstr (nix_exec_stage_get_name (stage), ==, "");
  g_assert_cmpuint (notified, ==, 4);
}

static void
stage_new_null_id (gconstpointer data)
{
  g_autoptr(NixExecStage) stage = nix_exec_stage_new (NULL, "x", "bash", NULL);
}

static void
stage_new_null_code (gconstpointer data)
{
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("s", NULL, "bash", NULL);
}

static void
stage_new_null_language (gconstpointer data)
{
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("s", "x", NULL, NULL);
}

static void
stage_object_new_without_id (gconstpointer data)
{
  g_autoptr(NixExecStage) stage = g_object_new (NIX_EXEC_TYPE_STAGE, "code", "x", "language", "bash", NULL);
}

static const NixExecTestCritical critical_cases[] = {
  { "new-null-id", stage_new_null_id, NULL, "*CRITICAL*id != NULL*" },
  { "new-null-code", stage_new_null_code, NULL, "*CRITICAL*code != NULL*" },
  { "new-null-language", stage_new_null_language, NULL, "*CRITICAL*language != NULL*" },
  { "object-new-without-id", stage_object_new_without_id, NULL, "*CRITICAL*needs an id*" },
};

/* The memory store, with a recorder of what it tells its observers */

typedef struct
{
  guint position;
  guint removed;
  guint added;
  guint n_items;  /* what the model said while the signal ran */
} Change;

typedef struct
{
  NixExecMemoryStore *store;
  GArray             *changes;     /* of Change */
  guint               n_items_notified;
  NixExecStage       *a;
  NixExecStage       *b;
  NixExecStage       *c;
} StoreFixture;

static void
record_items_changed (GListModel *model,
                      guint       position,
                      guint       removed,
                      guint       added,
                      gpointer    user_data)
{
  StoreFixture *fixture = user_data;
  Change change = { position, removed, added, g_list_model_get_n_items (model) };

  g_array_append_val (fixture->changes, change);
}

static void
store_fixture_set_up (StoreFixture  *fixture,
                      gconstpointer  data)
{
  fixture->store = nix_exec_memory_store_new ();
  fixture->changes = g_array_new (FALSE, TRUE, sizeof (Change));
  fixture->n_items_notified = 0;
  g_signal_connect (fixture->store, "items-changed", G_CALLBACK (record_items_changed), fixture);
  g_signal_connect (fixture->store, "notify::n-items", G_CALLBACK (count_notify),
                    &fixture->n_items_notified);

  fixture->a = nix_exec_stage_new ("a", "code a", "python", NULL);
  fixture->b = nix_exec_stage_new ("b", "code b", "bash", NULL);
  fixture->c = nix_exec_stage_new ("c", "code c", "javascript", NULL);
}

static void
store_fixture_tear_down (StoreFixture  *fixture,
                         gconstpointer  data)
{
  g_clear_object (&fixture->store);
  g_clear_pointer (&fixture->changes, g_array_unref);
  g_clear_object (&fixture->a);
  g_clear_object (&fixture->b);
  g_clear_object (&fixture->c);
}

static void
assert_changes (StoreFixture *fixture,
                const Change *expected,
                guint         n_expected)
{
  g_assert_cmpuint (fixture->changes->len, ==, n_expected);
  for (guint i = 0; i < n_expected; i++)
    {
      const Change *got = &g_array_index (fixture->changes, Change, i);

      g_assert_cmpuint (got->position, ==, expected[i].position);
      g_assert_cmpuint (got->removed, ==, expected[i].removed);
      g_assert_cmpuint (got->added, ==, expected[i].added);
      /* Observers see the new state already. */
      g_assert_cmpuint (got->n_items, ==, expected[i].n_items);
    }
  g_array_set_size (fixture->changes, 0);
}

static void
assert_ids (GListModel  *model,
            const char **ids)
{
  guint n = g_strv_length ((char **) ids);

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NixExecStage) stage = g_list_model_get_item (model, i);

      g_assert_nonnull (stage);
      g_assert_cmpstr (nix_exec_stage_get_id (stage), ==, ids[i]);
    }
  g_assert_null (g_list_model_get_item (model, n));
  g_assert_null (g_list_model_get_item (model, G_MAXUINT));
}

static void
fill_abc (StoreFixture *fixture)
{
  nix_exec_memory_store_add (fixture->store, fixture->a);
  nix_exec_memory_store_add (fixture->store, fixture->b);
  nix_exec_memory_store_add (fixture->store, fixture->c);
  g_array_set_size (fixture->changes, 0);
  fixture->n_items_notified = 0;
}

static void
test_memory_empty (StoreFixture  *fixture,
                   gconstpointer  data)
{
  GListModel *model = G_LIST_MODEL (fixture->store);
  g_autoptr(GPtrArray) stages = NULL;
  guint n_items = G_MAXUINT;
  const char *none[] = { NULL };

  g_assert_true (NIX_EXEC_IS_STAGE_STORE (fixture->store));
  g_assert_true (g_list_model_get_item_type (model) == NIX_EXEC_TYPE_STAGE);
  assert_ids (model, none);
  g_object_get (fixture->store, "n-items", &n_items, NULL);
  g_assert_cmpuint (n_items, ==, 0);

  stages = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (fixture->store));
  g_assert_nonnull (stages);
  g_assert_cmpuint (stages->len, ==, 0);
  g_assert_null (nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (fixture->store), "a"));
  g_assert_false (nix_exec_memory_store_remove (fixture->store, "a"));
  g_assert_cmpuint (fixture->changes->len, ==, 0);
}

static void
test_memory_add (StoreFixture  *fixture,
                 gconstpointer  data)
{
  static const Change expected[] = { { 0, 0, 1, 1 }, { 1, 0, 1, 2 }, { 2, 0, 1, 3 } };
  const char *ids[] = { "a", "b", "c", NULL };
  guint n_items = 0;
  g_autoptr(NixExecStage) first = NULL;

  nix_exec_memory_store_add (fixture->store, fixture->a);
  nix_exec_memory_store_add (fixture->store, fixture->b);
  nix_exec_memory_store_add (fixture->store, fixture->c);

  assert_changes (fixture, expected, G_N_ELEMENTS (expected));
  g_assert_cmpuint (fixture->n_items_notified, ==, 3);
  assert_ids (G_LIST_MODEL (fixture->store), ids);
  g_object_get (fixture->store, "n-items", &n_items, NULL);
  g_assert_cmpuint (n_items, ==, 3);

  /* Items are the very stages added, with a reference for the caller. */
  first = g_list_model_get_item (G_LIST_MODEL (fixture->store), 0);
  g_assert_true (first == fixture->a);
}

static void
test_memory_replace (StoreFixture  *fixture,
                     gconstpointer  data)
{
  static const Change expected[] = { { 1, 1, 1, 3 } };
  g_autoptr(NixExecStage) b2 = nix_exec_stage_new ("b", "new code b", "python", NULL);
  g_autoptr(NixExecStage) item = NULL;
  const char *ids[] = { "a", "b", "c", NULL };

  fill_abc (fixture);

  nix_exec_memory_store_add (fixture->store, b2);
  assert_changes (fixture, expected, G_N_ELEMENTS (expected));
  g_assert_cmpuint (fixture->n_items_notified, ==, 0);
  assert_ids (G_LIST_MODEL (fixture->store), ids);
  item = g_list_model_get_item (G_LIST_MODEL (fixture->store), 1);
  g_assert_true (item == b2);
  g_assert_cmpstr (nix_exec_stage_get_code (item), ==, "new code b");

  /* Adding the stage that is already there changes nothing. */
  nix_exec_memory_store_add (fixture->store, b2);
  g_assert_cmpuint (fixture->changes->len, ==, 0);
  g_assert_cmpuint (fixture->n_items_notified, ==, 0);
}

static void
test_memory_replace_last_ref (StoreFixture  *fixture,
                              gconstpointer  data)
{
  static const Change expected[] = { { 0, 1, 1, 3 } };
  NixExecStage *replacement = nix_exec_stage_new ("a", "other", "bash", NULL);
  g_autoptr(NixExecStage) item = NULL;

  fill_abc (fixture);

  /* The store holds the only reference on the replacement afterwards. */
  nix_exec_memory_store_add (fixture->store, replacement);
  g_object_unref (replacement);
  assert_changes (fixture, expected, G_N_ELEMENTS (expected));
  item = g_list_model_get_item (G_LIST_MODEL (fixture->store), 0);
  g_assert_cmpstr (nix_exec_stage_get_code (item), ==, "other");
}

static void
test_memory_remove (StoreFixture  *fixture,
                    gconstpointer  data)
{
  static const Change first[] = { { 0, 1, 0, 2 } };
  static const Change last[] = { { 1, 1, 0, 1 } };
  static const Change only[] = { { 0, 1, 0, 0 } };
  const char *after_first[] = { "b", "c", NULL };
  const char *after_last[] = { "b", NULL };
  const char *none[] = { NULL };
  const char *again[] = { "c", "a", NULL };

  fill_abc (fixture);

  /* The stages after the removed one keep their order. */
  g_assert_true (nix_exec_memory_store_remove (fixture->store, "a"));
  assert_changes (fixture, first, G_N_ELEMENTS (first));
  g_assert_cmpuint (fixture->n_items_notified, ==, 1);
  assert_ids (G_LIST_MODEL (fixture->store), after_first);

  g_assert_false (nix_exec_memory_store_remove (fixture->store, "a"));
  g_assert_false (nix_exec_memory_store_remove (fixture->store, "missing"));
  g_assert_cmpuint (fixture->changes->len, ==, 0);
  g_assert_cmpuint (fixture->n_items_notified, ==, 1);

  g_assert_true (nix_exec_memory_store_remove (fixture->store, "c"));
  assert_changes (fixture, last, G_N_ELEMENTS (last));
  assert_ids (G_LIST_MODEL (fixture->store), after_last);

  g_assert_true (nix_exec_memory_store_remove (fixture->store, "b"));
  assert_changes (fixture, only, G_N_ELEMENTS (only));
  assert_ids (G_LIST_MODEL (fixture->store), none);
  g_assert_cmpuint (fixture->n_items_notified, ==, 3);

  /* A removed id can come back, at the end. */
  nix_exec_memory_store_add (fixture->store, fixture->c);
  nix_exec_memory_store_add (fixture->store, fixture->a);
  assert_ids (G_LIST_MODEL (fixture->store), again);
}

static void
test_memory_lookup (StoreFixture  *fixture,
                    gconstpointer  data)
{
  NixExecStageStore *store;
  g_autoptr(NixExecStage) found = NULL;
  g_autoptr(NixExecStage) b2 = nix_exec_stage_new ("b", "b2", "bash", NULL);
  g_autoptr(NixExecStage) found_b2 = NULL;

  fill_abc (fixture);
  store = NIX_EXEC_STAGE_STORE (fixture->store);

  found = nix_exec_stage_store_lookup (store, "c");
  g_assert_true (found == fixture->c);
  /* Returned with a reference of its own. */
  g_assert_cmpuint (G_OBJECT (found)->ref_count, ==, 3);

  g_assert_null (nix_exec_stage_store_lookup (store, "missing"));
  g_assert_null (nix_exec_stage_store_lookup (store, ""));
  g_assert_null (nix_exec_stage_store_lookup (store, "A"));

  nix_exec_memory_store_add (fixture->store, b2);
  found_b2 = nix_exec_stage_store_lookup (store, "b");
  g_assert_true (found_b2 == b2);
}

static void
test_memory_list_stages (StoreFixture  *fixture,
                         gconstpointer  data)
{
  g_autoptr(NixExecStage) b2 = nix_exec_stage_new ("b", "b2", "bash", NULL);
  g_autoptr(GPtrArray) stages = NULL;
  g_autoptr(GPtrArray) again = NULL;

  fill_abc (fixture);
  nix_exec_memory_store_add (fixture->store, b2);

  g_assert_cmpuint (G_OBJECT (fixture->a)->ref_count, ==, 2);
  stages = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (fixture->store));
  g_assert_cmpuint (stages->len, ==, 3);
  g_assert_true (g_ptr_array_index (stages, 0) == fixture->a);
  g_assert_true (g_ptr_array_index (stages, 1) == b2);
  g_assert_true (g_ptr_array_index (stages, 2) == fixture->c);

  /* The array holds references of its own and drops them when freed. */
  g_assert_cmpuint (G_OBJECT (fixture->a)->ref_count, ==, 3);
  g_clear_pointer (&stages, g_ptr_array_unref);
  g_assert_cmpuint (G_OBJECT (fixture->a)->ref_count, ==, 2);

  /* A new array each time, unaffected by later changes to the store. */
  again = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (fixture->store));
  g_assert_true (nix_exec_memory_store_remove (fixture->store, "a"));
  g_assert_cmpuint (again->len, ==, 3);
  g_assert_true (g_ptr_array_index (again, 0) == fixture->a);
}

/* A store that implements only list_stages, to reach the default lookup. */

#define TEST_TYPE_LIST_STORE (test_list_store_get_type ())
G_DECLARE_FINAL_TYPE (TestListStore, test_list_store, TEST, LIST_STORE, GObject)

struct _TestListStore
{
  GObject    parent_instance;
  GPtrArray *stages;
};

static GPtrArray *
test_list_store_list_stages (NixExecStageStore *store)
{
  TestListStore *self = TEST_LIST_STORE (store);

  GPtrArray *stages = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < self->stages->len; i++)
    g_ptr_array_add (stages, g_object_ref (g_ptr_array_index (self->stages, i)));
  return stages;
}

static void
test_list_store_stage_store_init (NixExecStageStoreInterface *iface)
{
  iface->list_stages = test_list_store_list_stages;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestListStore, test_list_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (NIX_EXEC_TYPE_STAGE_STORE,
                                                      test_list_store_stage_store_init))

static void
test_list_store_finalize (GObject *object)
{
  TestListStore *self = TEST_LIST_STORE (object);

  g_clear_pointer (&self->stages, g_ptr_array_unref);
  G_OBJECT_CLASS (test_list_store_parent_class)->finalize (object);
}

static void
test_list_store_class_init (TestListStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_list_store_finalize;
}

static void
test_list_store_init (TestListStore *self)
{
  self->stages = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
test_interface_default_lookup (void)
{
  g_autoptr(TestListStore) store = g_object_new (TEST_TYPE_LIST_STORE, NULL);
  g_autoptr(NixExecStage) found = NULL;

  g_ptr_array_add (store->stages, nix_exec_stage_new ("x", "1", "bash", NULL));
  g_ptr_array_add (store->stages, nix_exec_stage_new ("y", "2", "bash", NULL));

  found = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "y");
  g_assert_nonnull (found);
  g_assert_true (found == g_ptr_array_index (store->stages, 1));
  g_assert_null (nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "z"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_summary ("NixExecStage, the NixExecStageStore interface and NixExecMemoryStore");

  g_test_add_func ("/nixexec/stores/stage/properties", test_stage_properties);
  g_test_add_func ("/nixexec/stores/stage/default-effects", test_stage_default_effects);
  g_test_add_func ("/nixexec/stores/stage/name-notify", test_stage_name_notify);
  nix_exec_test_add_critical ("/nixexec/stores/stage/critical", critical_cases,
                              G_N_ELEMENTS (critical_cases));

#define ADD_STORE_TEST(path, func) \
  g_test_add ("/nixexec/stores/memory/" path, StoreFixture, NULL, \
              store_fixture_set_up, func, store_fixture_tear_down)

  ADD_STORE_TEST ("empty", test_memory_empty);
  ADD_STORE_TEST ("add", test_memory_add);
  ADD_STORE_TEST ("replace", test_memory_replace);
  ADD_STORE_TEST ("replace-last-ref", test_memory_replace_last_ref);
  ADD_STORE_TEST ("remove", test_memory_remove);
  ADD_STORE_TEST ("lookup", test_memory_lookup);
  ADD_STORE_TEST ("list-stages", test_memory_list_stages);

#undef ADD_STORE_TEST

  g_test_add_func ("/nixexec/stores/interface/default-lookup", test_interface_default_lookup);

  return g_test_run ();
}
