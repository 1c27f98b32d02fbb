/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NixExecFileStore: the reference's store.json layout, unknown fields kept,
 * corrupt files refused and left alone, atomic saves, writers in threads
 * and processes serialised, items-changed, and an executor built from a
 * file store (real nix).
 *
 * Run as `test-file-store --writer PATH PREFIX COUNT`, the binary is one of
 * the concurrent writers of the process test instead; as
 * `test-file-store --saver PATH`, a writer saving until it is killed.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "nixexec-json-private.h"
#include "nixexec-test-util.h"

/* A store as the reference writes it (serde_json's pretty printer), with
 * members the file store does not know at every level. */
static const char reference_store[] =
  "{\n"
  "  \"version\": 3,\n"
  "  \"meta\": {\n"
  "    \"created\": \"2024-01-01\",\n"
  "    \"nested\": {\n"
  "      \"values\": [\n"
  "        1,\n"
  "        2.5,\n"
  "        0.1,\n"
  "        true,\n"
  "        null,\n"
  "        \"na\xc3\xafve \xe2\x9c\x93 \\\"q\\\" \\\\ ctl\\u001f\"\n"
  "      ],\n"
  "      \"empty_object\": {},\n"
  "      \"empty_array\": []\n"
  "    }\n"
  "  },\n"
  "  \"stages\": [\n"
  "    {\n"
  "      \"id\": \"s-double\",\n"
  "      \"signature\": {\n"
  "        \"input\": {\n"
  "          \"Record\": [\n"
  "            [\n"
  "              \"x\",\n"
  "              \"Number\"\n"
  "            ]\n"
  "          ]\n"
  "        },\n"
  "        \"output\": \"Number\",\n"
  "        \"effects\": {\n"
  "          \"effects\": [\n"
  "            {\n"
  "              \"effect\": \"Pure\"\n"
  "            }\n"
  "          ]\n"
  "        },\n"
  "        \"implementation_hash\": \"abc123\"\n"
  "      },\n"
  "      \"lifecycle\": \"Active\",\n"
  "      \"implementation_code\": \"def execute(x):\\n    return 2 * x\\n\",\n"
  "      \"implementation_language\": \"python\",\n"
  "      \"name\": \"double\",\n"
  "      \"tags\": [\n"
  "        \"math\",\n"
  "        \"demo\"\n"
  "      ],\n"
  "      \"examples\": [\n"
  "        {\n"
  "          \"input\": 1,\n"
  "          \"output\": 2\n"
  "        }\n"
  "      ],\n"
  "      \"created_at\": 1700000000123456789\n"
  "    },\n"
  "    {\n"
  "      \"id\": \"s-doc\",\n"
  "      \"name\": \"a description, no code\",\n"
  "      \"signature\": {\n"
  "        \"input\": \"Text\",\n"
  "        \"output\": \"Text\"\n"
  "      },\n"
  "      \"lifecycle\": {\n"
  "        \"Deprecated\": {\n"
  "          \"successor_id\": \"s-double\"\n"
  "        }\n"
  "      }\n"
  "    },\n"
  "    {\n"
  "      \"id\": \"s-net\",\n"
  "      \"implementation_code\": \"execute() { echo 1; }\",\n"
  "      \"implementation_language\": \"bash\",\n"
  "      \"signature\": {\n"
  "        \"effects\": {\n"
  "          \"effects\": [\n"
  "            {\n"
  "              \"effect\": \"Network\"\n"
  "            },\n"
  "            {\n"
  "              \"effect\": \"FsRead\",\n"
  "              \"path\": \"/data\"\n"
  "            },\n"
  "            {\n"
  "              \"effect\": \"Cost\",\n"
  "              \"cents\": 5\n"
  "            }\n"
  "          ]\n"
  "        }\n"
  "      },\n"
  "      \"lifecycle\": \"Draft\",\n"
  "      \"score\": -0.0\n"
  "    }\n"
  "  ],\n"
  "  \"trailer\": {\n"
  "    \"checksum\": null\n"
  "  }\n"
  "}";

/* Helpers */

static void
write_file (const char *path,
            const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static char *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

/* The store file, read by the library's strict reader: what the store
 * writes must be one valid JSON text. */
static JsonNode *
read_json (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = read_file (path);
  JsonNode *node = nix_exec_json_read (contents, strlen (contents), &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static NixExecFileStore *
open_store (const char *path)
{
  g_autoptr(GError) error = NULL;
  NixExecFileStore *store = nix_exec_file_store_new (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
add_stage (NixExecFileStore *store,
           NixExecStage     *stage)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = nix_exec_file_store_add (store, stage, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
remove_stage (NixExecFileStore *store,
              const char       *stage_id)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = nix_exec_file_store_remove (store, stage_id, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
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
}

/* The member names of @object, in order, joined by commas. */
static char *
member_names (JsonObject *object)
{
  g_autoptr(GList) members = json_object_get_members (object);
  g_autoptr(GString) names = g_string_new (NULL);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      if (names->len > 0)
        g_string_append_c (names, ',');
      g_string_append (names, l->data);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static JsonObject *
stage_object (JsonNode   *root,
              const char *stage_id)
{
  JsonArray *stages = json_object_get_array_member (json_node_get_object (root), "stages");

  for (guint i = 0; i < json_array_get_length (stages); i++)
    {
      JsonObject *object = json_array_get_object_element (stages, i);

      if (g_str_equal (json_object_get_string_member (object, "id"), stage_id))
        return object;
    }
  g_assert_not_reached ();
  return NULL;
}

static void
assert_member_equal (JsonObject *expected,
                     JsonObject *got,
                     const char *member)
{
  JsonNode *a = json_object_get_member (expected, member);
  JsonNode *b = json_object_get_member (got, member);

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  if (!json_node_equal (a, b))
    {
      g_autofree char *a_text = nix_exec_test_to_json (a);
      g_autofree char *b_text = nix_exec_test_to_json (b);

      g_assert_cmpstr (a_text, ==, b_text);
    }
}

/* The names in @dir other than those in @allowed, comma-joined. */
static char *
unexpected_files (const char  *dir,
                  const char **allowed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
  g_autoptr(GString) extra = g_string_new (NULL);
  const char *name;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_strv_contains (allowed, name))
        g_string_append_printf (extra, "%s%s", extra->len > 0 ? "," : "", name);
    }
  return g_string_free (g_steal_pointer (&extra), FALSE);
}

/* Fixture: a private directory with a store path in it, and a recorder of
 * what a store tells its observers. */

typedef struct
{
  guint position;
  guint removed;
  guint added;
  guint n_items;  /* what the model said while the signal ran */
} Change;

typedef struct
{
  char   *dir;
  char   *path;
  GArray *changes;  /* of Change */
  guint   n_items_notified;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = nix_exec_test_make_tmpdir ("nixexec-file-store");
  fixture->path = g_build_filename (fixture->dir, "store.json", NULL);
  fixture->changes = g_array_new (FALSE, TRUE, sizeof (Change));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  nix_exec_test_rm_rf (fixture->dir);
  g_clear_pointer (&fixture->dir, g_free);
  g_clear_pointer (&fixture->path, g_free);
  g_clear_pointer (&fixture->changes, g_array_unref);
}

static void
record_items_changed (GListModel *model,
                      guint       position,
                      guint       removed,
                      guint       added,
                      gpointer    user_data)
{
  Fixture *fixture = user_data;
  Change change = { position, removed, added, g_list_model_get_n_items (model) };

  g_array_append_val (fixture->changes, change);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  Fixture *fixture = user_data;

  fixture->n_items_notified++;
}

static void
watch (Fixture          *fixture,
       NixExecFileStore *store)
{
  g_signal_connect (store, "items-changed", G_CALLBACK (record_items_changed), fixture);
  g_signal_connect (store, "notify::n-items", G_CALLBACK (count_notify), fixture);
}

static void
assert_changes (Fixture      *fixture,
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
      g_assert_cmpuint (got->n_items, ==, expected[i].n_items);
    }
  g_array_set_size (fixture->changes, 0);
}

/* Loading */

static void
test_load_reference (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) doubler = NULL;
  g_autoptr(NixExecStage) doc = NULL;
  g_autoptr(NixExecStage) net = NULL;
  g_autoptr(NixExecEffectSet) pure = nix_exec_effect_set_new_pure ();
  g_autoptr(NixExecEffectSet) unknown = nix_exec_effect_set_new_unknown ();
  g_autoptr(NixExecEffectSet) net_effects = NULL;
  g_autoptr(GPtrArray) stages = NULL;
  g_autofree char *path_property = NULL;
  const char *ids[] = { "s-double", "s-doc", "s-net", NULL };
  guint n_items = 0;

  write_file (fixture->path, reference_store);
  store = open_store (fixture->path);

  g_assert_true (NIX_EXEC_IS_STAGE_STORE (store));
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (store)) == NIX_EXEC_TYPE_STAGE);
  assert_ids (G_LIST_MODEL (store), ids);
  g_object_get (store, "n-items", &n_items, "path", &path_property, NULL);
  g_assert_cmpuint (n_items, ==, 3);
  g_assert_cmpstr (path_property, ==, fixture->path);
  g_assert_cmpstr (nix_exec_file_store_get_path (store), ==, fixture->path);

  doubler = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "s-double");
  g_assert_cmpstr (nix_exec_stage_get_name (doubler), ==, "double");
  g_assert_cmpstr (nix_exec_stage_get_code (doubler), ==, "def execute(x):\n    return 2 * x\n");
  g_assert_cmpstr (nix_exec_stage_get_language (doubler), ==, "python");
  g_assert_true (nix_exec_effect_set_equal (nix_exec_stage_get_effects (doubler), pure));

  /* No code, no language, no effects: listed, with empty code and language
   * and unknown effects. */
  doc = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "s-doc");
  g_assert_cmpstr (nix_exec_stage_get_name (doc), ==, "a description, no code");
  g_assert_cmpstr (nix_exec_stage_get_code (doc), ==, "");
  g_assert_cmpstr (nix_exec_stage_get_language (doc), ==, "");
  g_assert_true (nix_exec_effect_set_equal (nix_exec_stage_get_effects (doc), unknown));

  net = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "s-net");
  g_assert_null (nix_exec_stage_get_name (net));
  net_effects = nix_exec_effect_set_new_from_string (
    "{\"effects\":[{\"effect\":\"Network\"},{\"effect\":\"FsRead\",\"path\":\"/data\"},"
    "{\"effect\":\"Cost\",\"cents\":5}]}", NULL);
  g_assert_true (nix_exec_effect_set_equal (nix_exec_stage_get_effects (net), net_effects));

  g_assert_null (nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "missing"));
  stages = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (store));
  g_assert_cmpuint (stages->len, ==, 3);
  g_assert_true (g_ptr_array_index (stages, 0) == doubler);
}

static void
test_missing_file (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = open_store (fixture->path);
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("a", "x", "bash", NULL);
  const char *none[] = { NULL };
  const char *one[] = { "a", NULL };
  const char *allowed[] = { "store.json", "store.json.lock", NULL };
  g_autofree char *extra = NULL;
  struct stat st;

  assert_ids (G_LIST_MODEL (store), none);
  /* Opening does not create anything. */
  g_assert_false (g_file_test (fixture->path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fixture->dir, G_FILE_TEST_IS_DIR));

  add_stage (store, stage);
  assert_ids (G_LIST_MODEL (store), one);
  g_assert_cmpint (g_stat (fixture->path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);

  extra = unexpected_files (fixture->dir, allowed);
  g_assert_cmpstr (extra, ==, "");
}

static void
test_relative_path (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("a", "x", "bash", NULL);

  g_assert_cmpint (g_chdir (fixture->dir), ==, 0);
  store = open_store ("store.json");
  g_assert_cmpint (g_chdir (cwd), ==, 0);

  /* Made absolute when opened: a later chdir does not move the store. */
  g_assert_cmpstr (nix_exec_file_store_get_path (store), ==, fixture->path);
  add_stage (store, stage);
  g_assert_true (g_file_test (fixture->path, G_FILE_TEST_IS_REGULAR));
}

static void
test_initable_without_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecFileStore) store = NULL;

  store = g_initable_new (NIX_EXEC_TYPE_FILE_STORE, NULL, &error, NULL);
  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
new_null_path (gconstpointer data)
{
  g_autoptr(NixExecFileStore) store = nix_exec_file_store_new (NULL, NULL);
}

static void
add_empty_id (gconstpointer data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("", "x", "bash", NULL);
  g_autofree char *dir = nix_exec_test_make_tmpdir ("nixexec-file-store-empty-id");
  g_autofree char *path = g_build_filename (dir, "store.json", NULL);

  store = open_store (path);
  /* An empty id would make a file the store refuses to read back. */
  nix_exec_file_store_add (store, stage, NULL);
}

static const NixExecTestCritical critical_cases[] = {
  { "new-null-path", new_null_path, NULL, "*CRITICAL*path != NULL*" },
  { "add-empty-id", add_empty_id, NULL, "*CRITICAL*nix_exec_stage_get_id (stage) != '\\0'*" },
};

/* Saving keeps what the store does not own */

static void
test_round_trip (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecFileStore) again = NULL;
  g_autoptr(NixExecEffectSet) network = nix_exec_effect_set_new ();
  g_autoptr(NixExecStage) added = NULL;
  g_autoptr(NixExecStage) doubler = NULL;
  g_autoptr(JsonNode) before = nix_exec_test_json (reference_store);
  g_autoptr(JsonNode) after = NULL;
  g_autofree char *text = NULL;
  g_autofree char *before_names = NULL;
  g_autofree char *after_names = NULL;
  JsonObject *before_root = json_node_get_object (before);
  JsonObject *after_root;
  JsonObject *before_double;
  JsonObject *after_double;
  JsonObject *before_signature;
  JsonObject *after_signature;
  JsonObject *added_object;
  const char *ids[] = { "s-double", "s-doc", "s-new", NULL };
  const char *top_level[] = { "version", "meta", "trailer" };
  const char *double_unknown[] = { "lifecycle", "tags", "examples", "created_at" };

  write_file (fixture->path, reference_store);
  store = open_store (fixture->path);

  nix_exec_effect_set_add (network, NIX_EXEC_EFFECT_KIND_NETWORK);
  added = nix_exec_stage_new ("s-new", "console.log", "javascript", network);
  nix_exec_stage_set_name (added, "new one");
  add_stage (store, added);
  remove_stage (store, "s-net");

  /* Replace s-double with new code, a new name and other effects. */
  doubler = nix_exec_stage_new ("s-double", "def execute(x):\n    return x + x\n", "python3",
                                network);
  nix_exec_stage_set_name (doubler, "twice");
  add_stage (store, doubler);

  again = open_store (fixture->path);
  assert_ids (G_LIST_MODEL (again), ids);
  assert_ids (G_LIST_MODEL (store), ids);

  text = read_file (fixture->path);
  after = nix_exec_test_json (text);
  after_root = json_node_get_object (after);

  /* Top level: unknown members equal, and in their order. */
  for (guint i = 0; i < G_N_ELEMENTS (top_level); i++)
    assert_member_equal (before_root, after_root, top_level[i]);
  after_names = member_names (after_root);
  g_assert_cmpstr (after_names, ==, "version,meta,stages,trailer");
  /* Fractions are written back as they were, not as 0.10000000000000001. */
  g_assert_nonnull (strstr (text, "        0.1,\n"));
  g_assert_nonnull (strstr (text, "1700000000123456789"));
  g_assert_nonnull (strstr (text, "\"na\xc3\xafve \xe2\x9c\x93 \\\"q\\\" \\\\ ctl\\u001f\""));

  /* The replaced stage: owned members updated in place, the rest kept. */
  before_double = stage_object (before, "s-double");
  after_double = stage_object (after, "s-double");
  for (guint i = 0; i < G_N_ELEMENTS (double_unknown); i++)
    assert_member_equal (before_double, after_double, double_unknown[i]);
  g_free (before_names);
  before_names = member_names (before_double);
  g_free (after_names);
  after_names = member_names (after_double);
  g_assert_cmpstr (after_names, ==, before_names);
  g_assert_cmpstr (json_object_get_string_member (after_double, "name"), ==, "twice");
  g_assert_cmpstr (json_object_get_string_member (after_double, "implementation_code"), ==,
                   "def execute(x):\n    return x + x\n");
  g_assert_cmpstr (json_object_get_string_member (after_double, "implementation_language"), ==,
                   "python3");

  before_signature = json_object_get_object_member (before_double, "signature");
  after_signature = json_object_get_object_member (after_double, "signature");
  assert_member_equal (before_signature, after_signature, "input");
  assert_member_equal (before_signature, after_signature, "output");
  assert_member_equal (before_signature, after_signature, "implementation_hash");
  g_free (before_names);
  before_names = member_names (before_signature);
  g_free (after_names);
  after_names = member_names (after_signature);
  g_assert_cmpstr (after_names, ==, before_names);
  {
    g_autoptr(JsonNode) expected = nix_exec_effect_set_to_json (network);

    g_assert_true (json_node_equal (json_object_get_member (after_signature, "effects"), expected));
  }

  /* The stage nobody touched is exactly as it was. */
  g_assert_true (json_node_equal (json_array_get_element (json_object_get_array_member (before_root, "stages"), 1),
                                  json_array_get_element (json_object_get_array_member (after_root, "stages"), 1)));
  g_free (before_names);
  before_names = member_names (stage_object (before, "s-doc"));
  g_free (after_names);
  after_names = member_names (stage_object (after, "s-doc"));
  g_assert_cmpstr (after_names, ==, before_names);

  /* A new stage gets the members the store owns. */
  added_object = stage_object (after, "s-new");
  g_free (after_names);
  after_names = member_names (added_object);
  g_assert_cmpstr (after_names, ==, "id,name,implementation_code,implementation_language,signature");
}

/* Fails unless Python's own JSON reader takes the file, when there is a
 * python3: what the store writes is JSON for every reader. */
static void
assert_python_reads (const char *path)
{
  g_autofree char *python = g_find_program_in_path ("python3");
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = { NULL, "-c", "import json, sys; json.load(open(sys.argv[1], encoding='utf-8'))",
                         path, NULL };
  int status = 0;

  if (python == NULL)
    {
      g_test_message ("no python3: not checked with Python's json");
      return;
    }
  argv[0] = python;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, &err, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  if (error != NULL)
    g_test_message ("%s", err);
  g_assert_no_error (error);
}

/* Members the store does not own, at the top level, in stages and in
 * their signatures, survive an add, a replace and a remove: values, and
 * order, the extremes of the integer range included. */
static const char unknown_store[] =
  "{\n"
  "  \"format\": \"noether-store\",\n"
  "  \"stages\": [\n"
  "    {\n"
  "      \"id\": \"a\",\n"
  "      \"lifecycle\": \"Active\",\n"
  "      \"x-meta\": {\n"
  "        \"max\": 9223372036854775807,\n"
  "        \"min\": -9223372036854775808,\n"
  "        \"big\": 1e300,\n"
  "        \"zero\": -0.0,\n"
  "        \"text\": \"\\u00e9\\ud83d\\ude00 \\\"\\/\\b\\f\\n\\r\\t\\u007f\"\n"
  "      },\n"
  "      \"implementation_code\": \"echo a\",\n"
  "      \"implementation_language\": \"bash\",\n"
  "      \"signature\": {\n"
  "        \"input\": \"Any\",\n"
  "        \"effects\": {\"effects\": [{\"effect\": \"Pure\"}]},\n"
  "        \"extra\": [1, {\"deep\": null}, []]\n"
  "      }\n"
  "    },\n"
  "    {\"id\": \"b\", \"custom\": true},\n"
  "    {\"custom\": {\"c\": [false]}, \"id\": \"c\", \"name\": \"C\"}\n"
  "  ],\n"
  "  \"zz-after\": {\"kept\": [true, false, null]}\n"
  "}\n";

static void
test_unknown_fields_kept (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) added = nix_exec_stage_new ("d", "echo d", "bash", NULL);
  g_autoptr(NixExecStage) replaced = nix_exec_stage_new ("a", "echo A", "bash", NULL);
  g_autoptr(JsonNode) before = nix_exec_test_json (unknown_store);
  g_autoptr(JsonNode) after = NULL;
  g_autofree char *names = NULL;
  JsonObject *before_root = json_node_get_object (before);
  JsonObject *after_root;
  JsonObject *before_a;
  JsonObject *after_a;
  JsonObject *meta;
  JsonArray *stages;
  const char *ids[] = { "a", "c", "d", NULL };

  write_file (fixture->path, unknown_store);
  store = open_store (fixture->path);
  add_stage (store, added);
  remove_stage (store, "b");
  add_stage (store, replaced);
  assert_ids (G_LIST_MODEL (store), ids);

  after = read_json (fixture->path);
  after_root = json_node_get_object (after);
  names = member_names (after_root);
  g_assert_cmpstr (names, ==, "format,stages,zz-after");
  assert_member_equal (before_root, after_root, "format");
  assert_member_equal (before_root, after_root, "zz-after");

  before_a = stage_object (before, "a");
  after_a = stage_object (after, "a");
  g_free (names);
  names = member_names (after_a);
  g_assert_cmpstr (names, ==, "id,lifecycle,x-meta,implementation_code,implementation_language,signature");
  assert_member_equal (before_a, after_a, "lifecycle");
  assert_member_equal (before_a, after_a, "x-meta");
  g_assert_cmpstr (json_object_get_string_member (after_a, "implementation_code"), ==, "echo A");
  meta = json_object_get_object_member (after_a, "x-meta");
  g_assert_cmpint (json_object_get_int_member (meta, "max"), ==, G_MAXINT64);
  g_assert_cmpint (json_object_get_int_member (meta, "min"), ==, G_MININT64);
  g_assert_cmpfloat (json_object_get_double_member (meta, "big"), ==, 1e300);
  g_assert_true (signbit (json_object_get_double_member (meta, "zero")));
  g_assert_cmpstr (json_object_get_string_member (meta, "text"), ==,
                   "\xc3\xa9\xf0\x9f\x98\x80 \"/\b\f\n\r\t\x7f");
  {
    JsonObject *before_signature = json_object_get_object_member (before_a, "signature");
    JsonObject *after_signature = json_object_get_object_member (after_a, "signature");

    g_free (names);
    names = member_names (after_signature);
    g_assert_cmpstr (names, ==, "input,effects,extra");
    assert_member_equal (before_signature, after_signature, "input");
    assert_member_equal (before_signature, after_signature, "extra");
  }

  /* "c" untouched; "b" gone with its members; "d" new. */
  stages = json_object_get_array_member (after_root, "stages");
  g_assert_cmpuint (json_array_get_length (stages), ==, 3);
  g_assert_true (json_node_equal (json_array_get_element (json_object_get_array_member (before_root, "stages"), 2),
                                  json_array_get_element (stages, 1)));
  g_free (names);
  names = member_names (stage_object (after, "c"));
  g_assert_cmpstr (names, ==, "custom,id,name");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (stages, 2), "id"), ==, "d");

  assert_python_reads (fixture->path);
}

/* Adding and removing a stage gives back the reference's own bytes: the
 * store writes the reference's format, and nothing else moves. */
static void
test_byte_identical (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) temporary = nix_exec_stage_new ("tmp", "x", "bash", NULL);
  g_autoptr(NixExecStage) doc = NULL;
  g_autofree char *text = NULL;

  write_file (fixture->path, reference_store);
  store = open_store (fixture->path);

  add_stage (store, temporary);
  remove_stage (store, "tmp");
  text = read_file (fixture->path);
  g_assert_cmpstr (text, ==, reference_store);

  /* Re-adding a stage as it is read changes nothing either, not even the
   * members a stage without code or effects lacks. */
  doc = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "s-doc");
  add_stage (store, doc);
  g_free (text);
  text = read_file (fixture->path);
  g_assert_cmpstr (text, ==, reference_store);
}

/* A save that would not change the file does not write it. */
static void
test_unchanged_not_written (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) net = NULL;
  struct stat before;
  struct stat after;

  write_file (fixture->path, reference_store);
  store = open_store (fixture->path);
  g_assert_cmpint (g_stat (fixture->path, &before), ==, 0);

  net = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "s-net");
  add_stage (store, net);

  g_assert_cmpint (g_stat (fixture->path, &after), ==, 0);
  g_assert_cmpuint (before.st_ino, ==, after.st_ino);
}

static void
test_format (Fixture       *fixture,
             gconstpointer  data)
{
  static const char expected[] =
    "{\n"
    "  \"stages\": [\n"
    "    {\n"
    "      \"id\": \"a\",\n"
    "      \"name\": \"Alpha\",\n"
    "      \"implementation_code\": \"def execute(x):\\n    return \\\"\\t\\\"\\n\",\n"
    "      \"implementation_language\": \"python\",\n"
    "      \"signature\": {\n"
    "        \"effects\": {\n"
    "          \"effects\": [\n"
    "            {\n"
    "              \"effect\": \"Cost\",\n"
    "              \"cents\": 5\n"
    "            }\n"
    "          ]\n"
    "        }\n"
    "      }\n"
    "    },\n"
    "    {\n"
    "      \"id\": \"b\",\n"
    "      \"signature\": {\n"
    "        \"effects\": {\n"
    "          \"effects\": []\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  ]\n"
    "}";
  g_autoptr(NixExecFileStore) store = open_store (fixture->path);
  g_autoptr(NixExecEffectSet) cost = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) none = nix_exec_effect_set_new ();
  g_autoptr(NixExecStage) a = NULL;
  g_autoptr(NixExecStage) b = NULL;
  g_autofree char *text = NULL;

  nix_exec_effect_set_add_cost (cost, 5);
  a = nix_exec_stage_new ("a", "def execute(x):\n    return \"\t\"\n", "python", cost);
  nix_exec_stage_set_name (a, "Alpha");
  /* No code and no language: no such members. */
  b = nix_exec_stage_new ("b", "", "", none);
  add_stage (store, a);
  add_stage (store, b);

  text = read_file (fixture->path);
  g_assert_cmpstr (text, ==, expected);
}

/* Corrupt files */

typedef struct
{
  const char *name;
  const char *contents;
  const char *message;  /* a pattern the message matches, after the path */
  gsize       length;   /* of contents, when it holds a NUL byte; else 0 */
} CorruptCase;

static const CorruptCase corrupt_cases[] = {
  { "not-json", "{\"stages\": [ nope ]}", ": Expected a JSON value, found “n” at line 1, column 14" },
  { "truncated", "{\n  \"stages\": [\n    {\n      \"id\": \"a\",\n      \"implem",
    ": A string that is never closed at line 5, column 7" },
  { "truncated-after-value", "{\"stages\": [{\"id\": \"a\"}",
    ": Expected “,” or “]”, found the end of the text at line 1, column 24" },
  { "truncated-after-escape", "{\"stages\": [{\"id\": \"a\\", ": A string that is never closed at line 1, column 20" },
  { "too-many-closing", "{\"stages\": []}}", ": Text after the JSON value (“}”) at line 1, column 15" },
  { "empty", "", ": the file is empty" },
  { "blank", "  \n", ": the file is empty" },
  { "not-an-object", "[{\"id\": \"a\"}]", ": the file holds an array*" },
  { "no-stages", "{\"version\": 3}", ": there is no “stages” array" },
  { "stages-not-array", "{\"stages\": {\"a\": {}}}", ": “stages” is an object, expected an array" },
  { "stage-not-object", "{\"stages\": [\"a\"]}", ": stages[0] is a string*" },
  { "stage-without-id", "{\"stages\": [{\"id\": \"a\"}, {\"name\": \"b\"}]}", ": stages[1] has no “id”" },
  { "id-not-string", "{\"stages\": [{\"id\": 7}]}", ": stages[0]: “id” is a number*" },
  { "id-empty", "{\"stages\": [{\"id\": \"\"}]}", ": stages[0]: “id” is empty*" },
  { "duplicate-id", "{\"stages\": [{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"a\"}]}",
    ": stages[0] and stages[2] have the same id “a”" },
  { "code-not-string", "{\"stages\": [{\"id\": \"a\", \"implementation_code\": 1}]}",
    ": stage “a”: “implementation_code” is a number, expected a string" },
  { "signature-not-object", "{\"stages\": [{\"id\": \"a\", \"signature\": []}]}",
    ": stage “a”: “signature” is an array*" },
  { "bad-effects", "{\"stages\": [{\"id\": \"a\", \"signature\": {\"effects\": {\"effects\": [{\"effect\": \"Teleport\"}]}}}]}",
    ": stage “a”: signature.effects: *Teleport*" },
  { "not-utf8", "{\"stages\": [{\"id\": \"\xff\"}]}", ": Invalid UTF-8 in a string at line 1, column 21" },

  /* A second document, or a key twice in one object: JSON-GLib's parser
   * kept one of them, and the next save dropped the other. */
  { "concatenated", "{\"stages\": [{\"id\": \"a\"}]}\n{\"stages\": [{\"id\": \"b\"}]}\n",
    ": Text after the JSON value (“{”) at line 2, column 1" },
  { "concatenated-garbage", "{\"stages\": []} x", ": Text after the JSON value (“x”) at line 1, column 16" },
  { "duplicate-stages", "{\n  \"stages\": [{\"id\": \"a\"}],\n  \"stages\": [{\"id\": \"b\"}]\n}",
    ": The key “stages” appears twice in one object at line 3, column 3" },
  { "duplicate-key-in-stage",
    "{\"stages\": [{\"id\": \"a\", \"implementation_code\": \"x\", \"implementation_code\": \"y\"}]}",
    ": The key “implementation_code” appears twice in one object at line 1, column 53" },
  { "duplicate-id-key", "{\"stages\": [{\"id\": \"a\", \"id\": \"b\"}]}",
    ": The key “id” appears twice in one object at line 1, column 25" },
  { "duplicate-unknown-key", "{\"stages\": [{\"id\": \"a\", \"tags\": {\"k\": 1, \"k\": 2}}]}",
    ": The key “k” appears twice in one object at line 1, column 42" },

  /* Values JSON-GLib cannot hold unchanged. */
  { "huge-integer", "{\"stages\": [],\n \"big\": 123456789012345678901}",
    ": The integer 123456789012345678901 is outside the 64-bit range at line 2, column 9" },
  { "int64-max-plus-one", "{\"stages\": [{\"id\": \"a\", \"n\": 9223372036854775808}]}",
    ": The integer 9223372036854775808 is outside the 64-bit range at line 1, column 30" },
  { "int64-min-minus-one", "{\"stages\": [], \"n\": -9223372036854775809}",
    ": The integer -9223372036854775809 is outside the 64-bit range at line 1, column 21" },
  { "huge-double", "{\"stages\": [], \"big\": -1e999}", ": The number -1e999 is too large for a double at line 1, column 23" },
  { "nul-in-string", "{\"stages\": [{\"id\": \"a\", \"tag\": \"x\\\\u0000\\u0000\"}]}",
    ": A string holds U+0000 (\\u0000), which is not supported at line 1, column 41" },
  { "nul-in-code", "{\"stages\": [{\"id\": \"a\", \"implementation_code\": \"x\\u0000y\"}]}",
    ": A string holds U+0000 (\\u0000), which is not supported at line 1, column 50" },
  { "nul-in-key", "{\"stages\": [], \"a\\u0000b\": 1}",
    ": A string holds U+0000 (\\u0000), which is not supported at line 1, column 18" },
  { "raw-nul-byte", "{\"stages\": [{\"id\": \"a\0b\"}]}",
    ": A raw control character (U+0000) in a string; it must be escaped at line 1, column 22",
    sizeof "{\"stages\": [{\"id\": \"a\0b\"}]}" - 1 },
  { "lone-surrogate", "{\"stages\": [], \"s\": \"\\ud800\"}",
    ": A lone UTF-16 surrogate (\\uD800) in a string at line 1, column 22" },

  /* Not RFC 8259. */
  { "bom", "\xef\xbb\xbf{\"stages\": []}", ": Expected a JSON value, found the character U+FEFF at line 1, column 1" },
  { "trailing-comma", "{\"stages\": [{\"id\": \"a\"},]}", ": Expected a JSON value, found “]” at line 1, column 25" },
  { "single-quotes", "{'stages': []}", ": Expected a member name in double quotes, found “'” at line 1, column 2" },
  { "comment", "{\"stages\": [] /* none */}", ": Expected “,” or “}”, found “/” at line 1, column 15" },
  { "hex-number", "{\"stages\": [], \"n\": 0x10}", ": Expected “,” or “}”, found “x” at line 1, column 22" },
};

static void
assert_invalid_store (GError     *error,
                      const char *path,
                      const char *pattern)
{
  g_autofree char *expected = g_strconcat (path, pattern, NULL);

  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE);
  if (!g_pattern_match_simple (expected, error->message))
    g_error ("message “%s” does not match “%s”", error->message, expected);
}

static void
count_items_changed (GListModel *model,
                     guint       position,
                     guint       removed,
                     guint       added,
                     gpointer    user_data)
{
  guint *count = user_data;

  (*count)++;
}

static void
write_bytes (const char *path,
             const char *contents,
             gsize       length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

/* Fails unless the file at @path holds exactly @length bytes @contents. */
static void
assert_bytes (const char *path,
              const char *contents,
              gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize text_length = 0;

  g_file_get_contents (path, &text, &text_length, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (text, text_length, contents, length);
}

/* @contents is refused, with a message matching @pattern after the path,
 * by loading, and by add, remove and reload of a store that loaded before
 * the file went bad; and nothing writes the file or leaves a file beside
 * it. */
static void
assert_refused (const char *contents,
                gsize       length,
                const char *pattern)
{
  g_autofree char *dir = nix_exec_test_make_tmpdir ("nixexec-file-store-corrupt");
  g_autofree char *path = g_build_filename (dir, "store.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecFileStore) good = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("z", "x", "bash", NULL);
  g_autofree char *extra = NULL;
  const char *ids[] = { "s-double", "s-doc", "s-net", NULL };
  const char *allowed[] = { "store.json", "store.json.lock", NULL };
  guint n_changes = 0;
  struct stat before;
  struct stat after;

  write_bytes (path, contents, length);

  store = nix_exec_file_store_new (path, &error);
  g_assert_null (store);
  assert_invalid_store (error, path, pattern);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  assert_bytes (path, contents, length);

  /* A store that loaded before, when the file goes bad under it: adding,
   * removing and reloading fail, and neither the file nor the store's
   * stages change. */
  write_file (path, reference_store);
  good = open_store (path);
  g_signal_connect (good, "items-changed", G_CALLBACK (count_items_changed), &n_changes);
  write_bytes (path, contents, length);
  g_assert_cmpint (g_stat (path, &before), ==, 0);

  g_assert_false (nix_exec_file_store_add (good, stage, &error));
  assert_invalid_store (error, path, pattern);
  g_clear_error (&error);
  g_assert_false (nix_exec_file_store_remove (good, "s-doc", &error));
  assert_invalid_store (error, path, pattern);
  g_clear_error (&error);
  g_assert_false (nix_exec_file_store_remove (good, "z", &error));
  assert_invalid_store (error, path, pattern);
  g_clear_error (&error);
  g_assert_false (nix_exec_file_store_reload (good, &error));
  assert_invalid_store (error, path, pattern);
  g_clear_error (&error);

  assert_bytes (path, contents, length);
  g_assert_cmpint (g_stat (path, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);
  g_assert_cmpint (after.st_mtim.tv_sec, ==, before.st_mtim.tv_sec);
  g_assert_cmpint (after.st_mtim.tv_nsec, ==, before.st_mtim.tv_nsec);
  assert_ids (G_LIST_MODEL (good), ids);
  g_assert_cmpuint (n_changes, ==, 0);
  extra = unexpected_files (dir, allowed);
  g_assert_cmpstr (extra, ==, "");

  nix_exec_test_rm_rf (dir);
}

static void
test_corrupt (gconstpointer data)
{
  const CorruptCase *c = data;

  assert_refused (c->contents, c->length != 0 ? c->length : strlen (c->contents), c->message);
}

/* "[[[[…]]]]" @depth levels deep, as the value of an unknown member, or as
 * the whole file. */
static char *
nested_store (guint    depth,
              gboolean as_member)
{
  g_autoptr(GString) text = g_string_new (as_member ? "{\"stages\": [], \"deep\": " : "");

  for (guint i = 0; i < depth; i++)
    g_string_append_c (text, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (text, ']');
  if (as_member)
    g_string_append_c (text, '}');
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* JSON-GLib's parser recursed once per level and overflowed the stack. */
static void
test_deep_nesting (void)
{
  g_autofree char *member = nested_store (100000, TRUE);
  g_autofree char *whole = nested_store (100000, FALSE);
  g_autofree char *just_over = nested_store (512, TRUE);

  assert_refused (member, strlen (member),
                  ": Arrays and objects are nested deeper than 512 levels at line 1, column 535");
  assert_refused (whole, strlen (whole),
                  ": Arrays and objects are nested deeper than 512 levels at line 1, column 513");
  /* The root object is one level. */
  assert_refused (just_over, strlen (just_over),
                  ": Arrays and objects are nested deeper than 512 levels at line 1, column 535");
}

/* The deepest a store may be is kept through a save. */
static void
test_depth_limit (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *deepest = nested_store (511, TRUE);
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("a", "x", "bash", NULL);
  g_autoptr(JsonNode) before = nix_exec_test_json (deepest);
  g_autoptr(JsonNode) after = NULL;
  JsonObject *after_root;

  write_file (fixture->path, deepest);
  store = open_store (fixture->path);
  add_stage (store, stage);
  remove_stage (store, "a");

  after = read_json (fixture->path);
  after_root = json_node_get_object (after);
  assert_member_equal (json_node_get_object (before), after_root, "deep");
}

static void
test_unreadable_is_file_error (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecFileStore) store = NULL;

  /* A directory where the file should be. */
  g_assert_cmpint (g_mkdir (fixture->path, 0700), ==, 0);
  store = nix_exec_file_store_new (fixture->path, &error);
  g_assert_null (store);
  g_assert_true (error->domain == G_FILE_ERROR);
}

/* items-changed */

static void
test_items_changed (Fixture       *fixture,
                    gconstpointer  data)
{
  static const Change add_a[] = { { 0, 0, 1, 1 } };
  static const Change add_b[] = { { 1, 0, 1, 2 } };
  static const Change add_c[] = { { 2, 0, 1, 3 } };
  static const Change replace_b[] = { { 1, 1, 1, 3 } };
  static const Change remove_a[] = { { 0, 1, 0, 2 } };
  static const Change remove_c[] = { { 1, 1, 0, 1 } };
  g_autoptr(NixExecFileStore) store = open_store (fixture->path);
  g_autoptr(NixExecStage) a = nix_exec_stage_new ("a", "1", "bash", NULL);
  g_autoptr(NixExecStage) b = nix_exec_stage_new ("b", "2", "bash", NULL);
  g_autoptr(NixExecStage) c = nix_exec_stage_new ("c", "3", "bash", NULL);
  g_autoptr(NixExecStage) b2 = nix_exec_stage_new ("b", "22", "bash", NULL);
  g_autoptr(NixExecStage) item = NULL;
  g_autoptr(GError) error = NULL;
  const char *after_remove[] = { "b", NULL };

  watch (fixture, store);

  add_stage (store, a);
  assert_changes (fixture, add_a, 1);
  add_stage (store, b);
  assert_changes (fixture, add_b, 1);
  add_stage (store, c);
  assert_changes (fixture, add_c, 1);
  g_assert_cmpuint (fixture->n_items_notified, ==, 3);

  /* The items are the very stages added. */
  item = g_list_model_get_item (G_LIST_MODEL (store), 0);
  g_assert_true (item == a);

  add_stage (store, b2);
  assert_changes (fixture, replace_b, 1);
  g_assert_cmpuint (fixture->n_items_notified, ==, 3);

  /* Adding the stage that is already there changes nothing. */
  add_stage (store, b2);
  assert_changes (fixture, NULL, 0);

  remove_stage (store, "a");
  assert_changes (fixture, remove_a, 1);
  remove_stage (store, "c");
  assert_changes (fixture, remove_c, 1);
  g_assert_cmpuint (fixture->n_items_notified, ==, 5);

  g_assert_false (nix_exec_file_store_remove (store, "a", &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_NOT_FOUND);
  assert_changes (fixture, NULL, 0);
  assert_ids (G_LIST_MODEL (store), after_remove);
  g_clear_error (&error);

  /* Reloading an unchanged file changes nothing, and keeps the objects. */
  g_clear_object (&item);
  g_assert_true (nix_exec_file_store_reload (store, &error));
  g_assert_no_error (error);
  assert_changes (fixture, NULL, 0);
  item = g_list_model_get_item (G_LIST_MODEL (store), 0);
  g_assert_true (item == b2);
}

/* What other writers did shows up on the next add, remove or reload, as
 * one change covering it all. */
static void
test_other_writers (Fixture       *fixture,
                    gconstpointer  data)
{
  static const Change add_y[] = { { 1, 0, 2, 3 } };
  static const Change remove_x[] = { { 0, 2, 0, 1 } };
  static const Change reload_add[] = { { 1, 0, 1, 2 } };
  static const Change reload_replace[] = { { 0, 1, 1, 2 } };
  g_autoptr(NixExecFileStore) first = open_store (fixture->path);
  g_autoptr(NixExecFileStore) second = NULL;
  g_autoptr(NixExecStage) a = nix_exec_stage_new ("a", "1", "bash", NULL);
  g_autoptr(NixExecStage) x = nix_exec_stage_new ("x", "2", "bash", NULL);
  g_autoptr(NixExecStage) y = nix_exec_stage_new ("y", "3", "bash", NULL);
  g_autoptr(NixExecStage) y2 = nix_exec_stage_new ("y", "33", "bash", NULL);
  g_autoptr(NixExecStage) item = NULL;
  const char *both[] = { "a", "x", "y", NULL };
  const char *final[] = { "y", "a", NULL };

  add_stage (first, a);
  second = open_store (fixture->path);
  watch (fixture, first);

  add_stage (second, x);
  add_stage (first, y);
  assert_changes (fixture, add_y, 1);
  assert_ids (G_LIST_MODEL (first), both);
  /* Unchanged stages stay the same objects. */
  item = g_list_model_get_item (G_LIST_MODEL (first), 0);
  g_assert_true (item == a);

  /* The second store removes "a", then the first removes "x": the first's
   * change to position 0 covers both. */
  remove_stage (second, "a");
  remove_stage (first, "x");
  assert_changes (fixture, remove_x, 1);
  g_clear_object (&item);
  item = g_list_model_get_item (G_LIST_MODEL (first), 0);
  g_assert_cmpstr (nix_exec_stage_get_id (item), ==, "y");
  g_assert_true (item == y);

  /* Changes seen through reload. */
  add_stage (second, a);
  g_assert_true (nix_exec_file_store_reload (first, NULL));
  assert_changes (fixture, reload_add, 1);
  g_clear_object (&item);
  item = g_list_model_get_item (G_LIST_MODEL (first), 1);
  add_stage (second, y2);
  g_assert_true (nix_exec_file_store_reload (first, NULL));
  assert_changes (fixture, reload_replace, 1);
  {
    g_autoptr(NixExecStage) still = g_list_model_get_item (G_LIST_MODEL (first), 1);
    g_autoptr(NixExecStage) replaced = g_list_model_get_item (G_LIST_MODEL (first), 0);

    g_assert_true (still == item);
    g_assert_cmpstr (nix_exec_stage_get_code (replaced), ==, "33");
  }
  assert_ids (G_LIST_MODEL (first), final);
  assert_ids (G_LIST_MODEL (second), final);
}

/* Atomic saves */

static void
test_mode_kept (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("a", "x", "bash", NULL);
  const char *allowed[] = { "store.json", "store.json.lock", NULL };
  g_autofree char *extra = NULL;
  struct stat before;
  struct stat after;
  mode_t old_umask;
  int old_fd;
  char old_contents[sizeof reference_store] = { 0 };

  write_file (fixture->path, reference_store);
  /* Bits the umask would strip from a new file. */
  g_assert_cmpint (g_chmod (fixture->path, 0664), ==, 0);
  old_fd = open (fixture->path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (old_fd, >=, 0);
  old_umask = umask (022);

  store = open_store (fixture->path);
  add_stage (store, stage);
  remove_stage (store, "s-doc");
  umask (old_umask);

  g_assert_cmpint (g_stat (fixture->path, &after), ==, 0);
  g_assert_cmpuint (after.st_mode & 07777, ==, 0664);

  /* Replaced, not rewritten in place: the old file, still open here, kept
   * its contents. */
  g_assert_cmpint (fstat (old_fd, &before), ==, 0);
  g_assert_cmpuint (after.st_ino, !=, before.st_ino);
  g_assert_cmpint (read (old_fd, old_contents, sizeof old_contents), ==, strlen (reference_store));
  g_assert_cmpstr (old_contents, ==, reference_store);
  close (old_fd);

  extra = unexpected_files (fixture->dir, allowed);
  g_assert_cmpstr (extra, ==, "");
}

static void
test_symlink_kept (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *real = g_build_filename (fixture->dir, "real.json", NULL);
  g_autofree char *link = g_build_filename (fixture->dir, "link.json", NULL);
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecFileStore) direct = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("a", "x", "bash", NULL);
  const char *ids[] = { "s-double", "s-doc", "s-net", "a", NULL };

  write_file (real, reference_store);
  g_assert_cmpint (symlink ("real.json", link), ==, 0);

  store = open_store (link);
  add_stage (store, stage);

  g_assert_true (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
  direct = open_store (real);
  assert_ids (G_LIST_MODEL (direct), ids);
}

/* A store of @n stages, in the layout the store writes, each with an
 * unknown member. */
static void
write_large_store (const char *path,
                   guint       n)
{
  g_autoptr(GString) text = g_string_new ("{\n  \"version\": 3,\n  \"stages\": [");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text,
                            "%s\n"
                            "    {\n"
                            "      \"id\": \"stage-%06u\",\n"
                            "      \"name\": \"stage %u\",\n"
                            "      \"implementation_code\": \"def execute(x):\\n    return x + %u\\n\",\n"
                            "      \"implementation_language\": \"python\",\n"
                            "      \"signature\": {\n"
                            "        \"input\": \"Number\",\n"
                            "        \"output\": \"Number\",\n"
                            "        \"effects\": {\n"
                            "          \"effects\": [\n"
                            "            {\n"
                            "              \"effect\": \"Pure\"\n"
                            "            }\n"
                            "          ]\n"
                            "        }\n"
                            "      },\n"
                            "      \"lifecycle\": \"Active\"\n"
                            "    }",
                            i == 0 ? "" : ",", i, i, i);
  g_string_append (text, "\n  ]\n}");
  write_bytes (path, text->str, text->len);
}

/* Interrupted saves */

/* What an interrupted save may leave, and what only looks like it. */
static void
test_stale_temps_removed (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("a", "x", "bash", NULL);
  g_autofree char *extra = NULL;
  g_autofree char *other_dir = NULL;
  const char *stale[] = { "store.json.nixexec-save-AbC123", "store.json.nixexec-save-zzzzzz", NULL };
  /* Not the store's temporary files: kept. */
  const char *kept[] = {
    "store.json.backup",               /* what g_file_set_contents() would use, or a user's */
    "store.json.nixexec-save-AbC12",   /* too short */
    "store.json.nixexec-save-AbC1234", /* too long */
    "store.json.nixexec-save-AbC-12",  /* not a letter or digit */
    "other.json.nixexec-save-AbC123",  /* another store's */
    "xstore.json.nixexec-save-AbC123",
    NULL
  };
  const char *after[] = {
    "store.json", "store.json.lock", "store.json.backup", "store.json.nixexec-save-AbC12",
    "store.json.nixexec-save-AbC1234", "store.json.nixexec-save-AbC-12",
    "other.json.nixexec-save-AbC123", "xstore.json.nixexec-save-AbC123",
    "store.json.nixexec-save-dir123", "store.json.nixexec-save-link12", NULL
  };
  const char *ids[] = { "s-double", "s-doc", "s-net", "a", NULL };

  write_file (fixture->path, reference_store);
  for (guint i = 0; stale[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, stale[i], NULL);

      write_file (path, "{\"stages\": [{\"id\": \"half-writ");
    }
  for (guint i = 0; kept[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, kept[i], NULL);

      write_file (path, kept[i]);
    }
  /* Matching names that are not regular files: kept too. */
  other_dir = g_build_filename (fixture->dir, "store.json.nixexec-save-dir123", NULL);
  g_assert_cmpint (g_mkdir (other_dir, 0700), ==, 0);
  {
    g_autofree char *link = g_build_filename (fixture->dir, "store.json.nixexec-save-link12", NULL);

    g_assert_cmpint (symlink ("store.json.backup", link), ==, 0);
  }

  /* Loading does not take the lock, so it leaves them. */
  store = open_store (fixture->path);
  {
    g_autofree char *path = g_build_filename (fixture->dir, stale[0], NULL);

    g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  }

  add_stage (store, stage);
  extra = unexpected_files (fixture->dir, after);
  g_assert_cmpstr (extra, ==, "");
  for (guint i = 0; kept[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, kept[i], NULL);
      g_autofree char *text = read_file (path);

      g_assert_cmpstr (text, ==, kept[i]);
    }
  g_clear_object (&store);
  store = open_store (fixture->path);
  assert_ids (G_LIST_MODEL (store), ids);
}

#define N_KILLED_STAGES   1000
/* The code of the stage the saver adds: big, so that its saves spend
 * their time writing and flushing. */
#define KILLED_CODE_SIZE  (8 * 1024 * 1024)
#define N_KILLS           20

/* Saves @path over and over (an add, then a remove) until killed, having
 * written "ready" on stdout once the store loaded. */
static int
run_saver (int   argc,
           char *argv[])
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autofree char *code = NULL;

  if (argc != 3)
    {
      g_printerr ("usage: %s --saver PATH\n", argv[0]);
      return 2;
    }
  store = open_store (argv[2]);
  code = g_strnfill (KILLED_CODE_SIZE, 'x');
  g_print ("ready\n");
  fflush (stdout);

  for (guint i = 0;; i++)
    {
      g_autofree char *id = g_strdup_printf ("killed-%u", i);
      g_autoptr(NixExecStage) stage = nix_exec_stage_new (id, code, "bash", NULL);

      add_stage (store, stage);
      remove_stage (store, id);
    }
  return 0;
}

/* How many files beside the store and its lock file @dir holds. */
static guint
count_extra_files (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint count = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    if (!g_str_equal (name, "store.json") && !g_str_equal (name, "store.json.lock"))
      count++;
  return count;
}

/* Writers SIGKILLed in the middle of saves, again and again: the store
 * stays loadable with every stage, and after the next save nothing but
 * the store and its lock file is left. Before, each kill that hit a save
 * left its full-size temporary file, for good. */
static void
test_killed_saves (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("after", "x", "bash", NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *extra = NULL;
  const char *allowed[] = { "store.json", "store.json.lock", NULL };
  guint left = 0;

  g_assert_nonnull (self_exe);
  write_large_store (fixture->path, N_KILLED_STAGES);

  for (guint k = 0; k < N_KILLS; k++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSubprocess) saver = NULL;
      g_autoptr(GDataInputStream) out = NULL;
      g_autofree char *line = NULL;
      guint before = count_extra_files (fixture->dir);
      gint64 deadline;

      saver = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                self_exe, "--saver", fixture->path, NULL);
      g_assert_no_error (error);
      out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (saver));
      line = g_data_input_stream_read_line (out, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, "ready");

      /* Some saves in, and somewhere in one: as soon as a temporary file
       * shows beside the store, or else at a random moment. */
      deadline = g_get_monotonic_time () + g_test_rand_int_range (20, 150) * G_TIME_SPAN_MILLISECOND;
      while (g_get_monotonic_time () < deadline && count_extra_files (fixture->dir) <= before)
        g_usleep (200);
      g_subprocess_force_exit (saver);
      g_subprocess_wait (saver, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_subprocess_get_if_signaled (saver));
      g_assert_cmpint (g_subprocess_get_term_sig (saver), ==, SIGKILL);
    }

  left = count_extra_files (fixture->dir);
  g_test_message ("%u kills left %u temporary files", N_KILLS, left);

  /* Intact: every stage still there, and the members beside them. */
  store = open_store (fixture->path);
  for (guint i = 0; i < N_KILLED_STAGES; i++)
    {
      g_autofree char *id = g_strdup_printf ("stage-%06u", i);
      g_autoptr(NixExecStage) found = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), id);

      g_assert_nonnull (found);
    }

  add_stage (store, stage);
  extra = unexpected_files (fixture->dir, allowed);
  g_assert_cmpstr (extra, ==, "");
  root = read_json (fixture->path);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (root), "version"), ==, 3);
}

/* Concurrent writers */

#define N_WRITERS 4
#define N_ADDS    12

/* Adds @count stages named @prefix-N to the store at @path, then removes
 * @prefix-0. Each add and remove reads the file anew under the lock. */
static void
write_stages (const char *path,
              const char *prefix,
              guint       count)
{
  g_autoptr(NixExecFileStore) store = open_store (path);
  g_autofree char *first = g_strdup_printf ("%s-0", prefix);

  for (guint i = 0; i < count; i++)
    {
      g_autofree char *id = g_strdup_printf ("%s-%u", prefix, i);
      g_autoptr(NixExecStage) stage = nix_exec_stage_new (id, "x", "bash", NULL);

      add_stage (store, stage);
    }
  remove_stage (store, first);
}

static void
assert_all_written (const char *path)
{
  g_autoptr(NixExecFileStore) store = open_store (path);
  GListModel *model = G_LIST_MODEL (store);
  g_autoptr(JsonNode) root = read_json (path);

  /* The reference stages, and every writer's stages but the removed one. */
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 3 + N_WRITERS * (N_ADDS - 1));
  for (guint w = 0; w < N_WRITERS; w++)
    {
      for (guint i = 0; i < N_ADDS; i++)
        {
          g_autofree char *id = g_strdup_printf ("w%u-%u", w, i);
          g_autoptr(NixExecStage) stage = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), id);

          if (i == 0)
            g_assert_null (stage);
          else
            g_assert_nonnull (stage);
        }
    }
  /* And the unknown members are still there. */
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (root), "version"), ==, 3);
}

typedef struct
{
  const char *path;
  char       *prefix;
} WriterData;

static gpointer
writer_thread (gpointer data)
{
  WriterData *writer = data;

  write_stages (writer->path, writer->prefix, N_ADDS);
  return NULL;
}

static void
test_concurrent_threads (Fixture       *fixture,
                         gconstpointer  data)
{
  GThread *threads[N_WRITERS];
  WriterData writers[N_WRITERS];
  const char *allowed[] = { "store.json", "store.json.lock", NULL };
  g_autofree char *extra = NULL;

  write_file (fixture->path, reference_store);
  for (guint w = 0; w < N_WRITERS; w++)
    {
      writers[w].path = fixture->path;
      writers[w].prefix = g_strdup_printf ("w%u", w);
      threads[w] = g_thread_new ("writer", writer_thread, &writers[w]);
    }
  for (guint w = 0; w < N_WRITERS; w++)
    {
      g_thread_join (threads[w]);
      g_free (writers[w].prefix);
    }

  assert_all_written (fixture->path);
  extra = unexpected_files (fixture->dir, allowed);
  g_assert_cmpstr (extra, ==, "");
}

static void
test_concurrent_processes (Fixture       *fixture,
                           gconstpointer  data)
{
  GSubprocess *children[N_WRITERS];
  g_autofree char *count = g_strdup_printf ("%u", N_ADDS);
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  const char *allowed[] = { "store.json", "store.json.lock", NULL };
  g_autofree char *extra = NULL;

  g_assert_nonnull (self_exe);
  write_file (fixture->path, reference_store);
  for (guint w = 0; w < N_WRITERS; w++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *prefix = g_strdup_printf ("w%u", w);

      children[w] = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error,
                                      self_exe, "--writer", fixture->path, prefix, count, NULL);
      g_assert_no_error (error);
    }
  for (guint w = 0; w < N_WRITERS; w++)
    {
      g_autoptr(GError) error = NULL;

      g_subprocess_wait_check (children[w], NULL, &error);
      g_assert_no_error (error);
      g_object_unref (children[w]);
    }

  assert_all_written (fixture->path);
  extra = unexpected_files (fixture->dir, allowed);
  g_assert_cmpstr (extra, ==, "");
}

/* The lock really is held across the read-modify-write: while another
 * holder has it, a writer waits and then sees what the holder wrote. */
typedef struct
{
  const char   *path;
  NixExecStage *stage;
  gint          done;
} BlockedAdd;

static gpointer
blocked_add_thread (gpointer data)
{
  BlockedAdd *blocked = data;
  g_autoptr(NixExecFileStore) store = open_store (blocked->path);

  add_stage (store, blocked->stage);
  g_atomic_int_set (&blocked->done, 1);
  return NULL;
}

static void
test_waits_for_lock (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *lock_path = g_strconcat (fixture->path, ".lock", NULL);
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("late", "x", "bash", NULL);
  g_autoptr(NixExecFileStore) store = NULL;
  BlockedAdd blocked = { fixture->path, stage, 0 };
  GThread *thread;
  int fd;
  const char *ids[] = { "s-double", "s-doc", "s-net", "outside", "late", NULL };
  g_autofree char *with_outside = NULL;

  write_file (fixture->path, reference_store);
  fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);

  thread = g_thread_new ("blocked", blocked_add_thread, &blocked);
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (g_atomic_int_get (&blocked.done), ==, 0);

  /* What the lock holder writes meanwhile is not lost. */
  {
    g_autoptr(JsonNode) root = nix_exec_test_json (reference_store);
    JsonArray *stages = json_object_get_array_member (json_node_get_object (root), "stages");
    JsonObject *outside = json_object_new ();

    json_object_set_string_member (outside, "id", "outside");
    json_array_add_object_element (stages, outside);
    /* Not json_to_string(): it writes U+001F unescaped. */
    with_outside = nix_exec_json_write (root, TRUE, NULL);
    write_file (fixture->path, with_outside);
  }

  close (fd);
  g_thread_join (thread);
  g_assert_cmpint (g_atomic_int_get (&blocked.done), ==, 1);

  store = open_store (fixture->path);
  assert_ids (G_LIST_MODEL (store), ids);
}

/* Add and remove are linear in the size of the store */

/* Under AddressSanitizer, as tools/run-tests runs it
 * (fast_unwind_on_malloc=0), every allocation unwinds the stack and a load
 * of 10,000 stages takes 13 s: a smaller store keeps the suite within its
 * time there. The normal build is where the quadratic cost shows. */
#ifdef __SANITIZE_ADDRESS__
# define N_LARGE       2000
#else
# define N_LARGE       100000
#endif
#define N_ROUNDS       3
/* What add and remove may take beyond twice a load: the fsync of the
 * file, noise. */
#define SLACK_US       (50 * G_TIME_SPAN_MILLISECOND)

/* The best of N_ROUNDS of each, measured in turns so that the machine's
 * load is shared: a load (a new store on the file), an add of a new stage
 * and its remove on an open store. Before, add and remove matched each
 * stage read against the store's list and took minutes; now they cost a
 * load, a write and an fsync. */
static void
test_linear (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(NixExecFileStore) store = NULL;
  gint64 best_load = G_MAXINT64;
  gint64 best_add = G_MAXINT64;
  gint64 best_remove = G_MAXINT64;

  write_large_store (fixture->path, N_LARGE);
  store = open_store (fixture->path);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, N_LARGE);

  for (guint round = 0; round < N_ROUNDS; round++)
    {
      g_autofree char *id = g_strdup_printf ("new-%u", round);
      g_autoptr(NixExecStage) stage = nix_exec_stage_new (id, "x", "bash", NULL);
      gint64 start;

      start = g_get_monotonic_time ();
      {
        g_autoptr(NixExecFileStore) loaded = open_store (fixture->path);
      }
      best_load = MIN (best_load, g_get_monotonic_time () - start);

      start = g_get_monotonic_time ();
      add_stage (store, stage);
      best_add = MIN (best_add, g_get_monotonic_time () - start);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, N_LARGE + 1);

      start = g_get_monotonic_time ();
      remove_stage (store, id);
      best_remove = MIN (best_remove, g_get_monotonic_time () - start);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, N_LARGE);
    }

  g_test_message ("%u stages: load %.1f ms, add %.1f ms, remove %.1f ms (best of %u)",
                  N_LARGE, best_load / 1000., best_add / 1000., best_remove / 1000., N_ROUNDS);
  g_assert_cmpint (best_add, <=, 2 * best_load + SLACK_US);
  g_assert_cmpint (best_remove, <=, 2 * best_load + SLACK_US);
}

/* The executor skips the stages without code or language. */

static const char executor_store[] =
  "{\n"
  "  \"stages\": [\n"
  "    {\"id\": \"py\", \"implementation_language\": \"python\", \"lifecycle\": \"Active\",\n"
  "     \"implementation_code\": \"def execute(x):\\n    return {'doubled': x['n'] * 2}\\n\",\n"
  "     \"signature\": {\"input\": \"Any\", \"effects\": {\"effects\": [{\"effect\": \"Pure\"}]}}},\n"
  "    {\"id\": \"no-code\", \"implementation_language\": \"python\", \"name\": \"spec only\"},\n"
  "    {\"id\": \"null-code\", \"implementation_code\": null, \"implementation_language\": \"bash\"},\n"
  "    {\"id\": \"no-language\", \"implementation_code\": \"def execute(x):\\n    return x\\n\"},\n"
  "    {\"id\": \"sh\", \"implementation_code\": \"execute() { echo \\\"[$1]\\\"; }\",\n"
  "     \"implementation_language\": \"bash\"}\n"
  "  ]\n"
  "}\n";

static void
test_executor_from_store (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *cache_dir = g_build_filename (fixture->dir, "cache", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"n\": 21}");
  g_autoptr(JsonNode) expected = nix_exec_test_json ("{\"doubled\": 42}");
  g_autoptr(JsonNode) output = NULL;
  g_auto(GStrv) ids = NULL;
  const char *runnable[] = { "py", "sh", NULL };

  write_file (fixture->path, executor_store);
  store = open_store (fixture->path);
  /* All five are stages of the store. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 5);

  executor = nix_exec_executor_new_from_store_with_config (NIX_EXEC_STAGE_STORE (store), config,
                                                           &error);
  g_assert_no_error (error);
  g_assert_nonnull (executor);

  ids = nix_exec_executor_list_stage_ids (executor);
  g_assert_true (g_strv_equal ((const char * const *) ids, runnable));
  g_assert_false (nix_exec_executor_has_implementation (executor, "no-code"));
  g_assert_false (nix_exec_executor_has_implementation (executor, "null-code"));
  g_assert_false (nix_exec_executor_has_implementation (executor, "no-language"));

  output = nix_exec_executor_execute (executor, "py", input, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (output, expected));

  g_clear_pointer (&output, json_node_unref);
  output = nix_exec_executor_execute (executor, "no-code", input, NULL, &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_NOT_FOUND);
}

static int
run_writer (int   argc,
            char *argv[])
{
  if (argc != 5)
    {
      g_printerr ("usage: %s --writer PATH PREFIX COUNT\n", argv[0]);
      return 2;
    }
  write_stages (argv[2], argv[3], (guint) g_ascii_strtoull (argv[4], NULL, 10));
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  if (argc > 1 && g_str_equal (argv[1], "--writer"))
    return run_writer (argc, argv);
  if (argc > 1 && g_str_equal (argv[1], "--saver"))
    return run_saver (argc, argv);

  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child in the executor test, needs a home for its caches. The
   * other tests work in directories of their own. */
  g_test_init (&argc, &argv, NULL);

  g_test_summary ("NixExecFileStore: the store.json layout, atomic and locked saves");

#define ADD_TEST(path, func) \
  g_test_add ("/nixexec/file-store/" path, Fixture, NULL, \
              fixture_set_up, func, fixture_tear_down)

  ADD_TEST ("load-reference", test_load_reference);
  ADD_TEST ("missing-file", test_missing_file);
  ADD_TEST ("relative-path", test_relative_path);
  g_test_add_func ("/nixexec/file-store/initable-without-path", test_initable_without_path);
  ADD_TEST ("round-trip", test_round_trip);
  ADD_TEST ("unknown-fields-kept", test_unknown_fields_kept);
  ADD_TEST ("byte-identical", test_byte_identical);
  ADD_TEST ("unchanged-not-written", test_unchanged_not_written);
  ADD_TEST ("format", test_format);
  for (guint i = 0; i < G_N_ELEMENTS (corrupt_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/nixexec/file-store/corrupt/%s", corrupt_cases[i].name);

      g_test_add_data_func (path, &corrupt_cases[i], test_corrupt);
    }
  g_test_add_func ("/nixexec/file-store/corrupt/deep-nesting", test_deep_nesting);
  ADD_TEST ("depth-limit", test_depth_limit);
  nix_exec_test_add_critical ("/nixexec/file-store/critical", critical_cases,
                              G_N_ELEMENTS (critical_cases));
  ADD_TEST ("unreadable", test_unreadable_is_file_error);
  ADD_TEST ("items-changed", test_items_changed);
  ADD_TEST ("other-writers", test_other_writers);
  ADD_TEST ("mode-kept", test_mode_kept);
  ADD_TEST ("symlink-kept", test_symlink_kept);
  ADD_TEST ("stale-temps-removed", test_stale_temps_removed);
  ADD_TEST ("killed-saves", test_killed_saves);
  ADD_TEST ("concurrent/threads", test_concurrent_threads);
  ADD_TEST ("concurrent/processes", test_concurrent_processes);
  ADD_TEST ("waits-for-lock", test_waits_for_lock);
  ADD_TEST ("linear", test_linear);
  ADD_TEST ("executor-from-store", test_executor_from_store);

#undef ADD_TEST

  return g_test_run ();
}
