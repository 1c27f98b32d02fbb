/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `nixexec` command line, run as a program (NIXEXEC_CLI) against real
 * nix on the bundled runtime flake (NIXEXEC_TEST_FLAKE, NIXEXEC_OFFLINE=1),
 * each test in a directory and with a cache directory of its own: what it
 * prints, its JSON, its exit codes, stores, warmup, lock files, doctor and
 * cancellation; that it reads only strict JSON, writes only valid JSON
 * (checked by Debian's /usr/bin/python3 -m json.tool) and never passes a
 * control character from a stage or a file to the terminal. In a sanitizer
 * build the CLI is built with the sanitizers too, and a leak makes it
 * abort: every exit status is checked exactly.
 */
#include <signal.h>
#include <glib/gstdio.h>

#include "nixexec-json-private.h"
#include "nixexec-test-util.h"

typedef struct
{
  char *dir;        /* the CLI's working directory */
  char *cache_dir;  /* its XDG_CACHE_HOME */
} Fixture;

typedef struct
{
  int   status;  /* the exit status, or 128 + the signal */
  char *out;
  char *err;
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  /* meson test sets both. */
  g_assert_nonnull (g_getenv ("NIXEXEC_CLI"));
  g_assert_nonnull (g_getenv ("NIXEXEC_TEST_FLAKE"));
  fixture->dir = nix_exec_test_make_tmpdir ("nixexec-cli");
  fixture->cache_dir = g_build_filename (fixture->dir, "cache", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  nix_exec_test_rm_rf (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->cache_dir);
}

static char *
fixture_path (Fixture    *fixture,
              const char *name)
{
  return g_build_filename (fixture->dir, name, NULL);
}

static void
write_file (Fixture    *fixture,
            const char *name,
            const char *contents)
{
  g_autofree char *path = fixture_path (fixture, name);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static GSubprocessLauncher *
make_launcher (Fixture    *fixture,
               const char *cache_dir)
{
  GSubprocessLauncher *launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                               G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_subprocess_launcher_set_cwd (launcher, fixture->dir);
  g_subprocess_launcher_setenv (launcher, "NIXEXEC_FLAKE", g_getenv ("NIXEXEC_TEST_FLAKE"), TRUE);
  g_subprocess_launcher_setenv (launcher, "NIXEXEC_OFFLINE", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME",
                                cache_dir != NULL ? cache_dir : fixture->cache_dir, TRUE);
  return launcher;
}

static GPtrArray *
cli_argv (va_list args)
{
  GPtrArray *argv = g_ptr_array_new ();
  const char *arg;

  g_ptr_array_add (argv, (char *) g_getenv ("NIXEXEC_CLI"));
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Runs the CLI with @argv, @input on stdin, and @env (NAME, VALUE, …,
 * NULL; or NULL) set on top of make_launcher()'s environment. */
static void
run_argv (Fixture            *fixture,
          const char         *cache_dir,
          const char         *input,
          const char * const *env,
          GPtrArray          *argv,
          Run                *run)
{
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (fixture, cache_dir);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *command = g_strjoinv (" ", (char **) argv->pdata + 1);
  g_autofree char *shown = g_strescape (command, NULL);

  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  /* Escaped: the arguments of some tests are not for a terminal. */
  g_test_message ("$ nixexec %.200s%s", shown, strlen (shown) > 200 ? "…" : "");
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  /* Whatever the CLI prints must be UTF-8: this fails otherwise. */
  g_subprocess_communicate_utf8 (process, input != NULL ? input : "", NULL,
                                 &run->out, &run->err, &error);
  g_assert_no_error (error);

  if (g_subprocess_get_if_exited (process))
    run->status = g_subprocess_get_exit_status (process);
  else
    run->status = 128 + g_subprocess_get_term_sig (process);
  {
    g_autofree char *out = g_strescape (run->out, "\n");
    g_autofree char *err = g_strescape (run->err, "\n");

    g_test_message ("exit %d\nstdout: %.2000s\nstderr: %.2000s", run->status, out, err);
  }
}

/* Runs nixexec ARGS… (NULL-terminated) with @input on stdin (empty if
 * NULL), in the fixture's directory and with its cache. */
static void G_GNUC_NULL_TERMINATED
run_cli (Fixture    *fixture,
         Run        *run,
         const char *input,
         ...)
{
  g_autoptr(GPtrArray) argv = NULL;
  va_list args;

  va_start (args, input);
  argv = cli_argv (args);
  va_end (args);
  run_argv (fixture, NULL, input, NULL, argv, run);
}

/* The same, with @env (NAME, VALUE, …, NULL) in the environment. */
static void G_GNUC_NULL_TERMINATED
run_cli_with_env (Fixture            *fixture,
                  Run                *run,
                  const char * const *env,
                  ...)
{
  g_autoptr(GPtrArray) argv = NULL;
  va_list args;

  va_start (args, env);
  argv = cli_argv (args);
  va_end (args);
  run_argv (fixture, NULL, NULL, env, argv, run);
}

/* The same, with another cache directory. */
static void G_GNUC_NULL_TERMINATED
run_cli_with_cache (Fixture    *fixture,
                    const char *cache_dir,
                    Run        *run,
                    ...)
{
  g_autoptr(GPtrArray) argv = NULL;
  va_list args;

  va_start (args, run);
  argv = cli_argv (args);
  va_end (args);
  run_argv (fixture, cache_dir, NULL, NULL, argv, run);
}

/* An error is one line, `nixexec: …`. */
static void
assert_one_error_line (Run *run)
{
  const char *newline = strchr (run->err, '\n');

  g_assert_true (g_str_has_prefix (run->err, "nixexec: "));
  g_assert_nonnull (newline);
  g_assert_cmpstr (newline + 1, ==, "");
}

#define JSON_TOOL "/usr/bin/python3"

/* Fails the test unless Debian's Python, a reader of JSON that is not
 * ours or json-glib's, takes @text as one JSON text. */
static void
assert_json_tool_accepts (const char *text)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              JSON_TOOL, "-m", "json.tool", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, text, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    g_test_message ("json.tool: %s", err);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

/* Skips the test, and returns FALSE, without /usr/bin/python3. */
static gboolean
have_json_tool (void)
{
  if (g_file_test (JSON_TOOL, G_FILE_TEST_IS_EXECUTABLE))
    return TRUE;
  g_test_skip ("needs " JSON_TOOL " (tools/setup-debian installs it)");
  return FALSE;
}

/* No byte of @text is a C0 control other than newline and tab, DEL, or
 * the start of a UTF-8 C1 control (0xC2 0x80 to 0xC2 0x9F). */
static void
assert_terminal_safe (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7F ||
          (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
        {
          g_test_message ("a raw control at byte %" G_GSIZE_FORMAT ": 0x%02x",
                          (gsize) (p - (const guchar *) text), *p);
          g_assert_not_reached ();
        }
    }
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonNode) node = nix_exec_test_json (text);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

static const char greet_py[] =
  "def execute(input):\n"
  "    print('hello from python')\n"
  "    return {'greeting': 'Hello, %s!' % input['name']}\n";

static const char greet_js[] =
  "function execute(input) {\n"
  "  return { greeting: `Hello, ${input.name}!` };\n"
  "}\n";

static const char greet_sh[] =
  "execute() {\n"
  "  printf '{\"greeting\": \"Hello, %s!\"}\\n' \"$(printf '%s' \"$1\" | sed 's/.*\"name\": *\"\\([^\"]*\\)\".*/\\1/')\"\n"
  "}\n";

/* ------------------------------------------------------------------------ */
/* run                                                                      */
/* ------------------------------------------------------------------------ */

static void
test_run_input (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_auto(Run) python = { 0, };
  g_auto(Run) javascript = { 0, };
  g_auto(Run) bash = { 0, };

  write_file (fixture, "greet.py", greet_py);
  write_file (fixture, "greet.js", greet_js);
  write_file (fixture, "greet.sh", greet_sh);

  run_cli (fixture, &python, NULL, "run", "greet.py", "--input", "{\"name\": \"ada\"}", NULL);
  g_assert_cmpint (python.status, ==, 0);
  g_assert_cmpstr (python.out, ==, "{\"greeting\":\"Hello, ada!\"}\n");
  /* The stage's logs only with --logs. */
  g_assert_cmpstr (python.err, ==, "");

  run_cli (fixture, &javascript, NULL, "run", "greet.js", "-i", "{\"name\": \"js\"}", NULL);
  g_assert_cmpint (javascript.status, ==, 0);
  g_assert_cmpstr (javascript.out, ==, "{\"greeting\":\"Hello, js!\"}\n");

  run_cli (fixture, &bash, NULL, "run", "greet.sh", "--input", "{\"name\": \"sh\"}", NULL);
  g_assert_cmpint (bash.status, ==, 0);
  g_assert_cmpstr (bash.out, ==, "{\"greeting\":\"Hello, sh!\"}\n");
}

static void
test_run_stdin (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_auto(Run) python = { 0, };
  g_auto(Run) javascript = { 0, };
  g_auto(Run) empty = { 0, };

  write_file (fixture, "greet.py", greet_py);
  write_file (fixture, "greet.js", greet_js);
  write_file (fixture, "is-null.py", "def execute(input):\n    return input is None\n");

  run_cli (fixture, &python, "{\"name\": \"stdin\"}\n", "run", "greet.py", NULL);
  g_assert_cmpint (python.status, ==, 0);
  g_assert_cmpstr (python.out, ==, "{\"greeting\":\"Hello, stdin!\"}\n");

  run_cli (fixture, &javascript, "{\"name\": \"node\"}", "run", "greet.js", NULL);
  g_assert_cmpint (javascript.status, ==, 0);
  g_assert_cmpstr (javascript.out, ==, "{\"greeting\":\"Hello, node!\"}\n");

  /* Empty stdin is null. */
  run_cli (fixture, &empty, "", "run", "is-null.py", NULL);
  g_assert_cmpint (empty.status, ==, 0);
  g_assert_cmpstr (empty.out, ==, "true\n");
}

static void
test_run_json (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };
  g_autoptr(JsonObject) result = NULL;
  const char *runtime_path;
  const char *flake_url;
  JsonNode *output;

  write_file (fixture, "greet.py", greet_py);
  run_cli (fixture, &run, NULL, "run", "--json", "greet.py", "--input", "{\"name\": \"j\"}", NULL);
  g_assert_cmpint (run.status, ==, 0);

  result = parse_object (run.out);
  output = json_object_get_member (result, "output");
  g_assert_nonnull (output);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (output));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (output), "greeting"), ==,
                   "Hello, j!");
  g_assert_cmpstr (json_object_get_string_member (result, "stage_id"), ==, "greet");

  runtime_path = json_object_get_string_member (result, "runtime_path");
  g_assert_true (g_str_has_prefix (runtime_path, "/nix/store/"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (result, "interpreter"),
                                   runtime_path));
  g_assert_cmpstr (json_object_get_string_member (result, "runtime_source"), ==, "nix");

  /* Locked: the flake reference plus what pins it. */
  flake_url = json_object_get_string_member (result, "flake_url");
  g_assert_true (g_str_has_prefix (flake_url, g_getenv ("NIXEXEC_TEST_FLAKE")));
  g_assert_nonnull (strstr (flake_url, "narHash="));

  g_assert_cmpint (json_object_get_int_member (result, "duration_us"), >, 0);
  g_assert_cmpint (json_object_get_int_member (result, "exit_status"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (result, "logs"), ==, "hello from python\n");
  g_assert_false (json_object_get_boolean_member (result, "logs_truncated"));
}

static void
test_run_logs (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };

  write_file (fixture, "greet.py", greet_py);
  run_cli (fixture, &run, NULL, "run", "--logs", "greet.py", "-i", "{\"name\": \"l\"}", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, "{\"greeting\":\"Hello, l!\"}\n");
  g_assert_cmpstr (run.err, ==, "hello from python\n");
}

static void
test_run_host (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };
  g_autoptr(JsonObject) result = NULL;

  write_file (fixture, "greet.py", greet_py);
  run_cli (fixture, &run, NULL, "run", "--host", "--json", "greet.py", "-i", "{\"name\": \"h\"}",
           NULL);
  g_assert_cmpint (run.status, ==, 0);

  result = parse_object (run.out);
  g_assert_cmpstr (json_object_get_string_member (result, "runtime_source"), ==, "host");
  g_assert_true (json_object_get_null_member (result, "runtime_path"));
  g_assert_true (json_object_get_null_member (result, "flake_url"));
  /* Never silent: the executor's warning, in the CLI's words. */
  g_assert_true (g_str_has_prefix (run.err, "nixexec: warning: "));
  g_assert_nonnull (strstr (run.err, "HOST"));
}

/* What a stage returns that json-glib's generator writes as no JSON
 * (1e+21.0) or rounds (0.1 as 0.10000000000000001 is fine, 1.5e300 is
 * not), and integers at the ends of the 64-bit range. */
static const char numbers_py[] =
  "def execute(input):\n"
  "    return [1e21, 1.5e300, -0.0, 5e-324, 0.1, 1e16, 2 ** 63 - 1, -2 ** 63, -1e-7]\n";

static const double number_values[] = { 1e21, 1.5e300, -0.0, 5e-324, 0.1, 1e16 };

static void
assert_numbers (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = nix_exec_json_read (text, strlen (text), &error);
  JsonArray *array;

  assert_json_tool_accepts (text);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  array = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (array), ==, 9);
  /* Read back as the same doubles, bit for bit (-0.0 too). */
  for (guint i = 0; i < G_N_ELEMENTS (number_values); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      double value;

      g_assert_cmpint (json_node_get_value_type (element), ==, G_TYPE_DOUBLE);
      value = json_node_get_double (element);
      g_assert_cmpmem (&value, sizeof value, &number_values[i], sizeof number_values[i]);
    }
  g_assert_cmpint (json_array_get_int_element (array, 6), ==, G_MAXINT64);
  g_assert_cmpint (json_array_get_int_element (array, 7), ==, G_MININT64);
  g_assert_cmpfloat (json_array_get_double_element (array, 8), ==, -1e-7);
}

static void
test_run_numbers (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_auto(Run) bare = { 0, };
  g_auto(Run) json = { 0, };
  g_auto(Run) javascript = { 0, };
  g_auto(Run) too_big = { 0, };
  g_auto(Run) too_big_json = { 0, };
  g_auto(Run) infinite = { 0, };
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(JsonObject) report = NULL;
  g_autofree char *output = NULL;

  if (!have_json_tool ())
    return;

  write_file (fixture, "numbers.py", numbers_py);
  write_file (fixture, "numbers.js",
              "function execute(input) { return [1e21, 1.5e300, 5e-324, -1e-7]; }\n");
  write_file (fixture, "too-big.py", "def execute(input):\n    return 12345678901234567890\n");
  write_file (fixture, "infinite.py", "def execute(input):\n    return float('inf')\n");

  run_cli (fixture, &bare, NULL, "run", "numbers.py", "--input", "null", NULL);
  g_assert_cmpint (bare.status, ==, 0);
  g_assert_cmpstr (bare.err, ==, "");
  /* One line. */
  g_assert_true (strchr (bare.out, '\n') == bare.out + strlen (bare.out) - 1);
  assert_numbers (bare.out);

  run_cli (fixture, &json, NULL, "run", "--json", "numbers.py", "--input", "null", NULL);
  g_assert_cmpint (json.status, ==, 0);
  assert_json_tool_accepts (json.out);
  result = parse_object (json.out);
  output = nix_exec_json_write (json_object_get_member (result, "output"), FALSE, NULL);
  assert_numbers (output);

  run_cli (fixture, &javascript, NULL, "run", "numbers.js", "--input", "null", NULL);
  g_assert_cmpint (javascript.status, ==, 0);
  assert_json_tool_accepts (javascript.out);
  g_assert_null (strstr (javascript.out, "+21.0"));

  /* An integer JSON has no 64-bit value for is the stage's fault, as the
   * library says (INVALID_OUTPUT), not a wrapped number. */
  run_cli (fixture, &too_big, NULL, "run", "too-big.py", "--input", "null", NULL);
  g_assert_cmpint (too_big.status, ==, 1);
  g_assert_cmpstr (too_big.out, ==, "");
  assert_one_error_line (&too_big);
  g_assert_nonnull (strstr (too_big.err, "64-bit"));

  run_cli (fixture, &too_big_json, NULL, "run", "--json", "too-big.py", "--input", "null", NULL);
  g_assert_cmpint (too_big_json.status, ==, 1);
  assert_json_tool_accepts (too_big_json.out);
  report = parse_object (too_big_json.out);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (report, "error"),
                                                  "name"), ==, "NIX_EXEC_ERROR_INVALID_OUTPUT");

  run_cli (fixture, &infinite, NULL, "run", "infinite.py", "--input", "null", NULL);
  g_assert_cmpint (infinite.status, ==, 1);
  g_assert_cmpstr (infinite.out, ==, "");
  assert_one_error_line (&infinite);
}

/* JSON is UTF-8 whatever the locale: the output is the stage's bytes, the
 * input is taken as given. */
static void
test_run_c_locale (Fixture       *fixture,
                   gconstpointer  user_data)
{
  static const char * const c_locale[] = { "LC_ALL", "C", NULL };
  g_auto(Run) run = { 0, };
  g_auto(Run) json = { 0, };

  write_file (fixture, "echo.py", "def execute(input):\n    return [input, 'ß→✓']\n");

  run_cli_with_env (fixture, &run, c_locale, "run", "echo.py", "--input", "\"é\"", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, "[\"é\",\"ß→✓\"]\n");

  run_cli_with_env (fixture, &json, c_locale, "run", "--json", "echo.py", "--input", "\"é\"",
                    NULL);
  g_assert_cmpint (json.status, ==, 0);
  g_assert_nonnull (strstr (json.out, "\"output\":[\"é\",\"ß→✓\"]"));
}

/* Run's output, its logs and its errors on a terminal. */
static void
test_run_escapes (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_auto(Run) logs = { 0, };
  g_auto(Run) failed = { 0, };
  g_auto(Run) verbose = { 0, };
  g_auto(Run) json = { 0, };
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(JsonObject) report = NULL;
  JsonArray *array;

  if (!have_json_tool ())
    return;

  write_file (fixture, "noisy.py",
              "def execute(input):\n"
              "    print('\\x1b]0;pwn\\x07\\x1b[2J\\x1b[31mred\\x1b[0m\\tok\\r\\x9b!\\x7f')\n"
              "    return ['\\x1b[2J\\x07', '\\x9b31m', '\\u2028\\u202e']\n");
  write_file (fixture, "boom.py",
              "def execute(input):\n"
              "    raise ValueError('\\x1b]0;pwn\\x07 \\x9b2J')\n");

  run_cli (fixture, &logs, NULL, "run", "--logs", "noisy.py", "--input", "null", NULL);
  g_assert_cmpint (logs.status, ==, 0);
  assert_terminal_safe (logs.out);
  assert_terminal_safe (logs.err);
  /* Lines and tabs stay; everything else is shown escaped. */
  g_assert_cmpstr (logs.err, ==,
                   "\\x1b]0;pwn\\x07\\x1b[2J\\x1b[31mred\\x1b[0m\tok\\x0d\\u009b!\\x7f\n");
  /* The output is JSON, with the same characters as \u escapes. */
  g_assert_cmpstr (logs.out, ==,
                   "[\"\\u001b[2J\\u0007\",\"\\u009b31m\",\"\\u2028\\u202e\"]\n");
  assert_json_tool_accepts (logs.out);
  output = nix_exec_test_json (logs.out);
  array = json_node_get_array (output);
  g_assert_cmpstr (json_array_get_string_element (array, 0), ==, "\x1b[2J\x07");
  g_assert_cmpstr (json_array_get_string_element (array, 1), ==, "\xc2\x9b" "31m");
  g_assert_cmpstr (json_array_get_string_element (array, 2), ==, "\u2028\u202e");

  /* An id and a message that quote escape sequences. */
  run_cli (fixture, &failed, NULL, "run", "boom.py", "--id", "\x1b]0;pwn\x07", "--input", "null",
           NULL);
  g_assert_cmpint (failed.status, ==, 1);
  assert_one_error_line (&failed);
  assert_terminal_safe (failed.err);
  g_assert_nonnull (strstr (failed.err, "“\\x1b]0;pwn\\x07”"));
  g_assert_nonnull (strstr (failed.err, "ValueError: \\x1b]0;pwn\\x07 \\u009b2J"));

  run_cli (fixture, &verbose, NULL, "run", "--verbose", "boom.py", "--id", "\x1b[2J",
           "--input", "null", NULL);
  g_assert_cmpint (verbose.status, ==, 1);
  assert_terminal_safe (verbose.err);
  g_assert_nonnull (strstr (verbose.err, "Traceback"));
  g_assert_nonnull (strstr (verbose.err, "“\\x1b[2J”"));

  /* --json has the message exactly. */
  run_cli (fixture, &json, NULL, "run", "--json", "boom.py", "--id", "\x1b[2J", "--input", "null",
           NULL);
  g_assert_cmpint (json.status, ==, 1);
  assert_terminal_safe (json.out);
  assert_json_tool_accepts (json.out);
  report = parse_object (json.out);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              json_object_get_object_member (report, "error"), "message"),
                            "“\x1b[2J”"));
}

/* ------------------------------------------------------------------------ */
/* Exit codes                                                               */
/* ------------------------------------------------------------------------ */

static void
assert_usage_error (Fixture    *fixture,
                    const char *first,
                    ...)
{
  g_auto(Run) run = { 0, };
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *arg = first;
  va_list args;

  g_ptr_array_add (argv, (char *) g_getenv ("NIXEXEC_CLI"));
  va_start (args, first);
  for (; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  run_argv (fixture, NULL, NULL, NULL, argv, &run);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_cmpstr (run.out, ==, "");
  assert_one_error_line (&run);
}

static void
test_exit_usage (Fixture       *fixture,
                 gconstpointer  user_data)
{
  write_file (fixture, "greet.py", greet_py);
  write_file (fixture, "greet.txt", greet_py);

  assert_usage_error (fixture, NULL);
  assert_usage_error (fixture, "frobnicate", NULL);
  assert_usage_error (fixture, "--no-such-option", "run", "greet.py", NULL);
  assert_usage_error (fixture, "run", "--no-such-option", "greet.py", NULL);
  assert_usage_error (fixture, "run", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--isolate", "sometimes", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--ro-bind", "relative/path", NULL);
  assert_usage_error (fixture, "run", "greet.py", "greet.py", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--input", "{not json", NULL);
  assert_usage_error (fixture, "run", "greet.txt", "--input", "{}", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--lang", "cobol", "--input", "{}", NULL);
  assert_usage_error (fixture, "run", "missing.py", "--input", "{}", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--timeout", "soon", "--input", "{}", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--timeout", "-1", "--input", "{}", NULL);
  assert_usage_error (fixture, "run", "greet.py", "--max-output-bytes", "1k", "--input", "{}",
                      NULL);
  assert_usage_error (fixture, "run", "greet.py", "--nix-option", "novalue", "--input", "{}",
                      NULL);
  assert_usage_error (fixture, "run", "greet.py", "--stage", "greet", "--input", "{}", NULL);
  assert_usage_error (fixture, "run", "--store", "store.json", "--input", "{}", NULL);
}

/* Input that is not strict RFC 8259 JSON, or that nixexec cannot hold:
 * a usage error, exit 2, that says what and where, and no crash. */
static void
test_exit_bad_input (Fixture       *fixture,
                     gconstpointer  user_data)
{
  static const struct
  {
    const char *input;
    const char *says;
  } bad[] = {
    { "'a'", "at line 1, column 1" },
    { "0x10", "Text after the JSON value" },
    { "01", "leading zero" },
    { ".5", "Expected a JSON value" },
    { "\xef\xbb\xbf{}", "U+FEFF at line 1, column 1" },
    { "\"\x01\"", "U+0001" },
    { "\"a\\u0000b\"", "U+0000" },
    { "\"\\ud800\"", "surrogate" },
    { "\"\xff\"", "UTF-8" },
    { "18446744073709551616", "64-bit" },
    { "-9223372036854775809", "64-bit" },
    { "1e400", "too large" },
    { "[1] 2", "at line 1, column 5" },
    { "{\n  \"a\": 01\n}", "at line 2, column 8" },
    { "{\"a\": 1, \"a\": 2}", "twice" },
    { "[1,]", "Expected a JSON value" },
    { "NaN", "Expected a JSON value" },
    { "", "the end of the text" },
  };
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GString) deep_object = g_string_new (NULL);

  write_file (fixture, "echo.py", "def execute(input):\n    return input\n");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto(Run) option = { 0, };
      g_auto(Run) stdin_run = { 0, };

      run_cli (fixture, &option, NULL, "run", "echo.py", "--input", bad[i].input, NULL);
      g_assert_cmpint (option.status, ==, 2);
      g_assert_cmpstr (option.out, ==, "");
      assert_one_error_line (&option);
      assert_terminal_safe (option.err);
      g_assert_nonnull (strstr (option.err, "The input (--input) is not valid JSON"));
      g_assert_nonnull (strstr (option.err, " at line "));
      g_assert_nonnull (strstr (option.err, ", column "));
      g_assert_nonnull (strstr (option.err, bad[i].says));

      /* Empty stdin is null, not an error. */
      if (*bad[i].input == '\0')
        continue;
      run_cli (fixture, &stdin_run, bad[i].input, "run", "echo.py", NULL);
      g_assert_cmpint (stdin_run.status, ==, 2);
      g_assert_cmpstr (stdin_run.out, ==, "");
      assert_one_error_line (&stdin_run);
      g_assert_nonnull (strstr (stdin_run.err, "The input (stdin) is not valid JSON"));
      g_assert_nonnull (strstr (stdin_run.err, bad[i].says));
    }

  /* 100,000 levels, which would overflow a recursive parser's stack. */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 50000; i++)
    g_string_append (deep_object, "{\"a\":");
  {
    g_auto(Run) option = { 0, };
    g_auto(Run) stdin_run = { 0, };
    g_auto(Run) objects = { 0, };
    g_auto(Run) json = { 0, };
    g_autoptr(JsonObject) report = NULL;

    run_cli (fixture, &option, NULL, "run", "echo.py", "--input", deep->str, NULL);
    g_assert_cmpint (option.status, ==, 2);
    assert_one_error_line (&option);
    g_assert_nonnull (strstr (option.err, "deeper than 512 levels at line 1, column 513"));

    run_cli (fixture, &stdin_run, deep->str, "run", "echo.py", NULL);
    g_assert_cmpint (stdin_run.status, ==, 2);
    assert_one_error_line (&stdin_run);
    g_assert_nonnull (strstr (stdin_run.err, "deeper than 512 levels"));

    run_cli (fixture, &objects, deep_object->str, "run", "echo.py", NULL);
    g_assert_cmpint (objects.status, ==, 2);
    assert_one_error_line (&objects);
    g_assert_nonnull (strstr (objects.err, "deeper than 512 levels"));

    /* With --json, the error is JSON too. */
    run_cli (fixture, &json, deep->str, "run", "--json", "echo.py", NULL);
    g_assert_cmpint (json.status, ==, 2);
    if (have_json_tool ())
      assert_json_tool_accepts (json.out);
    report = parse_object (json.out);
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (report, "error"),
                                                 "exit_status"), ==, 2);
  }

  /* 512 levels are fine. */
  {
    g_auto(Run) run = { 0, };
    g_autoptr(GString) nested = g_string_new (NULL);

    for (guint i = 0; i < 512; i++)
      g_string_append_c (nested, '[');
    for (guint i = 0; i < 512; i++)
      g_string_append_c (nested, ']');
    run_cli (fixture, &run, nested->str, "run", "echo.py", NULL);
    g_assert_cmpint (run.status, ==, 0);
    g_string_append_c (nested, '\n');
    g_assert_cmpstr (run.out, ==, nested->str);
  }
}

static void
test_help (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_auto(Run) main_help = { 0, };
  g_auto(Run) run_help = { 0, };

  run_cli (fixture, &main_help, NULL, "--help", NULL);
  g_assert_cmpint (main_help.status, ==, 0);
  g_assert_nonnull (strstr (main_help.out, "Exit status:"));
  g_assert_nonnull (strstr (main_help.out, "130"));
  g_assert_nonnull (strstr (main_help.out, "NIXEXEC_OFFLINE"));

  run_cli (fixture, &run_help, NULL, "run", "--help", NULL);
  g_assert_cmpint (run_help.status, ==, 0);
  g_assert_nonnull (strstr (run_help.out, "--effects"));
  g_assert_nonnull (strstr (run_help.out, "--flake"));
}

static void
test_exit_stage_failed (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };
  g_auto(Run) verbose = { 0, };
  g_auto(Run) json = { 0, };
  g_auto(Run) invalid_output = { 0, };
  g_auto(Run) too_large = { 0, };
  g_autoptr(JsonObject) report = NULL;
  JsonObject *error;

  write_file (fixture, "fail.py",
              "def execute(input):\n"
              "    raise ValueError('boom')\n");
  write_file (fixture, "not-json.sh", "execute() { echo 'not json'; }\n");
  write_file (fixture, "big.py", "def execute(input):\n    return 'x' * 100000\n");

  run_cli (fixture, &run, NULL, "run", "fail.py", "--input", "{}", NULL);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  assert_one_error_line (&run);
  g_assert_nonnull (strstr (run.err, "ValueError: boom"));
  g_assert_null (strstr (run.err, "Traceback"));

  run_cli (fixture, &verbose, NULL, "run", "--verbose", "fail.py", "--input", "{}", NULL);
  g_assert_cmpint (verbose.status, ==, 1);
  g_assert_nonnull (strstr (verbose.err, "Traceback"));

  run_cli (fixture, &json, NULL, "run", "--json", "fail.py", "--input", "{}", NULL);
  g_assert_cmpint (json.status, ==, 1);
  assert_one_error_line (&json);
  report = parse_object (json.out);
  error = json_object_get_object_member (report, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "domain"), ==,
                   g_quark_to_string (NIX_EXEC_ERROR));
  g_assert_cmpint (json_object_get_int_member (error, "code"), ==, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_cmpstr (json_object_get_string_member (error, "name"), ==,
                   "NIX_EXEC_ERROR_STAGE_FAILED");
  g_assert_nonnull (strstr (json_object_get_string_member (error, "message"), "Traceback"));
  g_assert_cmpint (json_object_get_int_member (error, "exit_status"), ==, 1);

  run_cli (fixture, &invalid_output, NULL, "run", "not-json.sh", "--input", "{}", NULL);
  g_assert_cmpint (invalid_output.status, ==, 1);
  assert_one_error_line (&invalid_output);

  run_cli (fixture, &too_large, NULL, "run", "big.py", "--max-output-bytes", "1000",
           "--input", "{}", NULL);
  g_assert_cmpint (too_large.status, ==, 1);
  assert_one_error_line (&too_large);
}

static void
test_exit_not_found (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_auto(Run) add = { 0, };
  g_auto(Run) missing = { 0, };
  g_auto(Run) found = { 0, };
  g_auto(Run) syntax = { 0, };

  write_file (fixture, "greet.py", greet_py);
  write_file (fixture, "broken.py", "def execute(input:\n    return 1\n");

  run_cli (fixture, &add, NULL, "add", "--store", "store.json", "greet.py", NULL);
  g_assert_cmpint (add.status, ==, 0);

  run_cli (fixture, &missing, NULL, "run", "--store", "store.json", "--stage", "nope",
           "--input", "{}", NULL);
  g_assert_cmpint (missing.status, ==, 3);
  assert_one_error_line (&missing);

  run_cli (fixture, &found, NULL, "run", "--store", "store.json", "--stage", "greet",
           "--input", "{\"name\": \"store\"}", NULL);
  g_assert_cmpint (found.status, ==, 0);
  g_assert_cmpstr (found.out, ==, "{\"greeting\":\"Hello, store!\"}\n");

  /* An invalid stage is in the same class. */
  run_cli (fixture, &syntax, NULL, "run", "broken.py", "--input", "{}", NULL);
  g_assert_cmpint (syntax.status, ==, 3);
  assert_one_error_line (&syntax);
}

static void
test_exit_timeout (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };
  gint64 started;

  write_file (fixture, "slow.py",
              "import time\n"
              "def execute(input):\n"
              "    time.sleep(60)\n");

  started = g_get_monotonic_time ();
  run_cli (fixture, &run, NULL, "run", "slow.py", "--timeout", "1", "--input", "{}", NULL);
  g_assert_cmpint (run.status, ==, 4);
  assert_one_error_line (&run);
  g_assert_cmpint (g_get_monotonic_time () - started, <, 50 * G_USEC_PER_SEC);
}

static void
test_exit_nix (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_auto(Run) flake = { 0, };
  g_auto(Run) lock = { 0, };
  g_auto(Run) nix = { 0, };

  write_file (fixture, "greet.py", greet_py);
  write_file (fixture, "bad.lock.json", "{\"version\": 1}");

  run_cli (fixture, &flake, NULL, "run", "greet.py", "--flake", "path:/nonexistent",
           "--input", "{\"name\": \"x\"}", NULL);
  g_assert_cmpint (flake.status, ==, 5);
  assert_one_error_line (&flake);

  run_cli (fixture, &lock, NULL, "run", "greet.py", "--lock", "bad.lock.json",
           "--input", "{\"name\": \"x\"}", NULL);
  g_assert_cmpint (lock.status, ==, 5);
  assert_one_error_line (&lock);

  run_cli (fixture, &nix, NULL, "run", "greet.py", "--nix", "/nonexistent/nix",
           "--input", "{\"name\": \"x\"}", NULL);
  g_assert_cmpint (nix.status, ==, 5);
  assert_one_error_line (&nix);
}

static void
test_exit_cancelled (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (fixture, NULL);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pid_file = fixture_path (fixture, "stage.pid");
  g_autofree char *code = g_strdup_printf ("execute() { echo $$ > '%s'; sleep 60; }\n", pid_file);
  g_autofree char *pid_text = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  GPid stage_pid;

  write_file (fixture, "sleepy.sh", code);
  /* Unconfined, so that the stage can tell its host pid (the sandbox's
   * own cancel is the escape suite's). */
  process = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("NIXEXEC_CLI"),
                                         "run", "sleepy.sh", "--isolate", "none",
                                         "--input", "{}", NULL);
  g_assert_no_error (error);

  while (!g_file_get_contents (pid_file, &pid_text, NULL, NULL) || *pid_text == '\0')
    {
      g_clear_pointer (&pid_text, g_free);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  stage_pid = (GPid) g_ascii_strtoll (pid_text, NULL, 10);
  g_assert_cmpint (stage_pid, >, 1);
  g_assert_true (nix_exec_test_pid_alive (stage_pid));

  g_subprocess_send_signal (process, SIGINT);
  g_subprocess_communicate_utf8 (process, "", NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("stderr: %s", err);

  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 130);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, ==, "nixexec: cancelled\n");
  /* The stage's process group was killed with it. */
  g_assert_false (nix_exec_test_pid_alive (stage_pid));
}

/* ------------------------------------------------------------------------ */
/* Effects and stores                                                       */
/* ------------------------------------------------------------------------ */

static JsonArray *
list_json (Fixture *fixture)
{
  g_auto(Run) run = { 0, };
  g_autoptr(JsonNode) node = NULL;

  run_cli (fixture, &run, NULL, "list", "--store", "store.json", "--json", NULL);
  g_assert_cmpint (run.status, ==, 0);
  node = nix_exec_test_json (run.out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  return json_array_ref (json_node_get_array (node));
}

static void
test_effects (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_auto(Run) add = { 0, };
  g_autoptr(JsonArray) stages = NULL;
  g_autoptr(NixExecEffectSet) expected = nix_exec_effect_set_new ();
  g_autoptr(NixExecEffectSet) listed = NULL;
  g_autoptr(JsonNode) wrapped = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = fixture_path (fixture, "data");
  JsonObject *stage;

  write_file (fixture, "greet.py", greet_py);

  run_cli (fixture, &add, NULL, "add", "--store", "store.json", "greet.py", "--effects",
           "network,fs-read=/srv/in,fs-write=data,Cost=5,llm=small-model,NonDeterministic",
           NULL);
  g_assert_cmpint (add.status, ==, 0);

  nix_exec_effect_set_add (expected, NIX_EXEC_EFFECT_KIND_NETWORK);
  nix_exec_effect_set_add_fs_read (expected, "/srv/in");
  /* Relative paths are the command's working directory's. */
  nix_exec_effect_set_add_fs_write (expected, data_dir);
  nix_exec_effect_set_add_cost (expected, 5);
  nix_exec_effect_set_add_llm (expected, "small-model");
  nix_exec_effect_set_add (expected, NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC);

  stages = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (stages), ==, 1);
  stage = json_array_get_object_element (stages, 0);
  wrapped = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (wrapped, json_object_new ());
  json_object_set_member (json_node_get_object (wrapped), "effects",
                          json_node_copy (json_object_get_member (stage, "effects")));
  listed = nix_exec_effect_set_new_from_json (wrapped, &error);
  g_assert_no_error (error);
  g_assert_true (nix_exec_effect_set_equal (listed, expected));

  /* Bad effects are usage errors that list the valid ones. */
  {
    static const char * const bad[] = {
      "network,teleport",
      "fs-read",
      "network=yes",
      "cost=five",
      "network,,pure",
      "",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_auto(Run) run = { 0, };

        run_cli (fixture, &run, NULL, "run", "greet.py", "--effects", bad[i],
                 "--input", "{\"name\": \"e\"}", NULL);
        g_assert_cmpint (run.status, ==, 2);
        assert_one_error_line (&run);
        if (i == 0)
          {
            g_assert_nonnull (strstr (run.err, "teleport"));
            g_assert_nonnull (strstr (run.err, "fs-read=PATH"));
          }
      }
  }
}

static void
test_store_add_list (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_auto(Run) add = { 0, };
  g_auto(Run) add_other = { 0, };
  g_auto(Run) list = { 0, };
  g_auto(Run) remove = { 0, };
  g_auto(Run) missing = { 0, };
  g_autoptr(JsonArray) stages = NULL;
  g_autoptr(JsonArray) after = NULL;
  JsonObject *stage;

  write_file (fixture, "greet.py", greet_py);
  write_file (fixture, "greet.js", greet_js);

  run_cli (fixture, &missing, NULL, "list", "--store", "store.json", NULL);
  g_assert_cmpint (missing.status, ==, 2);
  assert_one_error_line (&missing);

  run_cli (fixture, &add, NULL, "add", "--store", "store.json", "greet.py", "--name", "Greeter",
           "--effects", "pure", NULL);
  g_assert_cmpint (add.status, ==, 0);
  run_cli (fixture, &add_other, NULL, "add", "--store", "store.json", "greet.js", "--id", "hello",
           NULL);
  g_assert_cmpint (add_other.status, ==, 0);

  stages = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (stages), ==, 2);
  stage = json_array_get_object_element (stages, 0);
  g_assert_cmpstr (json_object_get_string_member (stage, "id"), ==, "greet");
  g_assert_cmpstr (json_object_get_string_member (stage, "name"), ==, "Greeter");
  g_assert_cmpstr (json_object_get_string_member (stage, "language"), ==, "python");
  stage = json_array_get_object_element (stages, 1);
  g_assert_cmpstr (json_object_get_string_member (stage, "id"), ==, "hello");
  g_assert_true (json_object_get_null_member (stage, "name"));
  g_assert_cmpstr (json_object_get_string_member (stage, "language"), ==, "javascript");

  run_cli (fixture, &list, NULL, "list", "--store", "store.json", NULL);
  g_assert_cmpint (list.status, ==, 0);
  g_assert_true (g_str_has_prefix (list.out, "ID "));
  g_assert_nonnull (strstr (list.out, "\ngreet  "));
  g_assert_nonnull (strstr (list.out, "Greeter"));
  g_assert_nonnull (strstr (list.out, "pure\n"));
  g_assert_nonnull (strstr (list.out, "unknown\n"));

  run_cli (fixture, &remove, NULL, "remove", "--store", "store.json", "greet", NULL);
  g_assert_cmpint (remove.status, ==, 0);
  after = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (after), ==, 1);
}

/* A store file whose ids, name and path hold terminal escape sequences. */
static const char hostile_store[] =
  "{\"stages\": [\n"
  "  {\"id\": \"\\u001b]0;pwn\\u0007\", \"name\": \"\\u009b31mname\",\n"
  "   \"implementation_code\": \"def execute(input):\\n    return input\\n\",\n"
  "   \"implementation_language\": \"python\",\n"
  "   \"signature\": {\"effects\": {\"effects\": [{\"effect\": \"FsRead\", "
  "\"path\": \"/data/\\u001b[5m\"}]}}},\n"
  "  {\"id\": \"\\u001b[2J\",\n"
  "   \"implementation_code\": \"def execute(input):\\n    return input\\n\",\n"
  "   \"implementation_language\": \"python\"}\n"
  "]}\n";

static void
test_store_list_escapes (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_auto(Run) list = { 0, };
  g_auto(Run) json = { 0, };
  g_auto(Run) remove = { 0, };
  g_auto(Run) run = { 0, };
  g_autoptr(JsonNode) stages = NULL;
  g_auto(GStrv) lines = NULL;
  JsonObject *stage;

  if (!have_json_tool ())
    return;

  write_file (fixture, "store.json", hostile_store);

  run_cli (fixture, &list, NULL, "list", "--store", "store.json", NULL);
  g_assert_cmpint (list.status, ==, 0);
  assert_terminal_safe (list.out);
  lines = g_strsplit (list.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  /* Escaped, and lined up as what is shown. */
  g_assert_cmpstr (lines[0], ==, "ID              LANGUAGE  NAME           EFFECTS");
  g_assert_cmpstr (lines[1], ==, "\\x1b]0;pwn\\x07  python    \\u009b31mname  fs-read=/data/\\x1b[5m");
  g_assert_cmpstr (lines[2], ==, "\\x1b[2J         python    -              unknown");

  /* --json holds them exactly, as valid JSON. */
  run_cli (fixture, &json, NULL, "list", "--store", "store.json", "--json", NULL);
  g_assert_cmpint (json.status, ==, 0);
  assert_terminal_safe (json.out);
  assert_json_tool_accepts (json.out);
  stages = nix_exec_test_json (json.out);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (stages)), ==, 2);
  stage = json_array_get_object_element (json_node_get_array (stages), 0);
  g_assert_cmpstr (json_object_get_string_member (stage, "id"), ==, "\x1b]0;pwn\x07");
  g_assert_cmpstr (json_object_get_string_member (stage, "name"), ==, "\xc2\x9b" "31mname");
  stage = json_array_get_object_element (json_node_get_array (stages), 1);
  g_assert_cmpstr (json_object_get_string_member (stage, "id"), ==, "\x1b[2J");

  /* Errors that quote an id. */
  run_cli (fixture, &remove, NULL, "remove", "--store", "store.json", "\x1b[2Jx", NULL);
  g_assert_cmpint (remove.status, ==, 3);
  assert_one_error_line (&remove);
  assert_terminal_safe (remove.err);
  g_assert_nonnull (strstr (remove.err, "\\x1b[2Jx"));

  run_cli (fixture, &run, NULL, "run", "--store", "store.json", "--stage", "\x1b[2J",
           "--input", "\"\\u009b\\u001b\"", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, "\"\\u009b\\u001b\"\n");
}

/* ------------------------------------------------------------------------ */
/* warmup, lock, doctor                                                     */
/* ------------------------------------------------------------------------ */

static void
assert_progress_line (const char *err,
                      const char *runtime)
{
  g_autofree char *line = g_strdup_printf ("%s → /nix/store/", runtime);
  const char *found = strstr (err, line);

  g_assert_nonnull (found);
  g_assert_true (found == err || found[-1] == '\n');
}

static void
test_warmup (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_auto(Run) all = { 0, };
  g_auto(Run) one = { 0, };
  g_auto(Run) json = { 0, };
  g_autoptr(JsonObject) report = NULL;
  JsonObject *runtimes;

  run_cli (fixture, &all, NULL, "warmup", NULL);
  g_assert_cmpint (all.status, ==, 0);
  assert_progress_line (all.err, "python3");
  assert_progress_line (all.err, "nodejs");
  assert_progress_line (all.err, "bash");

  write_file (fixture, "greet.py", greet_py);
  run_cli (fixture, &one, NULL, "warmup", "greet.py", NULL);
  g_assert_cmpint (one.status, ==, 0);
  assert_progress_line (one.err, "python3");
  g_assert_null (strstr (one.err, "nodejs"));

  run_cli (fixture, &json, NULL, "warmup", "--json", "--quiet", NULL);
  g_assert_cmpint (json.status, ==, 0);
  g_assert_cmpstr (json.err, ==, "");
  report = parse_object (json.out);
  runtimes = json_object_get_object_member (report, "runtimes");
  g_assert_cmpuint (json_object_get_size (runtimes), ==, 3);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (runtimes, "bash"),
                                   "/nix/store/"));
  g_assert_nonnull (strstr (json_object_get_string_member (report, "flake_url"), "narHash="));
}

/* A private copy of the runtime flake, whose python3 is named @name: a
 * new name is a new store path. */
static void
write_flake (Fixture    *fixture,
             const char *name)
{
  g_autofree char *source = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "runtime-flake",
                                              "flake.nix", NULL);
  g_autofree char *flake_dir = fixture_path (fixture, "flake");
  g_autofree char *target = g_build_filename (flake_dir, "flake.nix", NULL);
  g_autofree char *quoted = g_strdup_printf ("\"%s\"", name);
  g_autofree char *text = NULL;
  g_autoptr(GString) changed = NULL;

  g_assert_true (g_file_get_contents (source, &text, NULL, NULL));
  changed = g_string_new (text);
  g_assert_cmpuint (g_string_replace (changed, "\"nixexec-test-python3\"", quoted, 0), ==, 1);
  g_assert_cmpint (g_mkdir_with_parents (flake_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (target, changed->str, -1, NULL));
}

static void
test_lock (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_auto(Run) lock = { 0, };
  g_auto(Run) here = { 0, };
  g_auto(Run) elsewhere = { 0, };
  g_auto(Run) unlocked = { 0, };
  g_autofree char *lock_path = fixture_path (fixture, "nixexec.lock.json");
  g_autofree char *lock_text = NULL;
  g_autofree char *flake_dir = fixture_path (fixture, "flake");
  g_autofree char *flake = g_strdup_printf ("path:%s", flake_dir);
  g_autofree char *other_cache = fixture_path (fixture, "other-cache");
  g_autofree char *third_cache = fixture_path (fixture, "third-cache");
  g_autoptr(JsonObject) lock_object = NULL;
  g_autoptr(JsonObject) here_result = NULL;
  g_autoptr(JsonObject) elsewhere_result = NULL;
  g_autoptr(JsonObject) unlocked_result = NULL;
  const char *pinned;

  write_file (fixture, "greet.py", greet_py);
  write_flake (fixture, "nixexec-cli-lock-first");

  /* The default output is ./nixexec.lock.json. */
  run_cli (fixture, &lock, NULL, "--flake", flake, "lock", NULL);
  g_assert_cmpint (lock.status, ==, 0);
  g_assert_true (g_file_get_contents (lock_path, &lock_text, NULL, NULL));
  lock_object = parse_object (lock_text);
  pinned = json_object_get_string_member (json_object_get_object_member (lock_object, "runtimes"),
                                          "python3");
  g_assert_true (g_str_has_suffix (pinned, "-nixexec-cli-lock-first"));
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (lock_object,
                                                                         "runtimes")), ==, 3);

  run_cli (fixture, &here, NULL, "run", "--flake", flake, "--json", "greet.py",
           "-i", "{\"name\": \"a\"}", NULL);
  g_assert_cmpint (here.status, ==, 0);
  here_result = parse_object (here.out);
  g_assert_cmpstr (json_object_get_string_member (here_result, "runtime_path"), ==, pinned);

  /* The flake moves on. */
  write_flake (fixture, "nixexec-cli-lock-second");

  /* A fresh cache, as on another machine: the lock still gives the path
   * it pinned, and the locked flake URL. */
  run_cli_with_cache (fixture, other_cache, &elsewhere, "run", "--flake", flake, "--json",
                      "--lock", "nixexec.lock.json", "greet.py", "-i", "{\"name\": \"b\"}",
                      NULL);
  g_assert_cmpint (elsewhere.status, ==, 0);
  elsewhere_result = parse_object (elsewhere.out);
  g_assert_cmpstr (json_object_get_string_member (elsewhere_result, "runtime_path"), ==, pinned);
  g_assert_cmpstr (json_object_get_string_member (elsewhere_result, "flake_url"), ==,
                   json_object_get_string_member (lock_object, "flake"));

  /* Without the lock, a fresh cache follows the flake. */
  run_cli_with_cache (fixture, third_cache, &unlocked, "run", "--flake", flake, "--json",
                      "greet.py", "-i", "{\"name\": \"c\"}", NULL);
  g_assert_cmpint (unlocked.status, ==, 0);
  unlocked_result = parse_object (unlocked.out);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (unlocked_result,
                                                                  "runtime_path"),
                                   "-nixexec-cli-lock-second"));
}

static void
test_doctor (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };
  g_auto(Run) resolved = { 0, };
  g_auto(Run) text = { 0, };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) after = NULL;
  g_autofree char *cache_dir = g_build_filename (fixture->cache_dir, "nixexec-glib", NULL);
  JsonObject *check;
  const char *mode;

  run_cli (fixture, &run, NULL, "doctor", "--json", NULL);
  g_assert_cmpint (run.status, ==, 0);
  report = parse_object (run.out);
  g_assert_true (json_object_get_boolean_member (report, "ok"));

  check = json_object_get_object_member (report, "nix");
  g_assert_true (json_object_get_boolean_member (check, "ok"));
  g_assert_true (g_path_is_absolute (json_object_get_string_member (check, "path")));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (check, "version"), "nix "));

  check = json_object_get_object_member (report, "flakes");
  g_assert_true (json_object_get_boolean_member (check, "ok"));
  check = json_object_get_object_member (report, "flake");
  g_assert_true (json_object_get_boolean_member (check, "ok"));
  g_assert_nonnull (strstr (json_object_get_string_member (check, "locked_url"), "narHash="));

  check = json_object_get_object_member (report, "store");
  g_assert_true (json_object_get_boolean_member (check, "ok"));
  mode = json_object_get_string_member (check, "mode");
  if (g_file_test ("/nix/var/nix/daemon-socket/socket", G_FILE_TEST_EXISTS))
    g_assert_true (g_str_equal (mode, "daemon") || g_str_equal (mode, "single-user"));
  else
    g_assert_cmpstr (mode, ==, "single-user");

  /* Whether bwrap works depends on the machine; that it is reported does
   * not. */
  check = json_object_get_object_member (report, "bwrap");
  g_assert_nonnull (check);
  g_assert_true (json_object_has_member (check, "ok"));
  g_assert_true (json_object_has_member (check, "path"));
  g_assert_true (json_object_has_member (check, json_object_get_boolean_member (check, "ok")
                                                ? "detail" : "reason"));

  check = json_object_get_object_member (report, "cache-dir");
  g_assert_true (json_object_get_boolean_member (check, "ok"));
  g_assert_cmpstr (json_object_get_string_member (check, "path"), ==, cache_dir);
  g_assert_true (json_object_get_boolean_member (check, "writable"));

  /* A fresh cache: nothing resolved yet. */
  check = json_object_get_object_member (report, "runtimes");
  g_assert_true (json_object_get_null_member (check, "flake_url"));
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (check, "paths")), ==, 0);

  run_cli (fixture, &resolved, NULL, "doctor", "--json", "--resolve", NULL);
  g_assert_cmpint (resolved.status, ==, 0);
  after = parse_object (resolved.out);
  check = json_object_get_object_member (after, "runtimes");
  g_assert_nonnull (strstr (json_object_get_string_member (check, "flake_url"), "narHash="));
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (check, "paths")), ==, 3);

  run_cli (fixture, &text, NULL, "doctor", NULL);
  g_assert_cmpint (text.status, ==, 0);
  g_assert_true (g_str_has_prefix (text.out, "nix "));
  g_assert_nonnull (strstr (text.out, "python3"));
}

/* A config with what the CLI adds under NIXEXEC_OFFLINE=1 that bears on
 * isolation: the host directories it binds for the bundled flake, then
 * @ro_bind, if not NULL, as --ro-bind gives it. */
static NixExecConfig *
offline_config (NixExecIsolation  isolation,
                const char       *ro_bind)
{
  const char * const binds[] = { "/usr", "/bin", "/lib", "/lib64", ro_bind, NULL };
  NixExecConfig *config = nix_exec_config_new ();

  nix_exec_config_set_extra_ro_binds (config, binds);
  nix_exec_config_set_isolation (config, isolation);
  return config;
}

/* The bwrap check of `nixexec doctor --json OPTION VALUE` (none if NULL),
 * which exits with @status. */
static JsonObject *
doctor_bwrap_check (Fixture    *fixture,
                    const char *option,
                    const char *value,
                    int         status)
{
  g_auto(Run) run = { 0, };
  g_autoptr(JsonObject) report = NULL;
  JsonObject *check;

  if (option != NULL)
    run_cli (fixture, &run, NULL, "doctor", "--json", option, value, NULL);
  else
    run_cli (fixture, &run, NULL, "doctor", "--json", NULL);
  g_assert_cmpint (run.status, ==, status);
  report = parse_object (run.out);
  g_assert_true (json_object_get_boolean_member (report, "ok") == (status == 0));
  check = json_object_get_object_member (report, "bwrap");
  g_assert_nonnull (check);
  g_assert_true (json_object_has_member (check, "path"));
  return json_object_ref (check);
}

static void
test_doctor_isolation (Fixture       *fixture,
                       gconstpointer  user_data)
{
  const char *home = g_get_home_dir ();
  g_autoptr(NixExecConfig) none_config = offline_config (NIX_EXEC_ISOLATION_NONE, NULL);
  g_autoptr(NixExecConfig) bwrap_config = offline_config (NIX_EXEC_ISOLATION_BWRAP, NULL);
  g_autoptr(NixExecConfig) home_config = offline_config (NIX_EXEC_ISOLATION_AUTO, home);
  g_autoptr(NixExecExecutor) none = NULL;
  g_autoptr(NixExecExecutor) bwrap = NULL;
  g_autoptr(NixExecExecutor) home_executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) home_error = NULL;
  g_autoptr(JsonObject) check = NULL;

  /* --isolate none: not isolated, for the library's reason, and that does
   * not stop stages from running. */
  none = nix_exec_executor_new (none_config, &error);
  g_assert_no_error (error);
  g_assert_false (nix_exec_executor_get_isolation_active (none));
  g_assert_nonnull (nix_exec_executor_get_isolation_reason (none));

  check = doctor_bwrap_check (fixture, "--isolate", "none", 0);
  g_assert_false (json_object_get_boolean_member (check, "ok"));
  g_assert_false (json_object_get_boolean_member (check, "isolation_active"));
  g_assert_false (json_object_get_boolean_member (check, "required"));
  g_assert_cmpstr (json_object_get_string_member (check, "isolation_reason"), ==,
                   nix_exec_executor_get_isolation_reason (none));
  g_assert_nonnull (strstr (json_object_get_string_member (check, "reason"),
                            nix_exec_executor_get_isolation_reason (none)));
  g_clear_pointer (&check, json_object_unref);

  /* By default, and with --isolate bwrap, what the library decides on this
   * machine: with BWRAP it builds an executor exactly when the sandbox
   * works here. (A BWRAP config says so by an error, where AUTO would log
   * a warning, fatal in a test.) */
  bwrap = nix_exec_executor_new (bwrap_config, &error);
  if (bwrap != NULL)
    {
      g_assert_true (nix_exec_executor_get_isolation_active (bwrap));

      check = doctor_bwrap_check (fixture, NULL, NULL, 0);
      g_assert_true (json_object_get_boolean_member (check, "ok"));
      g_assert_true (json_object_get_boolean_member (check, "isolation_active"));
      g_assert_true (json_object_get_null_member (check, "isolation_reason"));
      g_assert_cmpstr (json_object_get_string_member (check, "detail"), ==,
                       "stages run in a bubblewrap sandbox");
      g_clear_pointer (&check, json_object_unref);

      check = doctor_bwrap_check (fixture, "--isolate", "bwrap", 0);
      g_assert_true (json_object_get_boolean_member (check, "isolation_active"));
      g_assert_true (json_object_get_boolean_member (check, "required"));
    }
  else
    {
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);

      check = doctor_bwrap_check (fixture, NULL, NULL, 0);
      g_assert_false (json_object_get_boolean_member (check, "ok"));
      g_assert_false (json_object_get_boolean_member (check, "isolation_active"));
      g_assert_nonnull (strstr (error->message,
                                json_object_get_string_member (check, "isolation_reason")));
      g_clear_pointer (&check, json_object_unref);

      /* Required, it matters: the library's own error, exit 6. */
      check = doctor_bwrap_check (fixture, "--isolate", "bwrap", 6);
      g_assert_false (json_object_get_boolean_member (check, "ok"));
      g_assert_true (json_object_get_boolean_member (check, "required"));
      g_assert_cmpstr (json_object_get_string_member (check, "reason"), ==, error->message);
      g_clear_pointer (&check, json_object_unref);
    }

  /* A --ro-bind of the home directory, which the sandbox refuses on any
   * machine: the library builds no executor, and the doctor fails the
   * check with its error, exit 6. */
  home_executor = nix_exec_executor_new (home_config, &home_error);
  g_assert_null (home_executor);
  g_assert_error (home_error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);

  check = doctor_bwrap_check (fixture, "--ro-bind", home, 6);
  g_assert_false (json_object_get_boolean_member (check, "ok"));
  g_assert_false (json_object_get_boolean_member (check, "isolation_active"));
  g_assert_false (json_object_get_boolean_member (check, "required"));
  g_assert_cmpstr (json_object_get_string_member (check, "reason"), ==, home_error->message);
  g_assert_cmpstr (json_object_get_string_member (check, "isolation_reason"), ==,
                   home_error->message);
}

static void
test_doctor_failing (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_auto(Run) run = { 0, };
  g_autoptr(JsonObject) report = NULL;

  run_cli (fixture, &run, NULL, "doctor", "--json", "--flake", "path:/nonexistent", NULL);
  g_assert_cmpint (run.status, ==, 5);
  report = parse_object (run.out);
  g_assert_false (json_object_get_boolean_member (report, "ok"));
  g_assert_false (json_object_get_boolean_member (json_object_get_object_member (report, "flake"),
                                                  "ok"));
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (report, "nix"),
                                                 "ok"));
}

/* The flake is the user's, but nix's message about it, and the lock file,
 * are shown too: nothing reaches the terminal raw. */
static void
test_doctor_escapes (Fixture       *fixture,
                     gconstpointer  user_data)
{
  static const char flake[] = "path:/nonexistent/\x1b]0;pwn\x07\x1b[2J";
  g_auto(Run) text = { 0, };
  g_auto(Run) json = { 0, };
  g_autoptr(JsonObject) report = NULL;

  if (!have_json_tool ())
    return;

  run_cli (fixture, &text, NULL, "doctor", "--flake", flake, NULL);
  g_assert_cmpint (text.status, ==, 5);
  assert_terminal_safe (text.out);
  assert_terminal_safe (text.err);
  g_assert_nonnull (strstr (text.out, "path:/nonexistent/\\x1b]0;pwn\\x07\\x1b[2J"));

  run_cli (fixture, &json, NULL, "doctor", "--json", "--flake", flake, NULL);
  g_assert_cmpint (json.status, ==, 5);
  assert_terminal_safe (json.out);
  assert_json_tool_accepts (json.out);
  report = parse_object (json.out);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (report, "flake"),
                                                  "ref"), ==, flake);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The nixexec command line, run against real nix on the bundled flake");

#define ADD(path, func) \
  g_test_add ("/nixexec/cli/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("run/input", test_run_input);
  ADD ("run/stdin", test_run_stdin);
  ADD ("run/json", test_run_json);
  ADD ("run/logs", test_run_logs);
  ADD ("run/host", test_run_host);
  ADD ("run/numbers", test_run_numbers);
  ADD ("run/c-locale", test_run_c_locale);
  ADD ("run/escapes", test_run_escapes);
  ADD ("help", test_help);
  ADD ("exit/usage", test_exit_usage);
  ADD ("exit/bad-input", test_exit_bad_input);
  ADD ("exit/stage-failed", test_exit_stage_failed);
  ADD ("exit/not-found", test_exit_not_found);
  ADD ("exit/timed-out", test_exit_timeout);
  ADD ("exit/nix", test_exit_nix);
  ADD ("exit/cancelled", test_exit_cancelled);
  ADD ("effects", test_effects);
  ADD ("store/add-list-remove", test_store_add_list);
  ADD ("store/list-escapes", test_store_list_escapes);
  ADD ("warmup", test_warmup);
  ADD ("lock", test_lock);
  ADD ("doctor", test_doctor);
  ADD ("doctor/failing", test_doctor_failing);
  ADD ("doctor/isolation", test_doctor_isolation);
  ADD ("doctor/escapes", test_doctor_escapes);

#undef ADD

  return g_test_run ();
}
