/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nixexec-glib.h"
#include "nixexec-test-util.h"

/* The example of the reference implementation's documentation. */
#define REFERENCE_JSON \
  "{\"effects\":[{\"effect\":\"Network\"},{\"effect\":\"FsRead\",\"path\":\"/data\"}," \
  "{\"effect\":\"Cost\",\"cents\":5},{\"effect\":\"Llm\",\"model\":\"m\"}]}"

static const NixExecEffectKind all_kinds[] = {
  NIX_EXEC_EFFECT_KIND_PURE,
  NIX_EXEC_EFFECT_KIND_FALLIBLE,
  NIX_EXEC_EFFECT_KIND_NETWORK,
  NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC,
  NIX_EXEC_EFFECT_KIND_PROCESS,
  NIX_EXEC_EFFECT_KIND_FS_READ,
  NIX_EXEC_EFFECT_KIND_FS_WRITE,
  NIX_EXEC_EFFECT_KIND_LLM,
  NIX_EXEC_EFFECT_KIND_COST,
  NIX_EXEC_EFFECT_KIND_UNKNOWN,
};

static void
assert_set_string (NixExecEffectSet *set,
                   const char       *expected)
{
  g_autofree char *text = nix_exec_effect_set_to_string (set);

  g_assert_cmpstr (text, ==, expected);
}

static NixExecEffectSet *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  NixExecEffectSet *set = nix_exec_effect_set_new_from_string (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (set);
  return set;
}

static void
assert_strv (const char * const *actual,
             const char * const *expected)
{
  g_assert_nonnull (actual);
  g_assert_cmpuint (g_strv_length ((char **) actual), ==, g_strv_length ((char **) expected));
  for (guint i = 0; expected[i] != NULL; i++)
    g_assert_cmpstr (actual[i], ==, expected[i]);
}

static void
test_new_empty (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();
  const char * const none[] = { NULL };

  for (guint i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_false (nix_exec_effect_set_contains (set, all_kinds[i]));
  g_assert_false (nix_exec_effect_set_is_pure (set));
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 0);
  assert_strv (nix_exec_effect_set_get_read_paths (set), none);
  assert_strv (nix_exec_effect_set_get_write_paths (set), none);
  assert_strv (nix_exec_effect_set_get_llm_models (set), none);
  assert_set_string (set, "{\"effects\":[]}");
}

static void
test_new_pure (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new_pure ();

  g_assert_true (nix_exec_effect_set_is_pure (set));
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_PURE));
  g_assert_false (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_UNKNOWN));
  assert_set_string (set, "{\"effects\":[{\"effect\":\"Pure\"}]}");
}

static void
test_new_unknown (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new_unknown ();

  g_assert_false (nix_exec_effect_set_is_pure (set));
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_UNKNOWN));
  g_assert_false (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_PURE));
  assert_set_string (set, "{\"effects\":[{\"effect\":\"Unknown\"}]}");
}

static void
test_reference_round_trip (void)
{
  g_autoptr(NixExecEffectSet) set = parse_ok (REFERENCE_JSON);
  g_autoptr(JsonNode) expected = nix_exec_test_json (REFERENCE_JSON);
  g_autoptr(JsonNode) node = nix_exec_effect_set_to_json (set);
  g_autoptr(NixExecEffectSet) again = NULL;
  g_autoptr(GError) error = NULL;
  const char * const data[] = { "/data", NULL };
  const char * const models[] = { "m", NULL };
  const char * const none[] = { NULL };

  assert_set_string (set, REFERENCE_JSON);
  g_assert_true (json_node_equal (node, expected));

  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_NETWORK));
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_FS_READ));
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_COST));
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_LLM));
  g_assert_false (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_FS_WRITE));
  g_assert_false (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_PURE));
  g_assert_false (nix_exec_effect_set_is_pure (set));
  assert_strv (nix_exec_effect_set_get_read_paths (set), data);
  assert_strv (nix_exec_effect_set_get_write_paths (set), none);
  assert_strv (nix_exec_effect_set_get_llm_models (set), models);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 5);

  /* From the node form too, and back to an equal set. */
  again = nix_exec_effect_set_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_assert_true (nix_exec_effect_set_equal (set, again));
  assert_set_string (again, REFERENCE_JSON);
}

static void
add_kind (NixExecEffectSet  *set,
          NixExecEffectKind  kind)
{
  switch (kind)
    {
    case NIX_EXEC_EFFECT_KIND_FS_READ:
      nix_exec_effect_set_add_fs_read (set, "/in");
      break;
    case NIX_EXEC_EFFECT_KIND_FS_WRITE:
      nix_exec_effect_set_add_fs_write (set, "/out");
      break;
    case NIX_EXEC_EFFECT_KIND_LLM:
      nix_exec_effect_set_add_llm (set, "gpt");
      break;
    case NIX_EXEC_EFFECT_KIND_COST:
      nix_exec_effect_set_add_cost (set, 12);
      break;
    case NIX_EXEC_EFFECT_KIND_PURE:
    case NIX_EXEC_EFFECT_KIND_FALLIBLE:
    case NIX_EXEC_EFFECT_KIND_NETWORK:
    case NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC:
    case NIX_EXEC_EFFECT_KIND_PROCESS:
    case NIX_EXEC_EFFECT_KIND_UNKNOWN:
    default:
      nix_exec_effect_set_add (set, kind);
      break;
    }
}

static void
test_kind_names (void)
{
  static const struct {
    NixExecEffectKind kind;
    const char *json;
  } cases[] = {
    { NIX_EXEC_EFFECT_KIND_PURE, "{\"effect\":\"Pure\"}" },
    { NIX_EXEC_EFFECT_KIND_FALLIBLE, "{\"effect\":\"Fallible\"}" },
    { NIX_EXEC_EFFECT_KIND_NETWORK, "{\"effect\":\"Network\"}" },
    { NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC, "{\"effect\":\"NonDeterministic\"}" },
    { NIX_EXEC_EFFECT_KIND_PROCESS, "{\"effect\":\"Process\"}" },
    { NIX_EXEC_EFFECT_KIND_FS_READ, "{\"effect\":\"FsRead\",\"path\":\"/in\"}" },
    { NIX_EXEC_EFFECT_KIND_FS_WRITE, "{\"effect\":\"FsWrite\",\"path\":\"/out\"}" },
    { NIX_EXEC_EFFECT_KIND_LLM, "{\"effect\":\"Llm\",\"model\":\"gpt\"}" },
    { NIX_EXEC_EFFECT_KIND_COST, "{\"effect\":\"Cost\",\"cents\":12}" },
    { NIX_EXEC_EFFECT_KIND_UNKNOWN, "{\"effect\":\"Unknown\"}" },
  };
  g_autoptr(GEnumClass) enum_class = g_type_class_ref (nix_exec_effect_kind_get_type ());

  /* A kind added to the enumeration must be added here too. */
  g_assert_cmpuint (G_N_ELEMENTS (cases), ==, enum_class->n_values);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *expected = g_strdup_printf ("{\"effects\":[%s]}", cases[i].json);
      g_autoptr(NixExecEffectSet) built = nix_exec_effect_set_new ();
      g_autoptr(NixExecEffectSet) parsed = NULL;

      g_test_message ("kind %d: %s", cases[i].kind, cases[i].json);

      /* Kind to name. */
      add_kind (built, cases[i].kind);
      assert_set_string (built, expected);

      /* Name to kind. */
      parsed = parse_ok (expected);
      g_assert_true (nix_exec_effect_set_contains (parsed, cases[i].kind));
      for (guint j = 0; j < G_N_ELEMENTS (all_kinds); j++)
        {
          if (all_kinds[j] != cases[i].kind)
            g_assert_false (nix_exec_effect_set_contains (parsed, all_kinds[j]));
        }
      g_assert_true (nix_exec_effect_set_equal (parsed, built));
    }
}

typedef struct
{
  const char *json;
  const char *message;
} MalformedCase;

static const MalformedCase malformed_cases[] = {
  { "", "not valid JSON*" },
  { "{", "not valid JSON*" },
  { "{\"effects\":[]} x", "not valid JSON*" },
  { "[{\"effect\":\"Network\"}]", "expected an object with an “effects” array, found an array" },
  { "\"Network\"", "expected an object with an “effects” array, found a string" },
  { "null", "expected an object with an “effects” array, found null" },
  { "{}", "no “effects” member" },
  { "{\"effect\":[]}", "no “effects” member" },
  { "{\"effects\":{}}", "effects: expected an array, found an object" },
  { "{\"effects\":null}", "effects: expected an array, found null" },
  { "{\"effects\":\"Pure\"}", "effects: expected an array, found a string" },
  { "{\"effects\":[],\"name\":\"x\"}", "unexpected member “name” beside “effects”" },
  { "{\"effects\":[1]}", "effects[0]: expected an object, found a number" },
  { "{\"effects\":[\"Network\"]}", "effects[0]: expected an object, found a string" },
  { "{\"effects\":[{\"effect\":\"Pure\"},[]]}", "effects[1]: expected an object, found an array" },
  { "{\"effects\":[{}]}", "effects[0]: no “effect” member" },
  { "{\"effects\":[{\"path\":\"/x\"}]}", "effects[0]: no “effect” member" },
  { "{\"effects\":[{\"effect\":5}]}", "effects[0]: not a string in the “effect” member" },
  { "{\"effects\":[{\"effect\":null}]}", "effects[0]: not a string in the “effect” member" },
  { "{\"effects\":[{\"effect\":\"Network\"},{\"effect\":\"Pure\"},{\"effect\":\"Foo\"}]}",
    "effects[2]: unknown effect “Foo”" },
  { "{\"effects\":[{\"effect\":\"pure\"}]}", "effects[0]: unknown effect “pure”" },
  { "{\"effects\":[{\"effect\":\"\"}]}", "effects[0]: unknown effect “”" },
  { "{\"effects\":[{\"effect\":\"FsRead\"}]}",
    "effects[0]: a “FsRead” effect needs a string “path”, found none" },
  { "{\"effects\":[{\"effect\":\"FsRead\",\"path\":5}]}",
    "effects[0]: a “FsRead” effect needs a string “path”, found a number" },
  { "{\"effects\":[{\"effect\":\"FsWrite\",\"path\":null}]}",
    "effects[0]: a “FsWrite” effect needs a string “path”, found null" },
  { "{\"effects\":[{\"effect\":\"FsWrite\",\"path\":[\"/a\"]}]}",
    "effects[0]: a “FsWrite” effect needs a string “path”, found an array" },
  { "{\"effects\":[{\"effect\":\"Llm\"}]}",
    "effects[0]: a “Llm” effect needs a string “model”, found none" },
  { "{\"effects\":[{\"effect\":\"Llm\",\"model\":true}]}",
    "effects[0]: a “Llm” effect needs a string “model”, found a boolean" },
  { "{\"effects\":[{\"effect\":\"Cost\"}]}",
    "effects[0]: a “Cost” effect needs a non-negative integer “cents”" },
  { "{\"effects\":[{\"effect\":\"Cost\",\"cents\":-1}]}",
    "effects[0]: a “Cost” effect needs a non-negative integer “cents”" },
  { "{\"effects\":[{\"effect\":\"Cost\",\"cents\":1.5}]}",
    "effects[0]: a “Cost” effect needs a non-negative integer “cents”" },
  { "{\"effects\":[{\"effect\":\"Cost\",\"cents\":\"5\"}]}",
    "effects[0]: a “Cost” effect needs a non-negative integer “cents”" },
  { "{\"effects\":[{\"effect\":\"Network\",\"path\":\"/x\"}]}",
    "effects[0]: unexpected member “path” in a “Network” effect" },
  { "{\"effects\":[{\"effect\":\"FsRead\",\"path\":\"/x\",\"model\":\"m\"}]}",
    "effects[0]: unexpected member “model” in a “FsRead” effect" },
  { "{\"effects\":[{\"effect\":\"Cost\",\"cents\":5,\"currency\":\"EUR\"}]}",
    "effects[0]: unexpected member “currency” in a “Cost” effect" },
};

static void
test_malformed (gconstpointer data)
{
  const MalformedCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecEffectSet) set = NULL;

  g_test_message ("input: %s", c->json);

  set = nix_exec_effect_set_new_from_string (c->json, &error);
  g_assert_null (set);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
  g_test_message ("message: %s", error->message);
  g_assert_true (g_pattern_match_simple (c->message, error->message));

  /* The node form fails the same way when the text is JSON at all. */
  if (!g_str_has_prefix (c->message, "not valid JSON"))
    {
      g_autoptr(JsonNode) node = nix_exec_test_json (c->json);
      g_autoptr(GError) node_error = NULL;
      g_autoptr(NixExecEffectSet) node_set = nix_exec_effect_set_new_from_json (node, &node_error);

      g_assert_null (node_set);
      g_assert_error (node_error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
      g_assert_cmpstr (node_error->message, ==, error->message);
    }
}

static void
test_dedup (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) parsed = NULL;
  const char * const reads[] = { "/a", "/b", NULL };
  const char * const writes[] = { "/a", NULL };
  const char * const models[] = { "m", NULL };
  const char *expected =
    "{\"effects\":[{\"effect\":\"Network\"},{\"effect\":\"FsRead\",\"path\":\"/a\"},"
    "{\"effect\":\"FsRead\",\"path\":\"/b\"},{\"effect\":\"FsWrite\",\"path\":\"/a\"},"
    "{\"effect\":\"Cost\",\"cents\":5},{\"effect\":\"Cost\",\"cents\":7},"
    "{\"effect\":\"Llm\",\"model\":\"m\"}]}";

  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_NETWORK);
  nix_exec_effect_set_add_fs_read (set, "/a");
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_NETWORK);
  nix_exec_effect_set_add_fs_read (set, "/b");
  nix_exec_effect_set_add_fs_read (set, "/a");
  /* Same path, different kind: two entries. */
  nix_exec_effect_set_add_fs_write (set, "/a");
  nix_exec_effect_set_add_fs_write (set, "/a");
  nix_exec_effect_set_add_cost (set, 5);
  nix_exec_effect_set_add_cost (set, 5);
  nix_exec_effect_set_add_cost (set, 7);
  nix_exec_effect_set_add_llm (set, "m");
  nix_exec_effect_set_add_llm (set, "m");

  assert_set_string (set, expected);
  assert_strv (nix_exec_effect_set_get_read_paths (set), reads);
  assert_strv (nix_exec_effect_set_get_write_paths (set), writes);
  assert_strv (nix_exec_effect_set_get_llm_models (set), models);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 12);

  /* Repeated entries in JSON are kept once, at their first place. */
  parsed = parse_ok ("{\"effects\":[{\"effect\":\"Network\"},{\"effect\":\"FsRead\",\"path\":\"/a\"},"
                     "{\"effect\":\"Network\"},{\"effect\":\"FsRead\",\"path\":\"/b\"},"
                     "{\"effect\":\"FsRead\",\"path\":\"/a\"},{\"effect\":\"FsWrite\",\"path\":\"/a\"},"
                     "{\"effect\":\"Cost\",\"cents\":5},{\"effect\":\"Cost\",\"cents\":5},"
                     "{\"effect\":\"Cost\",\"cents\":7},{\"effect\":\"Llm\",\"model\":\"m\"},"
                     "{\"effect\":\"Llm\",\"model\":\"m\"}]}");
  assert_set_string (parsed, expected);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (parsed), ==, 12);
}

static void
test_literal_semantics (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new_pure ();
  g_autoptr(NixExecEffectSet) unknown = nix_exec_effect_set_new_unknown ();

  /* Nothing is absorbed: Pure stays beside Network, Unknown beside Pure. */
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_NETWORK);
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_PURE));
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_NETWORK));
  g_assert_false (nix_exec_effect_set_is_pure (set));
  assert_set_string (set, "{\"effects\":[{\"effect\":\"Pure\"},{\"effect\":\"Network\"}]}");

  nix_exec_effect_set_add (unknown, NIX_EXEC_EFFECT_KIND_PURE);
  g_assert_false (nix_exec_effect_set_is_pure (unknown));
  assert_set_string (unknown, "{\"effects\":[{\"effect\":\"Unknown\"},{\"effect\":\"Pure\"}]}");
}

static void
test_insertion_order (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add_llm (set, "z");
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_UNKNOWN);
  nix_exec_effect_set_add_fs_write (set, "/w");
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_PROCESS);
  nix_exec_effect_set_add_cost (set, 0);
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_FALLIBLE);

  assert_set_string (set,
                     "{\"effects\":[{\"effect\":\"Llm\",\"model\":\"z\"},{\"effect\":\"Unknown\"},"
                     "{\"effect\":\"FsWrite\",\"path\":\"/w\"},{\"effect\":\"Process\"},"
                     "{\"effect\":\"Cost\",\"cents\":0},{\"effect\":\"Fallible\"}]}");
}

static void
test_string_payloads (void)
{
  /* Paths are kept as given, escapes and all, and survive the round trip. */
  const char *json =
    "{\"effects\":[{\"effect\":\"FsRead\",\"path\":\"/data/\\u00e4 \\\"q\\\"\\\\x\"},"
    "{\"effect\":\"FsWrite\",\"path\":\"relative/../p\"},"
    "{\"effect\":\"Llm\",\"model\":\"\"}]}";
  g_autoptr(NixExecEffectSet) set = parse_ok (json);
  g_autofree char *text = nix_exec_effect_set_to_string (set);
  g_autoptr(NixExecEffectSet) again = parse_ok (text);
  const char * const reads[] = { "/data/ä \"q\"\\x", NULL };
  const char * const writes[] = { "relative/../p", NULL };
  const char * const models[] = { "", NULL };

  assert_strv (nix_exec_effect_set_get_read_paths (set), reads);
  assert_strv (nix_exec_effect_set_get_write_paths (set), writes);
  assert_strv (nix_exec_effect_set_get_llm_models (set), models);
  g_assert_true (nix_exec_effect_set_equal (set, again));
  assert_set_string (again, text);
}

static void
test_json_node_not_utf8 (void)
{
  static const char * const kinds[] = { "FsRead", "FsWrite", "Llm" };

  g_test_summary ("A JSON node that holds a path or model that is not UTF-8 (json-glib's own "
                  "parser makes one of \"\\200\") is refused, so that to_string always "
                  "has a text to give (found by tests/fuzz, through the file store).");

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) node = NULL;
      g_autoptr(NixExecEffectSet) set = NULL;
      g_autoptr(GError) error = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "effects");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "effect");
      json_builder_add_string_value (builder, kinds[i]);
      json_builder_set_member_name (builder, i == 2 ? "model" : "path");
      json_builder_add_string_value (builder, "/data/\x80\xff");
      json_builder_end_object (builder);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      node = json_builder_get_root (builder);

      set = nix_exec_effect_set_new_from_json (node, &error);
      g_assert_null (set);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
      g_assert_nonnull (strstr (error->message, "not valid UTF-8"));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
test_copy (void)
{
  g_autoptr(NixExecEffectSet) set = parse_ok (REFERENCE_JSON);
  g_autoptr(NixExecEffectSet) copy = nix_exec_effect_set_copy (set);
  const char * const data[] = { "/data", NULL };
  const char * const copy_reads[] = { "/data", "/more", NULL };

  g_assert_true (copy != set);
  g_assert_true (nix_exec_effect_set_equal (copy, set));
  assert_set_string (copy, REFERENCE_JSON);

  /* Changing the copy leaves the original alone... */
  nix_exec_effect_set_add_fs_read (copy, "/more");
  nix_exec_effect_set_add_cost (copy, 10);
  g_assert_false (nix_exec_effect_set_equal (copy, set));
  assert_set_string (set, REFERENCE_JSON);
  assert_strv (nix_exec_effect_set_get_read_paths (set), data);
  assert_strv (nix_exec_effect_set_get_read_paths (copy), copy_reads);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 5);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (copy), ==, 15);

  /* ...and the other way round; the copy outlives its source. */
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_PROCESS);
  g_assert_false (nix_exec_effect_set_contains (copy, NIX_EXEC_EFFECT_KIND_PROCESS));
  g_clear_object (&set);
  assert_strv (nix_exec_effect_set_get_read_paths (copy), copy_reads);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (copy), ==, 15);
}

static void
test_equal (void)
{
  g_autoptr(NixExecEffectSet) a = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) b = nix_exec_effect_set_new ();

  g_assert_true (nix_exec_effect_set_equal (a, a));
  g_assert_true (nix_exec_effect_set_equal (a, b));

  /* Order does not matter. */
  nix_exec_effect_set_add (a, NIX_EXEC_EFFECT_KIND_NETWORK);
  nix_exec_effect_set_add_fs_read (a, "/a");
  nix_exec_effect_set_add_cost (a, 3);
  g_assert_false (nix_exec_effect_set_equal (a, b));
  nix_exec_effect_set_add_cost (b, 3);
  nix_exec_effect_set_add_fs_read (b, "/a");
  g_assert_false (nix_exec_effect_set_equal (a, b));
  g_assert_false (nix_exec_effect_set_equal (b, a));
  nix_exec_effect_set_add (b, NIX_EXEC_EFFECT_KIND_NETWORK);
  g_assert_true (nix_exec_effect_set_equal (a, b));
  g_assert_true (nix_exec_effect_set_equal (b, a));

  /* Same size, different payload or kind. */
  {
    g_autoptr(NixExecEffectSet) read_a = nix_exec_effect_set_new ();
    g_autoptr(NixExecEffectSet) read_b = nix_exec_effect_set_new ();
    g_autoptr(NixExecEffectSet) write_a = nix_exec_effect_set_new ();
    g_autoptr(NixExecEffectSet) cost_5 = nix_exec_effect_set_new ();
    g_autoptr(NixExecEffectSet) cost_6 = nix_exec_effect_set_new ();
    g_autoptr(NixExecEffectSet) llm_a = nix_exec_effect_set_new ();
    g_autoptr(NixExecEffectSet) llm_b = nix_exec_effect_set_new ();

    nix_exec_effect_set_add_fs_read (read_a, "/a");
    nix_exec_effect_set_add_fs_read (read_b, "/b");
    nix_exec_effect_set_add_fs_write (write_a, "/a");
    nix_exec_effect_set_add_cost (cost_5, 5);
    nix_exec_effect_set_add_cost (cost_6, 6);
    nix_exec_effect_set_add_llm (llm_a, "a");
    nix_exec_effect_set_add_llm (llm_b, "b");

    g_assert_false (nix_exec_effect_set_equal (read_a, read_b));
    g_assert_false (nix_exec_effect_set_equal (read_a, write_a));
    g_assert_false (nix_exec_effect_set_equal (cost_5, cost_6));
    g_assert_false (nix_exec_effect_set_equal (llm_a, llm_b));
    g_assert_false (nix_exec_effect_set_equal (llm_a, read_a));
  }
}

static void
test_is_pure (void)
{
  g_autoptr(NixExecEffectSet) empty = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) added = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) parsed = parse_ok ("{\"effects\":[{\"effect\":\"Pure\"}]}");
  g_autoptr(NixExecEffectSet) fallible = parse_ok ("{\"effects\":[{\"effect\":\"Pure\"},{\"effect\":\"Fallible\"}]}");

  g_assert_false (nix_exec_effect_set_is_pure (empty));
  nix_exec_effect_set_add (added, NIX_EXEC_EFFECT_KIND_PURE);
  g_assert_true (nix_exec_effect_set_is_pure (added));
  nix_exec_effect_set_add (added, NIX_EXEC_EFFECT_KIND_PURE);
  g_assert_true (nix_exec_effect_set_is_pure (added));
  g_assert_true (nix_exec_effect_set_is_pure (parsed));
  g_assert_false (nix_exec_effect_set_is_pure (fallible));
}

static void
test_accessors_follow_changes (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();
  const char * const one[] = { "/1", NULL };
  const char * const many[] = { "/1", "/2", "/3", "/4", "/5", "/6", "/7", "/8", "/9", NULL };
  const char * const w[] = { "/w", NULL };
  const char * const models[] = { "a", "b", NULL };
  const char * const none[] = { NULL };

  nix_exec_effect_set_add_fs_read (set, "/1");
  assert_strv (nix_exec_effect_set_get_read_paths (set), one);
  assert_strv (nix_exec_effect_set_get_write_paths (set), none);

  /* Enough entries to make the cached arrays grow. */
  for (guint i = 2; i <= 9; i++)
    {
      g_autofree char *path = g_strdup_printf ("/%u", i);

      nix_exec_effect_set_add_fs_read (set, path);
    }
  assert_strv (nix_exec_effect_set_get_read_paths (set), many);

  nix_exec_effect_set_add_fs_write (set, "/w");
  nix_exec_effect_set_add_llm (set, "a");
  nix_exec_effect_set_add_llm (set, "b");
  assert_strv (nix_exec_effect_set_get_write_paths (set), w);
  assert_strv (nix_exec_effect_set_get_llm_models (set), models);
  assert_strv (nix_exec_effect_set_get_read_paths (set), many);
}

static void
test_cost (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) big = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) big_again = NULL;
  g_autofree char *big_text = NULL;
  g_autofree char *expected = NULL;

  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 0);
  nix_exec_effect_set_add_cost (set, 0);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 0);
  g_assert_true (nix_exec_effect_set_contains (set, NIX_EXEC_EFFECT_KIND_COST));
  nix_exec_effect_set_add_cost (set, 40);
  nix_exec_effect_set_add_cost (set, 2);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (set), ==, 42);

  /* The largest amount round-trips, and the sum saturates. */
  nix_exec_effect_set_add_cost (big, G_MAXINT64);
  big_text = nix_exec_effect_set_to_string (big);
  expected = g_strdup_printf ("{\"effects\":[{\"effect\":\"Cost\",\"cents\":%" G_GINT64_FORMAT "}]}",
                              G_MAXINT64);
  g_assert_cmpstr (big_text, ==, expected);
  big_again = parse_ok (big_text);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (big_again), ==, G_MAXINT64);

  nix_exec_effect_set_add_cost (big, G_MAXINT64 - 1);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (big), ==, G_MAXUINT64 - 2);
  nix_exec_effect_set_add_cost (big, 3);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (big), ==, G_MAXUINT64);
  nix_exec_effect_set_add_cost (big, 4);
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (big), ==, G_MAXUINT64);
}

/* Contracts that must be refused with a critical. */

static void
add_payload_kind_without_payload (gconstpointer data)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add (set, GPOINTER_TO_INT (data));
}

static void
add_out_of_range_kind (gconstpointer data)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add (set, (NixExecEffectKind) 99);
}

static void
add_fs_read_null (gconstpointer data)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add_fs_read (set, NULL);
}

static void
add_fs_write_null (gconstpointer data)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add_fs_write (set, NULL);
}

static void
add_llm_null (gconstpointer data)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add_llm (set, NULL);
}

static void
add_cost_too_large (gconstpointer data)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  nix_exec_effect_set_add_cost (set, (guint64) G_MAXINT64 + 1);
}

static const NixExecTestCritical critical_cases[] = {
  { "add-fs-read-kind", add_payload_kind_without_payload, GINT_TO_POINTER (NIX_EXEC_EFFECT_KIND_FS_READ),
    "*CRITICAL*kind_payload_member (kind) == NULL*" },
  { "add-fs-write-kind", add_payload_kind_without_payload, GINT_TO_POINTER (NIX_EXEC_EFFECT_KIND_FS_WRITE),
    "*CRITICAL*kind_payload_member (kind) == NULL*" },
  { "add-llm-kind", add_payload_kind_without_payload, GINT_TO_POINTER (NIX_EXEC_EFFECT_KIND_LLM),
    "*CRITICAL*kind_payload_member (kind) == NULL*" },
  { "add-cost-kind", add_payload_kind_without_payload, GINT_TO_POINTER (NIX_EXEC_EFFECT_KIND_COST),
    "*CRITICAL*kind_payload_member (kind) == NULL*" },
  { "add-bad-kind", add_out_of_range_kind, NULL, "*CRITICAL*kind_is_valid*" },
  { "add-fs-read-null", add_fs_read_null, NULL, "*CRITICAL*path != NULL*" },
  { "add-fs-write-null", add_fs_write_null, NULL, "*CRITICAL*path != NULL*" },
  { "add-llm-null", add_llm_null, NULL, "*CRITICAL*model != NULL*" },
  { "add-cost-too-large", add_cost_too_large, NULL, "*CRITICAL*cents <= G_MAXINT64*" },
};

static void
test_add_plain_kinds_allowed (void)
{
  g_autoptr(NixExecEffectSet) set = nix_exec_effect_set_new ();

  /* Every kind without a payload goes through add() without complaint. */
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_PURE);
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_FALLIBLE);
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_NETWORK);
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC);
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_PROCESS);
  nix_exec_effect_set_add (set, NIX_EXEC_EFFECT_KIND_UNKNOWN);
  assert_set_string (set,
                     "{\"effects\":[{\"effect\":\"Pure\"},{\"effect\":\"Fallible\"},"
                     "{\"effect\":\"Network\"},{\"effect\":\"NonDeterministic\"},"
                     "{\"effect\":\"Process\"},{\"effect\":\"Unknown\"}]}");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_summary ("NixExecEffectSet: construction, set semantics, accessors and the JSON form");

  g_test_add_func ("/nixexec/effects/new/empty", test_new_empty);
  g_test_add_func ("/nixexec/effects/new/pure", test_new_pure);
  g_test_add_func ("/nixexec/effects/new/unknown", test_new_unknown);
  g_test_add_func ("/nixexec/effects/json/reference-round-trip", test_reference_round_trip);
  g_test_add_func ("/nixexec/effects/json/kind-names", test_kind_names);
  g_test_add_func ("/nixexec/effects/json/string-payloads", test_string_payloads);
  g_test_add_func ("/nixexec/effects/json/not-utf8", test_json_node_not_utf8);
  for (guint i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/nixexec/effects/json/malformed/%u", i);

      g_test_add_data_func (path, &malformed_cases[i], test_malformed);
    }
  g_test_add_func ("/nixexec/effects/dedup", test_dedup);
  g_test_add_func ("/nixexec/effects/literal-semantics", test_literal_semantics);
  g_test_add_func ("/nixexec/effects/insertion-order", test_insertion_order);
  g_test_add_func ("/nixexec/effects/copy", test_copy);
  g_test_add_func ("/nixexec/effects/equal", test_equal);
  g_test_add_func ("/nixexec/effects/is-pure", test_is_pure);
  g_test_add_func ("/nixexec/effects/accessors", test_accessors_follow_changes);
  g_test_add_func ("/nixexec/effects/cost", test_cost);
  g_test_add_func ("/nixexec/effects/add/plain-kinds", test_add_plain_kinds_allowed);
  nix_exec_test_add_critical ("/nixexec/effects/critical", critical_cases,
                              G_N_ELEMENTS (critical_cases));

  return g_test_run ();
}
