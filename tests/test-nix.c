/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resolving runtimes with nix, and every way that can fail.
 *
 * Failures are produced with real nix wherever they can be: a flake that
 * does not exist, an attribute it lacks, a runtime that fails to build, a
 * daemon store with no daemon. Only a failed download and a full disk are
 * injected with the fake nix (tests/nixexec-fake-nix.c).
 */
#include <glib/gstdio.h>

#include "nixexec-nix-private.h"
#include "nixexec-test-util.h"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->dir = nix_exec_test_make_tmpdir ("nixexec-nix");
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  nix_exec_test_rm_rf (fixture->dir);
  g_clear_pointer (&fixture->dir, g_free);
}

/* Runs one stage of @language on an executor with @config and returns the
 * error it fails with. */
static GError *
run_failing (NixExecConfig *config,
             const char    *language,
             const char    *code)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(JsonNode) output = NULL;
  GError *error = NULL;

  executor = nix_exec_test_executor_new_for_config (config);
  nix_exec_test_register (executor, "s", language, code);
  output = nix_exec_executor_execute (executor, "s", NULL, NULL, &error);
  g_assert_null (output);
  g_assert_nonnull (error);
  return error;
}

static void
assert_message_has (const GError *error,
                    const char   *text)
{
  if (strstr (error->message, text) == NULL)
    g_error ("“%s” is not in the error message “%s”", text, error->message);
}

static char *
write_flake (const char *dir,
             const char *name,
             const char *packages)
{
  g_autofree char *flake_dir = g_build_filename (dir, name, NULL);
  g_autofree char *flake_nix = g_build_filename (flake_dir, "flake.nix", NULL);
  g_autofree char *text = NULL;

  g_assert_cmpint (g_mkdir_with_parents (flake_dir, 0700), ==, 0);
  text = g_strdup_printf ("{\n"
                          "  outputs = { self }: let system = \"x86_64-linux\"; in {\n"
                          "    packages.${system} = {\n%s\n    };\n"
                          "  };\n"
                          "}\n", packages);
  g_assert_true (g_file_set_contents (flake_nix, text, -1, NULL));
  return g_strdup_printf ("path:%s", flake_dir);
}

static void
test_missing_attribute (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->dir);
  g_autofree char *flake = write_flake (fixture->dir, "only-python", "");
  g_autoptr(GError) error = NULL;

  nix_exec_config_set_flake_ref (config, flake);
  error = run_failing (config, "javascript", "function execute(i) { return i; }");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
  assert_message_has (error, "#nodejs");
  /* nix's own words reach the caller. */
  assert_message_has (error, "does not provide attribute");
}

static void
test_missing_flake (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->dir);
  g_autofree char *flake = g_strdup_printf ("path:%s/no-such-flake", fixture->dir);
  g_autoptr(GError) error = NULL;

  nix_exec_config_set_flake_ref (config, flake);
  error = run_failing (config, "python", "def execute(i):\n    return i\n");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
  assert_message_has (error, "no-such-flake");
}

static void
test_flake_syntax_error (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->dir);
  g_autofree char *flake = write_flake (fixture->dir, "broken-syntax", "python3 = ;");
  g_autoptr(GError) error = NULL;

  nix_exec_config_set_flake_ref (config, flake);
  error = run_failing (config, "python", "def execute(i):\n    return i\n");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
  assert_message_has (error, "syntax error");
}

static void
test_build_failure (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->dir);
  g_autofree char *flake = NULL;
  g_autoptr(GError) error = NULL;

  flake = write_flake (fixture->dir, "failing-build",
                       "      bash = builtins.derivation {\n"
                       "        name = \"nixexec-test-failing\"; inherit system;\n"
                       "        builder = \"/bin/sh\";\n"
                       "        args = [ \"-c\" \"echo this runtime does not build >&2; exit 3\" ];\n"
                       "      };");
  nix_exec_config_set_flake_ref (config, flake);
  error = run_failing (config, "bash", "execute() { echo 1; }");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_BUILD_FAILED);
  assert_message_has (error, "#bash");
}

static void
test_runtime_without_interpreter (Fixture       *fixture,
                                  gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->dir);
  g_autofree char *flake = NULL;
  g_autoptr(GError) error = NULL;

  flake = write_flake (fixture->dir, "empty-runtime",
                       "      python3 = builtins.derivation {\n"
                       "        name = \"nixexec-test-empty\"; inherit system;\n"
                       "        builder = \"/bin/sh\";\n"
                       "        args = [ \"-c\" \"/bin/mkdir -p $out/share\" ];\n"
                       "      };");
  nix_exec_config_set_flake_ref (config, flake);
  error = run_failing (config, "python", "def execute(i):\n    return i\n");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
  assert_message_has (error, "bin/python3");
}

static void
test_daemon_unavailable (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->dir);
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_dir = g_build_filename (fixture->dir, "no-daemon", NULL);
  g_autofree char *store = g_strdup_printf ("unix://%s/socket", socket_dir);
  const char *options[] = { "build-users-group=", "sandbox=false", NULL, NULL };
  g_autofree char *store_option = g_strdup_printf ("store=%s", store);

  /* Real nix, told to use a daemon socket where no daemon listens. */
  g_assert_cmpint (g_mkdir_with_parents (socket_dir, 0700), ==, 0);
  options[2] = store_option;
  nix_exec_config_set_nix_options (config, options);
  error = run_failing (config, "python", "def execute(i):\n    return i\n");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE);
  assert_message_has (error, "cannot connect to socket");
}

/* A config whose nix is the fake one, under the name that picks @mode. */
static NixExecConfig *
fake_nix_config (Fixture    *fixture,
                 const char *mode)
{
  const char *fake = g_getenv ("NIXEXEC_FAKE_NIX");
  g_autofree char *link = NULL;
  g_autofree char *name = g_strdup_printf ("nix-%s", mode);
  NixExecConfig *config = nix_exec_test_config_new (fixture->dir);

  g_assert_nonnull (fake);
  link = g_build_filename (fixture->dir, name, NULL);
  g_assert_cmpint (symlink (fake, link), ==, 0);
  nix_exec_config_set_nix_path (config, link);
  return config;
}

static void
test_fetch_failed (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = fake_nix_config (fixture, "fetch-failed");
  g_autoptr(GError) error = run_failing (config, "python", "def execute(i):\n    return i\n");

  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_FETCH_FAILED);
  assert_message_has (error, "Couldn't resolve host name");
}

static void
test_store_full (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = fake_nix_config (fixture, "store-full");
  g_autoptr(GError) error = run_failing (config, "bash", "execute() { echo 1; }");

  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_STORE_FULL);
  assert_message_has (error, "No space left on device");
}

static void
test_fake_daemon_down (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = fake_nix_config (fixture, "daemon-down");
  g_autoptr(GError) error = run_failing (config, "bash", "execute() { echo 1; }");

  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE);
}

static void
test_unexpected_nix_output (Fixture       *fixture,
                            gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) bad_json = fake_nix_config (fixture, "bad-json");
  g_autoptr(NixExecConfig) no_outputs = fake_nix_config (fixture, "no-outputs");
  g_autoptr(GError) error = NULL;

  error = run_failing (bad_json, "python", "def execute(i):\n    return i\n");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
  assert_message_has (error, "not JSON");
  g_clear_error (&error);

  error = run_failing (no_outputs, "python", "def execute(i):\n    return i\n");
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
}

static void
test_nix_arguments (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = fake_nix_config (fixture, "store-full");
  g_autofree char *log_path = g_build_filename (fixture->dir, "argv.log", NULL);
  g_autofree char *logged = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  gboolean seen_features = FALSE, seen_json = FALSE, seen_offline = FALSE;
  gboolean seen_option = FALSE, seen_substituters = FALSE;

  /* The first thing nix is asked is to lock the configured flake. */
  g_setenv ("NIXEXEC_FAKE_NIX_ARGV_LOG", log_path, TRUE);
  error = run_failing (config, "javascript", "function execute(i) { return i; }");
  g_unsetenv ("NIXEXEC_FAKE_NIX_ARGV_LOG");

  g_assert_true (g_file_get_contents (log_path, &logged, NULL, NULL));
  args = g_strsplit (logged, "\n", -1);
  for (guint i = 0; args[i] != NULL; i++)
    {
      if (g_str_equal (args[i], "--extra-experimental-features"))
        seen_features = g_strcmp0 (args[i + 1], "nix-command flakes") == 0;
      else if (g_str_equal (args[i], "--json"))
        seen_json = TRUE;
      else if (g_str_equal (args[i], "--offline"))
        seen_offline = TRUE;
      else if (g_str_equal (args[i], "--option") && g_strcmp0 (args[i + 1], "sandbox") == 0)
        seen_option = g_strcmp0 (args[i + 2], "false") == 0;
      else if (g_str_equal (args[i], "--option") && g_strcmp0 (args[i + 1], "substituters") == 0)
        seen_substituters = g_strcmp0 (args[i + 2], "") == 0;
    }
  g_assert_true (seen_features);
  g_assert_true (seen_json);
  g_assert_true (seen_offline);
  g_assert_true (seen_substituters);
  g_assert_true (seen_option);
  g_assert_true (g_strv_contains ((const char * const *) args, "flake"));
  g_assert_true (g_strv_contains ((const char * const *) args, "metadata"));
  g_assert_true (g_strv_contains ((const char * const *) args, g_getenv ("NIXEXEC_TEST_FLAKE")));
}

/* Whether a live process runs @argv0. */
static gboolean
process_running (const char *argv0)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *cmdline_path = g_build_filename ("/proc", name, "cmdline", NULL);
      g_autofree char *cmdline = NULL;
      gsize length;
      GPid pid = (GPid) g_ascii_strtoll (name, NULL, 10);

      if (pid <= 0 || !g_file_get_contents (cmdline_path, &cmdline, &length, NULL))
        continue;
      if (length > 0 && g_str_equal (cmdline, argv0) && nix_exec_test_pid_alive (pid))
        return TRUE;
    }
  return FALSE;
}

static gboolean
cancel_soon (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel_slow_resolution (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = fake_nix_config (fixture, "slow");
  g_autofree char *fake_path = g_strdup (nix_exec_config_get_nix_path (config));
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  executor = nix_exec_test_executor_new_for_config (config);
  nix_exec_test_register (executor, "s", "bash", "execute() { :; }");

  start = g_get_monotonic_time ();
  nix_exec_executor_warmup_async (executor, cancellable, nix_exec_test_on_done, &result);
  g_timeout_add (300, cancel_soon, cancellable);
  nix_exec_test_wait (&result);

  g_assert_false (nix_exec_executor_warmup_finish (executor, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  /* Nobody else waited on that nix: it was killed, not left running. */
  g_assert_false (process_running (fake_path));
}

static void
test_classify (void)
{
  struct {
    const char *text;
    int code;
  } cases[] = {
    { "error: cannot connect to socket at '/nix/var/nix/daemon-socket/socket': Connection refused",
      NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE },
    { "error: writing to file: No space left on device", NIX_EXEC_ERROR_NIX_STORE_FULL },
    { "error: unable to download 'https://example.org/x.tar.gz': Couldn't resolve host name (6)",
      NIX_EXEC_ERROR_NIX_FETCH_FAILED },
    { "error: builder for '/nix/store/abc-x.drv' failed with exit code 3",
      NIX_EXEC_ERROR_NIX_BUILD_FAILED },
    { "error: flake 'path:/x' does not provide attribute 'packages.x86_64-linux.nodejs'",
      NIX_EXEC_ERROR_NIX_EVAL_FAILED },
    { "warning: something\nerror: syntax error, unexpected ';'", NIX_EXEC_ERROR_NIX_EVAL_FAILED },
    { "", NIX_EXEC_ERROR_NIX_EVAL_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = nix_exec_nix_classify_failure ("flake#attr", cases[i].text, 1);

      g_assert_error (error, NIX_EXEC_ERROR, cases[i].code);
      assert_message_has (error, "flake#attr");
    }
}

static void
test_parse_build_output (void)
{
  const char *good =
    "[{\"drvPath\":\"/nix/store/a.drv\",\"outputs\":{\"out\":\"/nix/store/abc-python3\"}}]";
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  /* The wrong types among them were json-glib criticals (found by tests/fuzz). */
  const char *bad[] = { "", "not json", "{}", "[]", "[{\"outputs\":{}}]",
                        "[{\"outputs\":{\"out\":\"relative\"}}]",
                        "[1]", "[null]", "[[]]", "[{\"outputs\":[]}]", "[{\"outputs\":1}]",
                        "[{\"outputs\":{\"out\":{}}}]", "[{\"outputs\":{\"out\":1}}]" };

  path = nix_exec_nix_parse_build_output (good, strlen (good), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, "/nix/store/abc-python3");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *none = nix_exec_nix_parse_build_output (bad[i], strlen (bad[i]), &error);

      g_assert_null (none);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
      g_clear_error (&error);
    }
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child here, needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/nix/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("missing-attribute", test_missing_attribute);
  ADD ("missing-flake", test_missing_flake);
  ADD ("flake-syntax-error", test_flake_syntax_error);
  ADD ("build-failure", test_build_failure);
  ADD ("runtime-without-interpreter", test_runtime_without_interpreter);
  ADD ("daemon-unavailable", test_daemon_unavailable);
  ADD ("fetch-failed", test_fetch_failed);
  ADD ("store-full", test_store_full);
  ADD ("fake-daemon-down", test_fake_daemon_down);
  ADD ("unexpected-output", test_unexpected_nix_output);
  ADD ("arguments", test_nix_arguments);
  ADD ("cancel-slow-resolution", test_cancel_slow_resolution);
#undef ADD

  g_test_add_func ("/nixexec/nix/classify", test_classify);
  g_test_add_func ("/nixexec/nix/parse-build-output", test_parse_build_output);

  g_test_summary ("Runtimes are resolved through nix, and its failures classified");
  return g_test_run ();
}
