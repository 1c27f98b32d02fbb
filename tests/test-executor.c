/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The executor end to end: stages in every language run through real nix on
 * the bundled runtime flake.
 */
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "nixexec-test-util.h"

typedef struct
{
  char            *cache_dir;
  NixExecExecutor *executor;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-executor");
  fixture->executor = nix_exec_test_executor_new (fixture->cache_dir);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->executor);
  nix_exec_test_rm_rf (fixture->cache_dir);
  g_clear_pointer (&fixture->cache_dir, g_free);
}

static void
register_stage (Fixture    *fixture,
                const char *stage_id,
                const char *language,
                const char *code)
{
  nix_exec_test_register (fixture->executor, stage_id, language, code);
}

/* Runs @stage_id on @input_json and returns the compact JSON of the result,
 * or NULL with @error set. */
static char *
run_stage (Fixture     *fixture,
           const char  *stage_id,
           const char  *input_json,
           GError     **error)
{
  g_autoptr(JsonNode) input = nix_exec_test_json (input_json);
  g_autoptr(JsonNode) output = NULL;

  output = nix_exec_executor_execute (fixture->executor, stage_id, input, NULL, error);
  if (output == NULL)
    return NULL;
  return nix_exec_test_to_json (output);
}

static void
assert_stage_output (Fixture    *fixture,
                     const char *stage_id,
                     const char *input_json,
                     const char *expected_json)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = run_stage (fixture, stage_id, input_json, &error);
  g_autoptr(JsonNode) expected = nix_exec_test_json (expected_json);
  g_autofree char *expected_text = nix_exec_test_to_json (expected);

  g_assert_no_error (error);
  g_assert_cmpstr (output, ==, expected_text);
}

static void
assert_stage_error (Fixture     *fixture,
                    const char  *stage_id,
                    const char  *input_json,
                    GQuark       domain,
                    int          code,
                    const char  *expected_text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = run_stage (fixture, stage_id, input_json, &error);

  g_assert_null (output);
  g_assert_error (error, domain, code);
  if (expected_text != NULL && strstr (error->message, expected_text) == NULL)
    g_error ("“%s” is not in the error message “%s”", expected_text, error->message);
}

static const char *identity_code[] = {
  "def execute(input):\n    return input\n",
  "function execute(input) {\n  return input;\n}\n",
  "execute() {\n  printf '%s' \"$1\"\n}\n",
};
static const char *languages[] = { "python", "javascript", "bash" };

static void
test_identity (Fixture       *fixture,
               gconstpointer  user_data)
{
  const char *input = "{\"a\":[1,2.5,{\"b\":null}],\"s\":\"héllo \\\"world\\\"\\n\",\"t\":true}";

  for (guint i = 0; i < G_N_ELEMENTS (languages); i++)
    {
      register_stage (fixture, languages[i], languages[i], identity_code[i]);
      assert_stage_output (fixture, languages[i], input, input);
      assert_stage_output (fixture, languages[i], "[]", "[]");
      assert_stage_output (fixture, languages[i], "42", "42");
    }
}

static void
test_transform (Fixture       *fixture,
                gconstpointer  user_data)
{
  register_stage (fixture, "py", "python3",
                  "def execute(input):\n"
                  "    return {'sum': sum(input['xs']), 'upper': input['name'].upper()}\n");
  register_stage (fixture, "js", "js",
                  "function execute(input) {\n"
                  "  return { sum: input.xs.reduce((a, b) => a + b, 0),\n"
                  "           upper: input.name.toUpperCase() };\n"
                  "}\n");
  register_stage (fixture, "sh", "sh",
                  "execute() {\n"
                  "  printf '{\"wrapped\":%s,\"args\":%d}' \"$1\" \"$#\"\n"
                  "}\n");

  assert_stage_output (fixture, "py", "{\"xs\":[1,2,3],\"name\":\"ada\"}",
                       "{\"sum\":6,\"upper\":\"ADA\"}");
  assert_stage_output (fixture, "js", "{\"xs\":[1,2,3],\"name\":\"ada\"}",
                       "{\"sum\":6,\"upper\":\"ADA\"}");
  assert_stage_output (fixture, "sh", "{\"k\":[1]}", "{\"wrapped\":{\"k\":[1]},\"args\":1}");
}

static void
test_language_tags (Fixture       *fixture,
                    gconstpointer  user_data)
{
  register_stage (fixture, "a", "PYTHON3", identity_code[0]);
  register_stage (fixture, "b", "Js", identity_code[1]);
  register_stage (fixture, "c", "SH", identity_code[2]);
  register_stage (fixture, "d", "Bash", identity_code[2]);
  register_stage (fixture, "e", "JavaScript", identity_code[1]);

  assert_stage_output (fixture, "a", "1", "1");
  assert_stage_output (fixture, "b", "2", "2");
  assert_stage_output (fixture, "c", "3", "3");
  assert_stage_output (fixture, "d", "4", "4");
  assert_stage_output (fixture, "e", "5", "5");
}

static void
test_async_def_and_promise (Fixture       *fixture,
                            gconstpointer  user_data)
{
  register_stage (fixture, "py", "python",
                  "import asyncio\n"
                  "async def execute(input):\n"
                  "    await asyncio.sleep(0.01)\n"
                  "    return {'awaited': input}\n");
  register_stage (fixture, "js", "javascript",
                  "function execute(input) {\n"
                  "  return new Promise((resolve) => setTimeout(() => resolve({ awaited: input }), 10));\n"
                  "}\n");
  register_stage (fixture, "js-async", "javascript",
                  "async function execute(input) {\n"
                  "  await null;\n"
                  "  return { awaited: input };\n"
                  "}\n");

  assert_stage_output (fixture, "py", "[1]", "{\"awaited\":[1]}");
  assert_stage_output (fixture, "js", "[2]", "{\"awaited\":[2]}");
  assert_stage_output (fixture, "js-async", "[3]", "{\"awaited\":[3]}");
}

static void
test_printing_goes_to_logs (Fixture       *fixture,
                            gconstpointer  user_data)
{
  register_stage (fixture, "py", "python",
                  "import os, sys\n"
                  "print('printed at import')\n"
                  "def execute(input):\n"
                  "    print('not the result', input)\n"
                  "    sys.stdout.write('{\"fake\": 1}\\n')\n"
                  "    os.system('echo from a child process')\n"
                  "    return {'ok': True}\n");
  register_stage (fixture, "js", "javascript",
                  "console.log('printed at load');\n"
                  "function execute(input) {\n"
                  "  console.log('not the result', input);\n"
                  "  console.info('info too');\n"
                  "  process.stdout.write('{\"fake\": 1}\\n');\n"
                  "  require('fs').writeSync(1, 'a logger writing to fd 1\\n');\n"
                  "  return { ok: true };\n"
                  "}\n");

  assert_stage_output (fixture, "py", "7", "{\"ok\":true}");
  assert_stage_output (fixture, "js", "7", "{\"ok\":true}");
}

static void
test_input_decoded_once (Fixture       *fixture,
                         gconstpointer  user_data)
{
  register_stage (fixture, "py", "python",
                  "def execute(input):\n"
                  "    return {'type': type(input).__name__, 'value': input}\n");
  register_stage (fixture, "js", "javascript",
                  "function execute(input) {\n"
                  "  return { type: input === null ? 'null' : typeof input, value: input };\n"
                  "}\n");

  /* A string whose text is itself JSON stays a string. */
  assert_stage_output (fixture, "py", "\"[1, 2]\"", "{\"type\":\"str\",\"value\":\"[1, 2]\"}");
  assert_stage_output (fixture, "js", "\"[1, 2]\"", "{\"type\":\"string\",\"value\":\"[1, 2]\"}");
  assert_stage_output (fixture, "py", "\"null\"", "{\"type\":\"str\",\"value\":\"null\"}");
  /* null stays null. */
  assert_stage_output (fixture, "py", "null", "{\"type\":\"NoneType\",\"value\":null}");
  assert_stage_output (fixture, "js", "null", "{\"type\":\"null\",\"value\":null}");
}

static void
test_null_input_pointer (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;

  register_stage (fixture, "py", "python",
                  "def execute(input):\n    return input is None\n");
  output = nix_exec_executor_execute (fixture->executor, "py", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_get_boolean (output));
}

static void
test_exception (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  register_stage (fixture, "py", "python",
                  "def helper(x):\n"
                  "    raise ValueError('bad value %d' % x)\n"
                  "def execute(input):\n"
                  "    return helper(input)\n");
  register_stage (fixture, "js", "javascript",
                  "function execute(input) {\n"
                  "  throw new TypeError('nope ' + input);\n"
                  "}\n");
  register_stage (fixture, "js-reject", "javascript",
                  "async function execute(input) {\n"
                  "  throw new RangeError('rejected');\n"
                  "}\n");
  register_stage (fixture, "sh", "bash",
                  "execute() {\n"
                  "  echo 'something went wrong in bash' >&2\n"
                  "  return 3\n"
                  "}\n");

  output = run_stage (fixture, "py", "5", &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "ValueError: bad value 5"));
  /* The traceback reaches the caller, with the stage's own frames. */
  g_assert_nonnull (strstr (error->message, "Traceback"));
  g_assert_nonnull (strstr (error->message, "helper"));
  g_clear_error (&error);

  assert_stage_error (fixture, "js", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                      "TypeError: nope 1");
  assert_stage_error (fixture, "js-reject", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                      "RangeError: rejected");
  assert_stage_error (fixture, "sh", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                      "something went wrong in bash");
  assert_stage_error (fixture, "sh", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                      "status 3");
}

static void
test_stage_stderr_is_not_a_nix_error (Fixture       *fixture,
                                      gconstpointer  user_data)
{
  /* Text that nix would print must not turn a stage failure into a nix one. */
  register_stage (fixture, "py", "python",
                  "import sys\n"
                  "def execute(input):\n"
                  "    print(\"error: cannot connect to socket at '/nix/var/nix/daemon-socket/socket'\", file=sys.stderr)\n"
                  "    print('error: unable to download: No space left on device', file=sys.stderr)\n"
                  "    raise FileNotFoundError('No such file or directory: nix')\n");
  register_stage (fixture, "sh", "bash",
                  "execute() {\n"
                  "  echo 'nix: command not found' >&2\n"
                  "  echo \"error: cannot connect to socket at '/nix/var/nix/daemon-socket/socket'\" >&2\n"
                  "  exit 127\n"
                  "}\n");

  assert_stage_error (fixture, "py", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                      "FileNotFoundError");
  assert_stage_error (fixture, "sh", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                      "status 127");
}

static void
test_missing_execute (Fixture       *fixture,
                      gconstpointer  user_data)
{
  register_stage (fixture, "py", "python", "def run(input):\n    return input\n");
  register_stage (fixture, "py-nested", "python",
                  "class X:\n    def execute(self, input):\n        return input\n");
  register_stage (fixture, "js", "javascript", "function run(input) { return input; }\n");
  register_stage (fixture, "sh", "bash", "run() { echo 1; }\n");

  for (guint i = 0; i < 4; i++)
    {
      const char *ids[] = { "py", "py-nested", "js", "sh" };
      assert_stage_error (fixture, ids[i], "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                          "execute");
    }
}

static void
test_syntax_error (Fixture       *fixture,
                   gconstpointer  user_data)
{
  register_stage (fixture, "py", "python", "def execute(input:\n    return input\n");
  register_stage (fixture, "js", "javascript", "function execute(input) { return input; \n");

  assert_stage_error (fixture, "py", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                      "SyntaxError");
  assert_stage_error (fixture, "js", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                      "SyntaxError");
}

static void
test_invalid_output (Fixture       *fixture,
                     gconstpointer  user_data)
{
  register_stage (fixture, "text", "bash", "execute() { echo 'not json at all'; }\n");
  register_stage (fixture, "two", "bash", "execute() { echo '{} {}'; }\n");
  register_stage (fixture, "empty", "bash", "execute() { :; }\n");
  register_stage (fixture, "truncated", "bash", "execute() { printf '{\"a\": [1, 2'; }\n");
  register_stage (fixture, "py-set", "python", "def execute(input):\n    return {1, 2}\n");
  register_stage (fixture, "py-nan", "python", "def execute(input):\n    return float('nan')\n");
  register_stage (fixture, "js-bigint", "javascript", "function execute(input) { return 10n; }\n");

  assert_stage_error (fixture, "text", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                      "not json at all");
  assert_stage_error (fixture, "two", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT, NULL);
  assert_stage_error (fixture, "empty", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT, NULL);
  assert_stage_error (fixture, "truncated", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                      NULL);
  assert_stage_error (fixture, "py-set", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                      "JSON");
  assert_stage_error (fixture, "py-nan", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                      NULL);
  assert_stage_error (fixture, "js-bigint", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                      NULL);
}

static void
test_python_packages (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(NixExecResult) with_packages = NULL;
  g_autoptr(NixExecResult) plain = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  /* One package found by its import, one named by a requires header: the
   * stage runs on python3.withPackages of both, built from the flake. */
  register_stage (fixture, "deps", "python",
                  "# requires: nixexec-fake-beta\n"
                  "import json\n"
                  "import nixexec_fake_alpha\n"
                  "def execute(input):\n"
                  "    import nixexec_fake_beta\n"
                  "    return [nixexec_fake_alpha.VALUE, nixexec_fake_beta.VALUE]\n");
  /* (An import the scanner cannot see: the stage gets plain python3.) */
  register_stage (fixture, "plain", "python",
                  "import importlib\n"
                  "def execute(input):\n"
                  "    importlib.import_module('nixexec_fake_' + 'alpha')\n"
                  "    return 1\n");
  register_stage (fixture, "unknown", "python",
                  "import nixexec_no_such_package\n"
                  "def execute(input):\n    return 1\n");
  register_stage (fixture, "bad-requires", "python",
                  "# requires: alpha; rm -rf /\n"
                  "def execute(input):\n    return 1\n");

  with_packages = nix_exec_executor_execute_full (fixture->executor, "deps", NULL, NULL, &error);
  g_assert_no_error (error);
  output = nix_exec_test_to_json (nix_exec_result_get_output (with_packages));
  g_assert_cmpstr (output, ==, "[\"alpha\",\"beta\"]");

  /* The packages are on that runtime only, not on plain python3's. */
  plain = nix_exec_executor_execute_full (fixture->executor, "plain", NULL, NULL, &error);
  g_assert_null (plain);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "ModuleNotFoundError"));
  g_clear_error (&error);

  /* A package the flake does not have is nix's error, about that package. */
  assert_stage_error (fixture, "unknown", "null", NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                      "nixexec_no_such_package");
  assert_stage_error (fixture, "bad-requires", "null", NIX_EXEC_ERROR,
                      NIX_EXEC_ERROR_INVALID_STAGE, "requires");
}

static void
test_unknown_stage (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_assert_false (nix_exec_executor_has_implementation (fixture->executor, "nope"));
  assert_stage_error (fixture, "nope", "1", NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_NOT_FOUND,
                      "nope");
}

static void
test_invalid_registration (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = nix_exec_executor_register_with_effects (fixture->executor, "rb", "def execute(i) i end",
                                                "ruby", NULL, &error);
  g_assert_false (ok);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_assert_nonnull (strstr (error->message, "ruby"));
  g_clear_error (&error);

  ok = nix_exec_executor_register_with_effects (fixture->executor, "blank", " \n\t", "python",
                                                NULL, &error);
  g_assert_false (ok);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_clear_error (&error);

  ok = nix_exec_executor_register_with_effects (fixture->executor, "", identity_code[0], "python",
                                                NULL, &error);
  g_assert_false (ok);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);

  g_assert_false (nix_exec_executor_has_implementation (fixture->executor, "rb"));
  g_assert_false (nix_exec_executor_has_implementation (fixture->executor, "blank"));
}

static void
test_store_with_unknown_language (Fixture       *fixture,
                                  gconstpointer  user_data)
{
  g_autoptr(NixExecMemoryStore) store = nix_exec_memory_store_new ();
  g_autoptr(NixExecStage) ruby = nix_exec_stage_new ("rb", "def execute(i) i end", "ruby", NULL);
  g_autoptr(NixExecStage) no_code = nix_exec_stage_new ("empty", "", "python", NULL);
  g_autoptr(NixExecStage) python = nix_exec_stage_new ("py", identity_code[0], "python", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"x\":1}");
  g_autoptr(JsonNode) output = NULL;

  nix_exec_memory_store_add (store, ruby);
  nix_exec_memory_store_add (store, no_code);
  nix_exec_memory_store_add (store, python);

  executor = nix_exec_executor_new_from_store_with_config (NIX_EXEC_STAGE_STORE (store), config,
                                                           &error);
  g_assert_no_error (error);
  g_assert_true (nix_exec_executor_has_implementation (executor, "py"));
  g_assert_true (nix_exec_executor_has_implementation (executor, "rb"));
  g_assert_false (nix_exec_executor_has_implementation (executor, "empty"));

  output = nix_exec_executor_execute (executor, "py", input, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (output, input));

  g_clear_pointer (&output, json_node_unref);
  output = nix_exec_executor_execute (executor, "rb", input, NULL, &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_assert_nonnull (strstr (error->message, "ruby"));
}

/* A shim in front of the real nix that counts its invocations. */
static char *
make_counting_nix (const char *dir,
                   const char *log_path)
{
  g_autofree char *real_nix = nix_exec_executor_find_nix ();
  g_autofree char *shim = g_build_filename (dir, "nix", NULL);
  g_autofree char *script = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (real_nix);
  script = g_strdup_printf ("#!/bin/sh\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n",
                            log_path, real_nix);
  g_file_set_contents (shim, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (shim, 0755), ==, 0);
  return g_steal_pointer (&shim);
}

static guint
count_lines (const char *path)
{
  g_autofree char *contents = NULL;
  guint lines = 0;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  for (const char *p = contents; *p != '\0'; p++)
    lines += *p == '\n';
  return lines;
}

static void
on_runtime_resolved (NixExecExecutor *executor,
                     const char      *runtime,
                     const char      *path,
                     gpointer         user_data)
{
  g_hash_table_replace (user_data, g_strdup (runtime), g_strdup (path));
}

static void
test_warmup_then_execute (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autofree char *log_path = g_build_filename (fixture->cache_dir, "nix-calls.log", NULL);
  g_autofree char *shim = make_counting_nix (fixture->cache_dir, log_path);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *calls = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GHashTable) resolved = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint n_metadata = 0, n_builds = 0;

  nix_exec_config_set_nix_path (config, shim);
  g_clear_object (&fixture->executor);
  fixture->executor = executor = nix_exec_executor_new (config, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nix_exec_executor_get_nix_path (executor), ==, shim);
  g_object_ref (executor);

  for (guint i = 0; i < G_N_ELEMENTS (languages); i++)
    register_stage (fixture, languages[i], languages[i], identity_code[i]);

  g_signal_connect (executor, "runtime-resolved", G_CALLBACK (on_runtime_resolved), resolved);
  nix_exec_test_warmup (executor);

  /* Progress was reported for each runtime, with its store path. */
  g_assert_cmpuint (g_hash_table_size (resolved), ==, 3);
  g_assert_true (g_str_has_prefix (g_hash_table_lookup (resolved, "python3"), "/nix/store/"));
  g_assert_true (g_str_has_prefix (g_hash_table_lookup (resolved, "nodejs"), "/nix/store/"));
  g_assert_true (g_str_has_prefix (g_hash_table_lookup (resolved, "bash"), "/nix/store/"));

  /* The flake was locked once, then every runtime the stages need was
   * built from the locked URL — not only python's. */
  g_assert_true (g_file_get_contents (log_path, &calls, NULL, NULL));
  g_assert_cmpuint (count_lines (log_path), ==, 4);
  lines = g_strsplit (calls, "\n", -1);
  for (guint i = 0; lines[i] != NULL && *lines[i] != '\0'; i++)
    {
      g_assert_nonnull (strstr (lines[i], "--extra-experimental-features nix-command flakes"));
      if (strstr (lines[i], " flake metadata --json") != NULL)
        {
          n_metadata++;
          continue;
        }
      g_assert_nonnull (strstr (lines[i], " build --json --out-link "));
      g_assert_nonnull (strstr (lines[i], "narHash="));
      n_builds++;
    }
  g_assert_cmpuint (n_metadata, ==, 1);
  g_assert_cmpuint (n_builds, ==, 3);
  g_assert_nonnull (strstr (calls, "#python3"));
  g_assert_nonnull (strstr (calls, "#nodejs"));
  g_assert_nonnull (strstr (calls, "#bash"));

  /* And calls run the resolved interpreters directly: nix is not run again. */
  for (guint round = 0; round < 3; round++)
    for (guint i = 0; i < G_N_ELEMENTS (languages); i++)
      assert_stage_output (fixture, languages[i], "{\"round\":1}", "{\"round\":1}");
  g_assert_cmpuint (count_lines (log_path), ==, 4);

  /* A second warmup has nothing left to resolve. */
  nix_exec_test_warmup (executor);
  g_assert_cmpuint (count_lines (log_path), ==, 4);
}

static void
test_warmup_cancelled (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  register_stage (fixture, "py", "python", identity_code[0]);
  g_cancellable_cancel (cancellable);
  nix_exec_executor_warmup_async (fixture->executor, cancellable, nix_exec_test_on_done, &result);
  nix_exec_test_wait (&result);
  g_assert_false (nix_exec_executor_warmup_finish (fixture->executor, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_rebuild_keeps_stages (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(NixExecConfig) rebuilt_config = NULL;
  g_autoptr(NixExecExecutor) rebuilt = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"v\":3}");
  g_autoptr(JsonNode) output = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (languages); i++)
    register_stage (fixture, languages[i], languages[i], identity_code[i]);

  config = nix_exec_executor_config_snapshot (fixture->executor);
  nix_exec_config_set_timeout_secs (config, 7);
  rebuilt = nix_exec_executor_rebuild_with_config (fixture->executor, config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rebuilt);
  g_assert_true (rebuilt != fixture->executor);

  ids = nix_exec_executor_list_stage_ids (rebuilt);
  g_assert_cmpuint (g_strv_length (ids), ==, 3);
  g_assert_cmpstr (ids[0], ==, "bash");
  g_assert_cmpstr (ids[1], ==, "javascript");
  g_assert_cmpstr (ids[2], ==, "python");

  rebuilt_config = nix_exec_executor_config_snapshot (rebuilt);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (rebuilt_config), ==, 7);

  for (guint i = 0; i < G_N_ELEMENTS (languages); i++)
    {
      g_clear_pointer (&output, json_node_unref);
      output = nix_exec_executor_execute (rebuilt, languages[i], input, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (json_node_equal (output, input));
    }

  /* The rebuilt executor's registrations are its own. */
  g_assert_true (nix_exec_executor_register_with_effects (rebuilt, "extra", identity_code[0],
                                                          "python", NULL, &error));
  g_assert_false (nix_exec_executor_has_implementation (fixture->executor, "extra"));

  /* A config naming a missing nix cannot be rebuilt with. */
  nix_exec_config_set_nix_path (config, "/nonexistent/bin/nix");
  g_clear_object (&rebuilt);
  rebuilt = nix_exec_executor_rebuild_with_config (fixture->executor, config, &error);
  g_assert_null (rebuilt);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
}

static void
test_config_snapshot_is_copy (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecConfig) first = NULL;
  g_autoptr(NixExecConfig) second = NULL;
  g_autoptr(NixExecConfig) from_property = NULL;
  g_autoptr(GError) error = NULL;

  nix_exec_config_set_timeout_secs (config, 11);
  executor = nix_exec_executor_new (config, &error);
  g_assert_no_error (error);

  /* Changing the config given to the constructor changes nothing. */
  nix_exec_config_set_timeout_secs (config, 99);

  first = nix_exec_executor_config_snapshot (executor);
  g_assert_true (first != config);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (first), ==, 11);
  g_assert_cmpstr (nix_exec_config_get_cache_dir (first), ==, fixture->cache_dir);

  /* Nor does changing a snapshot. */
  nix_exec_config_set_timeout_secs (first, 1);
  nix_exec_config_set_flake_ref (first, "path:/elsewhere");
  second = nix_exec_executor_config_snapshot (executor);
  g_assert_true (second != first);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (second), ==, 11);
  g_assert_cmpstr (nix_exec_config_get_flake_ref (second), ==, g_getenv ("NIXEXEC_TEST_FLAKE"));

  g_object_get (executor, "config", &from_property, NULL);
  g_assert_true (from_property != second);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (from_property), ==, 11);
}

static void
test_nix_not_found (void)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  g_autoptr(NixExecMemoryStore) store = nix_exec_memory_store_new ();
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *saved_path = g_strdup (g_getenv ("PATH"));
  g_autofree char *empty_dir = nix_exec_test_make_tmpdir ("nixexec-empty-path");
  g_autofree char *not_executable = g_build_filename (empty_dir, "nix", NULL);

  /* A configured nix that does not exist. */
  nix_exec_config_set_nix_path (config, "/nonexistent/bin/nix");
  executor = nix_exec_executor_new_from_store_with_config (NIX_EXEC_STAGE_STORE (store), config,
                                                           &error);
  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/bin/nix"));
  g_clear_error (&error);

  /* One that exists but cannot be run. */
  g_assert_true (g_file_set_contents (not_executable, "#!/bin/sh\n", -1, NULL));
  g_assert_cmpint (g_chmod (not_executable, 0644), ==, 0);
  nix_exec_config_set_nix_path (config, not_executable);
  executor = nix_exec_executor_new (config, &error);
  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_clear_error (&error);

  /* None on the machine: PATH without nix (the profile paths are checked
   * first; on a machine that has them this case cannot be made). */
  if (g_file_test ("/nix/var/nix/profiles/default/bin/nix", G_FILE_TEST_EXISTS) ||
      g_file_test ("/run/current-system/sw/bin/nix", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("This machine has nix in a profile path");
      nix_exec_test_rm_rf (empty_dir);
      return;
    }

  g_setenv ("PATH", empty_dir, TRUE);
  g_assert_null (nix_exec_executor_find_nix ());
  executor = nix_exec_executor_new_from_store (NIX_EXEC_STAGE_STORE (store), &error);
  g_setenv ("PATH", saved_path, TRUE);

  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "nix-path"));
  nix_exec_test_rm_rf (empty_dir);
}

static void
test_find_nix_walks_path (void)
{
  g_autofree char *saved_path = g_strdup (g_getenv ("PATH"));
  g_autofree char *dir = nix_exec_test_make_tmpdir ("nixexec-path");
  g_autofree char *fake = g_build_filename (dir, "nix", NULL);
  g_autofree char *search = g_strdup_printf ("/nonexistent:%s:%s", dir, saved_path);
  g_autofree char *found = NULL;

  if (g_file_test ("/nix/var/nix/profiles/default/bin/nix", G_FILE_TEST_EXISTS) ||
      g_file_test ("/run/current-system/sw/bin/nix", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("This machine has nix in a profile path");
      nix_exec_test_rm_rf (dir);
      return;
    }

  g_assert_true (g_file_set_contents (fake, "#!/bin/sh\n", -1, NULL));
  g_assert_cmpint (g_chmod (fake, 0755), ==, 0);

  g_setenv ("PATH", search, TRUE);
  found = nix_exec_executor_find_nix ();
  g_setenv ("PATH", saved_path, TRUE);

  g_assert_cmpstr (found, ==, fake);
  nix_exec_test_rm_rf (dir);
}

static void
test_script_cache (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autofree char *scripts = g_build_filename (fixture->cache_dir, "scripts", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;
  GStatBuf st;
  guint n_files = 0;

  register_stage (fixture, "py", "python", identity_code[0]);
  register_stage (fixture, "py-again", "python", identity_code[0]);
  register_stage (fixture, "js", "javascript", identity_code[1]);
  assert_stage_output (fixture, "py", "1", "1");
  assert_stage_output (fixture, "py-again", "1", "1");
  assert_stage_output (fixture, "js", "1", "1");

  g_assert_cmpint (g_stat (scripts, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* Content-addressed: the same code is one script, whatever its id. */
  dir = g_dir_open (scripts, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (scripts, name, NULL);

      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_cmpint (st.st_mode & 0077, ==, 0);
      n_files++;
    }
  g_assert_cmpuint (n_files, ==, 2);
}

typedef struct
{
  guint remaining;
  guint failures;
  GPtrArray *outputs;
} RaceState;

static void
on_race_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  RaceState *state = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *output;

  output = nix_exec_executor_execute_finish (NIX_EXEC_EXECUTOR (object), result, &error);
  if (output == NULL)
    {
      g_test_message ("race call failed: %s", error->message);
      state->failures++;
    }
  else
    {
      g_ptr_array_add (state->outputs, output);
    }
  state->remaining--;
}

static void
test_executors_race_on_script (void)
{
  g_autofree char *cache_dir = nix_exec_test_make_tmpdir ("nixexec-race");
  g_autoptr(NixExecExecutor) first = nix_exec_test_executor_new (cache_dir);
  g_autoptr(NixExecExecutor) second = nix_exec_test_executor_new (cache_dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"race\":true}");
  RaceState state = { 0, 0, g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref) };
  const char *code = "def execute(input):\n    return {'seen': input}\n";

  /* Two executors share one cache directory and start on the same, not yet
   * written, script at once: every call must see a whole script. */
  nix_exec_test_register (first, "s", "python", code);
  nix_exec_test_register (second, "s", "python", code);

  for (guint i = 0; i < 10; i++)
    {
      state.remaining += 2;
      nix_exec_executor_execute_async (first, "s", input, NULL, on_race_done, &state);
      nix_exec_executor_execute_async (second, "s", input, NULL, on_race_done, &state);
    }
  while (state.remaining > 0)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (state.failures, ==, 0);
  g_assert_cmpuint (state.outputs->len, ==, 20);
  for (guint i = 0; i < state.outputs->len; i++)
    {
      g_autofree char *text = nix_exec_test_to_json (g_ptr_array_index (state.outputs, i));
      g_assert_cmpstr (text, ==, "{\"seen\":{\"race\":true}}");
    }

  g_ptr_array_unref (state.outputs);
  g_clear_object (&first);
  g_clear_object (&second);
  nix_exec_test_rm_rf (cache_dir);
}

/* An executor made with g_object_new(), as the bindings make one, without
 * GInitable's init: set up the same way, and it runs stages. */
static void
test_g_object_new (void)
{
  g_autofree char *cache_dir = nix_exec_test_make_tmpdir ("nixexec-gobject-new");
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecExecutor) defaults = NULL;
  g_autoptr(NixExecConfig) snapshot = NULL;
  g_autoptr(NixExecConfig) default_config = nix_exec_config_new ();
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"n\": 41}");
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;

  executor = g_object_new (NIX_EXEC_TYPE_EXECUTOR, "config", config, NULL);
  g_assert_nonnull (nix_exec_executor_get_nix_path (executor));
  if (!nix_exec_test_allow_no_sandbox ())
    g_assert_true (nix_exec_executor_get_isolation_active (executor));
  nix_exec_test_register (executor, "add", "python",
                          "def execute(input):\n    return input['n'] + 1\n");
  output = nix_exec_executor_execute (executor, "add", input, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (output), ==, 42);
  /* init afterwards is harmless, and changes nothing. */
  g_assert_true (g_initable_init (G_INITABLE (executor), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (nix_exec_executor_has_implementation (executor, "add"));

  /* No config at all: the defaults. */
  defaults = g_object_new (NIX_EXEC_TYPE_EXECUTOR, NULL);
  snapshot = nix_exec_executor_config_snapshot (defaults);
  g_assert_nonnull (snapshot);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (snapshot), ==,
                    nix_exec_config_get_timeout_secs (default_config));

  g_clear_object (&executor);
  nix_exec_test_rm_rf (cache_dir);
}

/* Made with g_object_new() where it cannot run: init and every call say
 * why, nothing crashes. */
static void
test_g_object_new_unusable (void)
{
  g_autofree char *cache_dir = nix_exec_test_make_tmpdir ("nixexec-gobject-new");
  g_autofree char *lock_path = g_build_filename (cache_dir, "exported.lock", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  g_autoptr(NixExecConfig) good = nix_exec_test_config_new (cache_dir);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecExecutor) rebuilt = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"n\": 1}");
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *locked = NULL;

  nix_exec_config_set_nix_path (config, "/nonexistent/bin/nix");
  executor = g_object_new (NIX_EXEC_TYPE_EXECUTOR, "config", config, NULL);
  g_assert_null (nix_exec_executor_get_nix_path (executor));
  g_assert_false (nix_exec_executor_get_isolation_active (executor));

  g_assert_false (g_initable_init (G_INITABLE (executor), NULL, &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_clear_error (&error);

  /* Registering works: the stages can move to a rebuilt executor. */
  nix_exec_test_register (executor, "add", "python",
                          "def execute(input):\n    return input['n'] + 1\n");
  output = nix_exec_executor_execute (executor, "add", input, NULL, &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "could not be set up"));
  g_assert_nonnull (strstr (error->message, "/nonexistent/bin/nix"));
  g_clear_error (&error);

  nix_exec_executor_warmup_async (executor, NULL, nix_exec_test_on_done, &result);
  g_assert_false (nix_exec_executor_warmup_finish (executor, nix_exec_test_wait (&result), &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&result);

  nix_exec_executor_refresh_async (executor, NULL, nix_exec_test_on_done, &result);
  g_assert_false (nix_exec_executor_refresh_finish (executor, nix_exec_test_wait (&result), &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_clear_error (&error);

  locked = nix_exec_executor_dup_locked_flake_url (executor);
  g_assert_null (locked);
  g_assert_false (nix_exec_executor_export_lock (executor, lock_path, &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_assert_false (g_file_test (lock_path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  rebuilt = nix_exec_executor_rebuild_with_config (executor, good, &error);
  g_assert_no_error (error);
  g_clear_pointer (&output, json_node_unref);
  output = nix_exec_executor_execute (rebuilt, "add", input, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (output), ==, 2);

  g_clear_object (&rebuilt);
  g_clear_object (&executor);
  nix_exec_test_rm_rf (cache_dir);
}

/* After g_object_run_dispose() (a binding may call it, or a reference
 * cycle), every call answers: no stages, CLOSED errors, no crash. */
static void
test_disposed (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autofree char *lock_path = g_build_filename (fixture->cache_dir, "exported.lock", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);
  g_autoptr(NixExecConfig) snapshot = NULL;
  g_autoptr(NixExecExecutor) rebuilt = NULL;
  g_autoptr(NixExecStage) stage = nix_exec_stage_new ("late", "def execute(i):\n    return i\n",
                                                      "python", NULL);
  g_autoptr(JsonNode) input = nix_exec_test_json ("1");
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;

  register_stage (fixture, "echo", "python", "def execute(i):\n    return i\n");
  g_object_run_dispose (G_OBJECT (fixture->executor));
  g_object_run_dispose (G_OBJECT (fixture->executor));

  ids = nix_exec_executor_list_stage_ids (fixture->executor);
  g_assert_nonnull (ids);
  g_assert_cmpuint (g_strv_length (ids), ==, 0);
  g_assert_false (nix_exec_executor_has_implementation (fixture->executor, "echo"));

  output = nix_exec_executor_execute (fixture->executor, "echo", input, NULL, &error);
  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  nix_exec_executor_execute_async (fixture->executor, "echo", input, NULL,
                                   nix_exec_test_on_done, &result);
  output = nix_exec_executor_execute_finish (fixture->executor, nix_exec_test_wait (&result),
                                             &error);
  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_clear_object (&result);

  g_assert_false (nix_exec_executor_add_stage (fixture->executor, stage, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (nix_exec_executor_has_implementation (fixture->executor, "late"));

  nix_exec_executor_warmup_async (fixture->executor, NULL, nix_exec_test_on_done, &result);
  g_assert_false (nix_exec_executor_warmup_finish (fixture->executor, nix_exec_test_wait (&result),
                                                   &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_false (nix_exec_executor_export_lock (fixture->executor, lock_path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  snapshot = nix_exec_executor_config_snapshot (fixture->executor);
  g_assert_nonnull (snapshot);
  rebuilt = nix_exec_executor_rebuild_with_config (fixture->executor, config, &error);
  g_assert_no_error (error);
  g_clear_pointer (&ids, g_strfreev);
  ids = nix_exec_executor_list_stage_ids (rebuilt);
  g_assert_cmpuint (g_strv_length (ids), ==, 0);
}

/* What a hostile or careless stage prints never crashes the host and is
 * never silently changed: each text below is refused as INVALID_OUTPUT,
 * from a one-shot run and from a warm worker's response frame alike. */
static void
test_hostile_output (Fixture       *fixture,
                     gconstpointer  user_data)
{
  static const struct {
    const char *id;
    const char *printf_args;  /* what execute prints, as printf's arguments */
    const char *why;          /* in the message */
  } cases[] = {
    { "deep", "'%.0s[' $(seq 100000)", "deeper than 512" },
    { "two-to-the-64", "'18446744073709551616'", "64" },
    { "wraps", "'12345678901234567890'", "64" },
    { "nul", "'\"a\\\\u0000b\"'", "U+0000" },
    { "overflow", "'1e400'", "double" },
    { "single-quotes", "\"'a'\"", NULL },
    { "hex", "'0x10'", NULL },
    { "leading-zero", "'01'", NULL },
    { "bare-fraction", "'.5'", NULL },
    { "bom", "'\\357\\273\\277{}'", NULL },
    { "raw-control", "'\"a\\001b\"'", NULL },
  };
  gboolean warm = GPOINTER_TO_INT (user_data);
  g_autoptr(NixExecExecutor) executor = NULL;

  if (warm)
    {
      g_autoptr(NixExecConfig) config = nix_exec_executor_config_snapshot (fixture->executor);

      nix_exec_config_set_keep_alive_secs (config, 60);
      executor = nix_exec_test_executor_new_for_config (config);
    }
  else
    {
      executor = g_object_ref (fixture->executor);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *code = g_strdup_printf ("execute() { printf %s; }\n",
                                               cases[i].printf_args);
      g_autoptr(JsonNode) input = nix_exec_test_json ("1");
      g_autoptr(JsonNode) output = NULL;
      g_autoptr(GError) error = NULL;

      nix_exec_test_register (executor, cases[i].id, "bash", code);
      /* Twice: a worker must be usable, or replaced, after a bad frame. */
      for (guint call = 0; call < 2; call++)
        {
          g_clear_error (&error);
          output = nix_exec_executor_execute (executor, cases[i].id, input, NULL, &error);
          g_assert_null (output);
          g_test_message ("%s: %s", cases[i].id, error->message);
          g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
          if (cases[i].why != NULL)
            g_assert_nonnull (strstr (error->message, cases[i].why));
        }
    }

  /* And the executor still runs a good stage. */
  nix_exec_test_register (executor, "good", "bash", "execute() { printf '[1, 2.5, \"x\"]'; }\n");
  {
    g_autoptr(JsonNode) input = nix_exec_test_json ("1");
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) output = nix_exec_executor_execute (executor, "good", input, NULL, &error);
    g_autofree char *text = NULL;

    g_assert_no_error (error);
    text = nix_exec_test_to_json (output);
    g_assert_cmpstr (text, ==, "[1,2.5,\"x\"]");
  }
}

/* An input the application built deeper than the limit is refused with a
 * GError before anything runs. */
static void
test_deep_input (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(JsonNode) input = json_node_init_array (json_node_alloc (), json_array_new ());
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *inner = input;

  /* Deep enough to be refused, shallow enough for json-glib to free. */
  for (guint i = 0; i < 10000; i++)
    {
      JsonNode *child = json_node_init_array (json_node_alloc (), json_array_new ());

      json_array_add_element (json_node_get_array (inner), child);
      inner = child;
    }
  register_stage (fixture, "echo", "python", "def execute(input):\n    return input\n");
  output = nix_exec_executor_execute (fixture->executor, "echo", input, NULL, &error);
  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "echo"));
  g_assert_nonnull (strstr (error->message, "512"));
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child here, needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/executor/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("identity", test_identity);
  ADD ("transform", test_transform);
  ADD ("language-tags", test_language_tags);
  ADD ("async-def-and-promise", test_async_def_and_promise);
  ADD ("printing-goes-to-logs", test_printing_goes_to_logs);
  ADD ("input-decoded-once", test_input_decoded_once);
  ADD ("null-input-pointer", test_null_input_pointer);
  ADD ("exception", test_exception);
  ADD ("stage-stderr-is-not-a-nix-error", test_stage_stderr_is_not_a_nix_error);
  ADD ("missing-execute", test_missing_execute);
  ADD ("syntax-error", test_syntax_error);
  ADD ("invalid-output", test_invalid_output);
  ADD ("python-packages", test_python_packages);
  ADD ("unknown-stage", test_unknown_stage);
  ADD ("invalid-registration", test_invalid_registration);
  ADD ("store-with-unknown-language", test_store_with_unknown_language);
  ADD ("warmup-then-execute", test_warmup_then_execute);
  ADD ("warmup-cancelled", test_warmup_cancelled);
  ADD ("rebuild-keeps-stages", test_rebuild_keeps_stages);
  ADD ("config-snapshot-is-copy", test_config_snapshot_is_copy);
  ADD ("script-cache", test_script_cache);
  ADD ("disposed", test_disposed);
  ADD ("deep-input", test_deep_input);
#undef ADD

  g_test_add ("/nixexec/executor/hostile-output", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_hostile_output, fixture_tear_down);
  g_test_add ("/nixexec/executor/hostile-output-warm", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_hostile_output, fixture_tear_down);

  g_test_add_func ("/nixexec/executor/g-object-new", test_g_object_new);
  g_test_add_func ("/nixexec/executor/g-object-new-unusable", test_g_object_new_unusable);

  g_test_add_func ("/nixexec/executor/nix-not-found", test_nix_not_found);
  g_test_add_func ("/nixexec/executor/find-nix-walks-path", test_find_nix_walks_path);
  g_test_add_func ("/nixexec/executor/executors-race-on-script", test_executors_race_on_script);

  g_test_summary ("The executor runs stages in every language through real nix");
  return g_test_run ();
}
