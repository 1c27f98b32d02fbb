/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pinned runtimes and provenance: the flake is locked once, the same store
 * paths run until a refresh, a lock file reproduces them elsewhere, every
 * result says what ran it, and host interpreters are never used silently.
 */
#include <glib/gstdio.h>

#include "nixexec-runtimes-private.h"
#include "nixexec-test-util.h"

typedef struct
{
  char *dir;
  char *flake_dir;
  char *flake_ref;
  char *log_path;
  char *shim;
} Fixture;

static const char *python_code = "def execute(input):\n    return {'echo': input}\n";

/* A private copy of the runtime flake, so that the test can change it. */
static void
write_flake (Fixture    *fixture,
             const char *python_name)
{
  g_autofree char *source = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "runtime-flake",
                                              "flake.nix", NULL);
  g_autofree char *target = g_build_filename (fixture->flake_dir, "flake.nix", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GString) changed = NULL;

  g_assert_true (g_file_get_contents (source, &text, NULL, NULL));
  changed = g_string_new (text);
  g_assert_cmpuint (g_string_replace (changed, "\"nixexec-test-python3\"", python_name, 0), ==, 1);
  g_assert_true (g_file_set_contents (target, changed->str, -1, NULL));
}

/* A shim in front of the real nix that logs each invocation. */
static void
make_logging_nix (Fixture *fixture)
{
  g_autofree char *real_nix = nix_exec_executor_find_nix ();
  g_autofree char *script = NULL;

  g_assert_nonnull (real_nix);
  fixture->shim = g_build_filename (fixture->dir, "nix", NULL);
  fixture->log_path = g_build_filename (fixture->dir, "nix-calls.log", NULL);
  script = g_strdup_printf ("#!/bin/sh\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n",
                            fixture->log_path, real_nix);
  g_assert_true (g_file_set_contents (fixture->shim, script, -1, NULL));
  g_assert_cmpint (g_chmod (fixture->shim, 0755), ==, 0);
}

static guint
nix_calls (Fixture *fixture)
{
  g_autofree char *contents = NULL;
  guint lines = 0;

  if (!g_file_get_contents (fixture->log_path, &contents, NULL, NULL))
    return 0;
  for (const char *p = contents; *p != '\0'; p++)
    lines += *p == '\n';
  return lines;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->dir = nix_exec_test_make_tmpdir ("nixexec-pinning");
  fixture->flake_dir = g_build_filename (fixture->dir, "flake", NULL);
  g_assert_cmpint (g_mkdir (fixture->flake_dir, 0700), ==, 0);
  fixture->flake_ref = g_strdup_printf ("path:%s", fixture->flake_dir);
  write_flake (fixture, "\"nixexec-pinning-first\"");
  make_logging_nix (fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  nix_exec_test_rm_rf (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->flake_dir);
  g_free (fixture->flake_ref);
  g_free (fixture->log_path);
  g_free (fixture->shim);
}

static NixExecExecutor *
make_executor (Fixture    *fixture,
               const char *cache_name,
               const char *lock_file)
{
  g_autofree char *cache_dir = g_build_filename (fixture->dir, cache_name, NULL);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  NixExecExecutor *executor;

  nix_exec_config_set_flake_ref (config, fixture->flake_ref);
  nix_exec_config_set_nix_path (config, fixture->shim);
  nix_exec_config_set_lock_file (config, lock_file);
  executor = nix_exec_test_executor_new_for_config (config);
  nix_exec_test_register (executor, "py", "python", python_code);
  return executor;
}

static NixExecResult *
run_full (NixExecExecutor *executor)
{
  g_autoptr(JsonNode) input = nix_exec_test_json ("[1, \"two\"]");
  g_autoptr(GError) error = NULL;
  NixExecResult *result;

  result = nix_exec_executor_execute_full (executor, "py", input, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result);
  return result;
}

static void
test_result_provenance (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = make_executor (fixture, "cache", NULL);
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"n\": 2}");
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *locked = NULL;
  g_autofree char *interpreter_prefix = NULL;

  g_assert_true (nix_exec_executor_register_with_effects (executor, "logging", 
                                                          "import sys\n"
                                                          "def execute(input):\n"
                                                          "    print('working on', input['n'])\n"
                                                          "    print('to stderr', file=sys.stderr)\n"
                                                          "    return input['n'] * 21\n",
                                                          "python", NULL, &error));
  g_assert_null (nix_exec_executor_dup_locked_flake_url (executor));

  nix_exec_executor_execute_full_async (executor, "logging", input, NULL, nix_exec_test_on_done,
                                        &async_result);
  nix_exec_test_wait (&async_result);
  result = nix_exec_executor_execute_full_finish (executor, async_result, &error);
  g_assert_no_error (error);

  output = nix_exec_test_to_json (nix_exec_result_get_output (result));
  g_assert_cmpstr (output, ==, "42");
  g_assert_cmpstr (nix_exec_result_get_stage_id (result), ==, "logging");
  g_assert_cmpint (nix_exec_result_get_runtime_source (result), ==, NIX_EXEC_RUNTIME_SOURCE_NIX);
  g_assert_true (g_str_has_prefix (nix_exec_result_get_runtime_path (result), "/nix/store/"));
  g_assert_true (g_str_has_suffix (nix_exec_result_get_runtime_path (result),
                                   "-nixexec-pinning-first"));
  interpreter_prefix = g_strconcat (nix_exec_result_get_runtime_path (result), "/bin/", NULL);
  g_assert_true (g_str_has_prefix (nix_exec_result_get_interpreter (result), interpreter_prefix));

  /* The locked URL: the reference, pinned to its content. */
  locked = nix_exec_executor_dup_locked_flake_url (executor);
  g_assert_nonnull (locked);
  g_assert_cmpstr (nix_exec_result_get_flake_url (result), ==, locked);
  g_assert_true (g_str_has_prefix (locked, fixture->flake_ref));
  g_assert_nonnull (strstr (locked, "narHash=sha256-"));

  g_assert_cmpint (nix_exec_result_get_exit_status (result), ==, 0);
  g_assert_cmpint (nix_exec_result_get_duration (result), >, 0);
  g_assert_nonnull (strstr (nix_exec_result_get_logs (result), "working on 2"));
  g_assert_nonnull (strstr (nix_exec_result_get_logs (result), "to stderr"));
  g_assert_false (nix_exec_result_get_logs_truncated (result));
}

static void
test_same_paths_until_refresh (Fixture       *fixture,
                               gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) first = make_executor (fixture, "cache", NULL);
  g_autoptr(NixExecExecutor) second = NULL;
  g_autoptr(NixExecResult) before = run_full (first);
  g_autoptr(NixExecResult) after = NULL;
  g_autoptr(NixExecResult) refreshed = NULL;
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autoptr(GError) error = NULL;
  guint calls;

  /* The flake changes under the reference... */
  write_flake (fixture, "\"nixexec-pinning-second\"");

  /* ...but a new executor (a new process, say) on the same cache keeps
   * running what was resolved, without asking nix anything. */
  calls = nix_calls (fixture);
  second = make_executor (fixture, "cache", NULL);
  after = run_full (second);
  g_assert_cmpstr (nix_exec_result_get_runtime_path (after), ==,
                   nix_exec_result_get_runtime_path (before));
  g_assert_cmpstr (nix_exec_result_get_flake_url (after), ==,
                   nix_exec_result_get_flake_url (before));
  g_assert_cmpuint (nix_calls (fixture), ==, calls);

  /* Until the user refreshes. */
  nix_exec_executor_refresh_async (second, NULL, nix_exec_test_on_done, &async_result);
  nix_exec_test_wait (&async_result);
  g_assert_true (nix_exec_executor_refresh_finish (second, async_result, &error));
  g_assert_no_error (error);

  refreshed = run_full (second);
  g_assert_true (g_str_has_suffix (nix_exec_result_get_runtime_path (refreshed),
                                   "-nixexec-pinning-second"));
  g_assert_cmpstr (nix_exec_result_get_flake_url (refreshed), !=,
                   nix_exec_result_get_flake_url (before));
}

static void
test_lock_file_reproduces_paths (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) first = make_executor (fixture, "cache-one", NULL);
  g_autoptr(NixExecExecutor) other = NULL;
  g_autoptr(NixExecResult) original = run_full (first);
  g_autoptr(NixExecResult) reproduced = NULL;
  g_autofree char *lock_path = g_build_filename (fixture->dir, "runtimes.lock.json", NULL);
  g_autofree char *lock_text = NULL;
  g_autoptr(JsonNode) lock = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  guint calls;

  g_assert_true (nix_exec_executor_export_lock (first, lock_path, &error));
  g_assert_no_error (error);

  /* The file says what ran, in a documented form. */
  g_assert_true (g_file_get_contents (lock_path, &lock_text, NULL, NULL));
  lock = nix_exec_test_json (lock_text);
  root = json_node_get_object (lock);
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (root, "flake"), ==,
                   nix_exec_result_get_flake_url (original));
  g_assert_cmpstr (json_object_get_string_member (root, "system"), ==, "x86_64-linux");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "runtimes"),
                                                  "python3"),
                   ==, nix_exec_result_get_runtime_path (original));

  /* Another machine — another cache, and a flake that has moved on — runs
   * the same store path from the lock file, without evaluating anything. */
  write_flake (fixture, "\"nixexec-pinning-moved\"");
  calls = nix_calls (fixture);
  other = make_executor (fixture, "cache-two", lock_path);
  reproduced = run_full (other);
  g_assert_cmpstr (nix_exec_result_get_runtime_path (reproduced), ==,
                   nix_exec_result_get_runtime_path (original));
  g_assert_cmpstr (nix_exec_result_get_flake_url (reproduced), ==,
                   nix_exec_result_get_flake_url (original));
  g_assert_cmpuint (nix_calls (fixture), ==, calls);
}

static void
test_missing_pinned_path_is_not_reevaluated (Fixture       *fixture,
                                             gconstpointer  user_data)
{
  g_autofree char *lock_path = g_build_filename (fixture->dir, "gone.lock.json", NULL);
  g_autofree char *locked = g_strdup_printf ("%s?narHash=sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                             fixture->flake_ref);
  g_autofree char *text = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;
  const char *missing = "/nix/store/00000000000000000000000000000000-nixexec-missing-python3";

  /* A lock naming a store path this machine does not have (and, offline,
   * cannot fetch): the executor must fail on that path, not quietly build
   * something else from the flake. */
  text = g_strdup_printf ("{\"version\": 1, \"flake\": \"%s\", \"system\": \"x86_64-linux\","
                          " \"runtimes\": {\"python3\": \"%s\"}}", locked, missing);
  g_assert_true (g_file_set_contents (lock_path, text, -1, NULL));

  executor = make_executor (fixture, "cache", lock_path);
  output = nix_exec_executor_execute (executor, "py", NULL, NULL, &error);
  g_assert_null (output);
  g_assert_nonnull (error);
  g_assert_true (error->domain == NIX_EXEC_ERROR);
  g_assert_nonnull (strstr (error->message, missing));
}

static void
test_invalid_lock_files (Fixture       *fixture,
                         gconstpointer  user_data)
{
  const char *cases[] = {
    "not json",
    "[]",
    "{\"version\": 2, \"flake\": \"path:/x\", \"system\": \"x86_64-linux\", \"runtimes\": {}}",
    "{\"version\": 1, \"system\": \"x86_64-linux\", \"runtimes\": {}}",
    "{\"version\": 1, \"flake\": \"path:/x\", \"system\": \"aarch64-darwin\", \"runtimes\": {}}",
    "{\"version\": 1, \"flake\": \"path:/x\", \"system\": \"x86_64-linux\", \"runtimes\": []}",
    "{\"version\": 1, \"flake\": \"path:/x\", \"system\": \"x86_64-linux\","
    " \"runtimes\": {\"python3\": \"/usr/bin\"}}",
    "{\"version\": 1, \"flake\": \"path:/x\", \"system\": \"x86_64-linux\","
    " \"runtimes\": {\"python3\": \"/nix/store/../../etc\"}}",
  };
  g_autofree char *lock_path = g_build_filename (fixture->dir, "bad.lock.json", NULL);
  g_autofree char *cache_dir = g_build_filename (fixture->dir, "cache", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  g_autoptr(GError) error = NULL;

  nix_exec_config_set_lock_file (config, lock_path);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(NixExecExecutor) executor = NULL;

      g_assert_true (g_file_set_contents (lock_path, cases[i], -1, NULL));
      executor = nix_exec_executor_new (config, &error);
      g_assert_null (executor);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE);
      g_assert_nonnull (strstr (error->message, lock_path));
      g_clear_error (&error);
    }

  /* A lock file that is not there is a file error, not an empty lock. */
  g_unlink (lock_path);
  g_assert_null (nix_exec_executor_new (config, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_export_before_resolving (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = make_executor (fixture, "cache", NULL);
  g_autofree char *lock_path = g_build_filename (fixture->dir, "early.lock.json", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (nix_exec_executor_export_lock (executor, lock_path, &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE);
  g_assert_false (g_file_test (lock_path, G_FILE_TEST_EXISTS));
}

static void
test_host_runtimes_are_explicit (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autofree char *cache_dir = g_build_filename (fixture->dir, "cache", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  /* No usable nix at all. */
  nix_exec_config_set_cache_dir (config, cache_dir);
  nix_exec_config_set_nix_path (config, "/nonexistent/bin/nix");
  g_assert_null (nix_exec_executor_new (config, &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND);
  g_clear_error (&error);

  /* Host interpreters are never sandboxed: with isolation required, they
   * are refused. */
  nix_exec_config_set_runtime_source (config, NIX_EXEC_RUNTIME_SOURCE_HOST);
  nix_exec_config_set_require_isolation (config, TRUE);
  g_test_expect_message ("NixExec", G_LOG_LEVEL_WARNING, "*runtime-source is HOST*");
  g_assert_null (nix_exec_executor_new (config, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
  g_clear_error (&error);

  /* Opting in to host interpreters works, and says so, twice: they are not
   * pinned, and not confined. */
  nix_exec_config_set_require_isolation (config, FALSE);
  g_test_expect_message ("NixExec", G_LOG_LEVEL_WARNING, "*runtime-source is HOST*");
  g_test_expect_message ("NixExec", G_LOG_LEVEL_WARNING, "*WITHOUT isolation*");
  executor = nix_exec_executor_new (config, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_false (nix_exec_executor_get_isolation_active (executor));
  g_assert_true (nix_exec_executor_register_with_effects (executor, "sh", "execute() { echo \"[$1]\"; }",
                                                          "bash", NULL, &error));

  result = nix_exec_executor_execute_full (executor, "sh", NULL, NULL, &error);
  g_assert_no_error (error);
  output = nix_exec_test_to_json (nix_exec_result_get_output (result));
  g_assert_cmpstr (output, ==, "[null]");
  g_assert_cmpint (nix_exec_result_get_runtime_source (result), ==, NIX_EXEC_RUNTIME_SOURCE_HOST);
  g_assert_null (nix_exec_result_get_runtime_path (result));
  g_assert_null (nix_exec_result_get_flake_url (result));
  g_assert_false (g_str_has_prefix (nix_exec_result_get_interpreter (result), "/nix/store/"));
  g_assert_null (nix_exec_executor_dup_locked_flake_url (executor));
}

static void
test_lock_file_read_back (void)
{
  g_autofree char *dir = nix_exec_test_make_tmpdir ("nixexec-lock");
  g_autofree char *path = g_build_filename (dir, "runtimes.lock.json", NULL);
  g_autofree char *written_path = g_build_filename (dir, "written.lock.json", NULL);
  g_autofree char *text = g_strdup_printf ("{\"version\": 1, \"flake\": \"path:/x?narHash=sha256-A\","
                                           " \"system\": \"%s\", \"runtimes\":"
                                           " {\"python3\": \"/nix/store/aaaa-python3\"}}",
                                           nix_exec_runtimes_get_system ());
  g_autofree char *no_runtimes = g_strdup_printf ("{\"version\": 1, \"flake\": \"path:/x\","
                                                  " \"system\": \"%s\"}",
                                                  nix_exec_runtimes_get_system ());
  g_autofree char *written = NULL;
  g_autofree char *url = NULL;
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  g_autoptr(NixExecRuntimes) runtimes = nix_exec_runtimes_new (NULL, config);
  g_autoptr(JsonNode) expected = NULL;
  g_autoptr(JsonNode) actual = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A lock file is read, and written back the same, without nix; reading it "
                  "leaves nothing behind (it leaked the document and unreferenced a node it "
                  "did not own: found by tests/fuzz, LeakSanitizer).");

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_true (nix_exec_runtimes_load_lock (runtimes, path, &error));
  g_assert_no_error (error);
  url = nix_exec_runtimes_dup_locked_url (runtimes);
  g_assert_cmpstr (url, ==, "path:/x?narHash=sha256-A");

  g_assert_true (nix_exec_runtimes_write_lock (runtimes, written_path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (written_path, &written, NULL, NULL));
  expected = nix_exec_test_json (text);
  actual = nix_exec_test_json (written);
  g_assert_true (json_node_equal (actual, expected));

  g_assert_true (g_file_set_contents (path, no_runtimes, -1, NULL));
  g_assert_false (nix_exec_runtimes_load_lock (runtimes, path, &error));
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE);
  g_assert_nonnull (strstr (error->message, "“runtimes” is not an object"));

  nix_exec_test_rm_rf (dir);
}

static void
test_lock_file_wrong_types (void)
{
  static const char * const cases[] = {
    "{\"version\": {}, \"flake\": \"path:/x\", \"system\": \"@SYSTEM@\", \"runtimes\": {}}",
    "{\"version\": 1, \"flake\": [], \"system\": \"@SYSTEM@\", \"runtimes\": {}}",
    "{\"version\": 1, \"flake\": {\"url\": \"path:/x\"}, \"system\": \"@SYSTEM@\", \"runtimes\": {}}",
    "{\"version\": 1, \"flake\": \"path:/x\", \"system\": [\"@SYSTEM@\"], \"runtimes\": {}}",
    "{\"version\": [1], \"flake\": null, \"system\": \"@SYSTEM@\", \"runtimes\": {}}",
  };
  g_autofree char *dir = nix_exec_test_make_tmpdir ("nixexec-lock");
  g_autofree char *path = g_build_filename (dir, "runtimes.lock.json", NULL);
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();

  g_test_summary ("Members of a lock file that are objects or arrays where a value belongs "
                  "make it invalid, without a critical from json-glib (found by tests/fuzz).");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(NixExecRuntimes) runtimes = nix_exec_runtimes_new (NULL, config);
      g_autoptr(GError) error = NULL;
      g_autoptr(GString) text = g_string_new (cases[i]);

      g_string_replace (text, "@SYSTEM@", nix_exec_runtimes_get_system (), 0);
      g_assert_true (g_file_set_contents (path, text->str, -1, NULL));
      g_assert_false (nix_exec_runtimes_load_lock (runtimes, path, &error));
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE);
      g_assert_null (nix_exec_runtimes_dup_locked_url (runtimes));
    }

  nix_exec_test_rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child here, needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/pinning/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("result-provenance", test_result_provenance);
  ADD ("same-paths-until-refresh", test_same_paths_until_refresh);
  ADD ("lock-file-reproduces-paths", test_lock_file_reproduces_paths);
  ADD ("missing-pinned-path-is-not-reevaluated", test_missing_pinned_path_is_not_reevaluated);
  ADD ("invalid-lock-files", test_invalid_lock_files);
  ADD ("export-before-resolving", test_export_before_resolving);
  ADD ("host-runtimes-are-explicit", test_host_runtimes_are_explicit);
#undef ADD
  g_test_add_func ("/nixexec/pinning/lock-file-read-back", test_lock_file_read_back);
  g_test_add_func ("/nixexec/pinning/lock-file-wrong-types", test_lock_file_wrong_types);

  g_test_summary ("Runtimes stay pinned, lock files reproduce them, results carry provenance");
  return g_test_run ();
}
