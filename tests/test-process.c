/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process control: time limits, cancellation, output caps, many calls at
 * once, and nothing left behind.
 */
#include <signal.h>

#include <glib/gstdio.h>

#include "nixexec-test-util.h"

typedef struct
{
  char            *cache_dir;
  NixExecConfig   *config;
  NixExecExecutor *executor;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-process");
  fixture->config = nix_exec_test_config_new (fixture->cache_dir);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->executor);
  g_clear_object (&fixture->config);
  nix_exec_test_rm_rf (fixture->cache_dir);
  g_clear_pointer (&fixture->cache_dir, g_free);
}

/* Builds the executor from the fixture's config, registers one stage and
 * resolves its runtime, so that what the test times is the stage alone. */
static void
start_executor (Fixture    *fixture,
                const char *language,
                const char *code)
{
  fixture->executor = nix_exec_test_executor_new_for_config (fixture->config);
  nix_exec_test_register (fixture->executor, "stage", language, code);
  nix_exec_test_warmup (fixture->executor);
}

static JsonNode *
run (Fixture     *fixture,
     const char  *input_json,
     GError     **error)
{
  g_autoptr(JsonNode) input = nix_exec_test_json (input_json);

  return nix_exec_executor_execute (fixture->executor, "stage", input, NULL, error);
}

/* Samples, while a call runs, how many processes carry the marker. */
typedef struct
{
  const char *marker;
  guint       max_seen;
} Watch;

static gboolean
sample_marker (gpointer user_data)
{
  Watch *watch = user_data;

  watch->max_seen = MAX (watch->max_seen, nix_exec_test_count_processes (watch->marker));
  return G_SOURCE_CONTINUE;
}

/* Runs the stage on the string @marker, reporting in *out_max_seen how many
 * processes carrying it were seen at once while it ran. Processes are
 * identified by the marker in their arguments, in the host's /proc: the
 * stage may run in a pid namespace, where its own pids mean nothing here. */
static JsonNode *
run_watching (Fixture     *fixture,
              const char  *marker,
              guint       *out_max_seen,
              GError     **error)
{
  g_autoptr(JsonNode) input = json_node_init_string (json_node_alloc (), marker);
  g_autoptr(GAsyncResult) result = NULL;
  Watch watch = { marker, 0 };
  guint sampler;

  sampler = g_timeout_add (10, sample_marker, &watch);
  nix_exec_executor_execute_async (fixture->executor, "stage", input, NULL, nix_exec_test_on_done,
                                   &result);
  nix_exec_test_wait (&result);
  g_source_remove (sampler);

  *out_max_seen = watch.max_seen;
  return nix_exec_executor_execute_finish (fixture->executor, result, error);
}

/* Bash: the stage and a background grandchild both hold stdout open, and
 * both run `sleep MARKER`. */
static const char *grandchild_code =
  "execute() {\n"
  "  local m=${1//\\\"/}\n"
  "  sleep \"$m\" &\n"
  "  exec sleep \"$m\"\n"
  "}\n";

static void
test_timeout_kills_grandchild (Fixture       *fixture,
                               gconstpointer  user_data)
{
  nix_exec_config_set_timeout_secs (fixture->config, 2);
  start_executor (fixture, "bash", grandchild_code);

  /* On a loaded machine the stage may not even have started its sleeps
   * when its deadline comes: that proves nothing either way, so try
   * again, a few times. */
  for (guint attempt = 1; ; attempt++)
    {
      g_autofree char *marker = nix_exec_test_new_marker ();
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) output = NULL;
      gint64 start, elapsed;
      guint max_seen = 0;

      start = g_get_monotonic_time ();
      output = run_watching (fixture, marker, &max_seen, &error);
      elapsed = g_get_monotonic_time () - start;

      g_assert_null (output);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, "2 s"));
      /* The grandchild holds the pipe: a plain communicate() would wait
       * 300 s. */
      g_assert_cmpint (elapsed, <, 3 * G_USEC_PER_SEC);
      /* Neither survived. */
      nix_exec_test_assert_no_process (marker);

      if (max_seen == 2)
        break;
      g_test_message ("Attempt %u: %u of the 2 sleeps had started by the deadline",
                      attempt, max_seen);
      g_assert_cmpuint (attempt, <, 3);
    }
}

static void
test_grandchild_left_after_success (Fixture       *fixture,
                                    gconstpointer  user_data)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;
  JsonObject *object;
  gint64 start, elapsed;
  guint max_seen = 0;

  /* The stage returns as soon as its grandchild, holding stdout, runs. */
  start_executor (fixture, "bash",
                  "execute() {\n"
                  "  local m=${1//\\\"/}\n"
                  "  sleep \"$m\" &\n"
                  "  until grep -qa -- \"$m\" /proc/$!/cmdline; do :; done\n"
                  "  echo '{\"done\": true, \"started\": true}'\n"
                  "}\n");

  start = g_get_monotonic_time ();
  output = run_watching (fixture, marker, &max_seen, &error);
  elapsed = g_get_monotonic_time () - start;

  g_assert_no_error (error);
  object = json_node_get_object (output);
  g_assert_true (json_object_get_boolean_member (object, "done"));
  g_assert_true (json_object_get_boolean_member (object, "started"));
  g_assert_cmpint (elapsed, <, 5 * G_USEC_PER_SEC);

  nix_exec_test_assert_no_process (marker);
}

typedef struct
{
  const char   *marker;
  guint         wanted;
  GCancellable *cancellable;
} CancelWhen;

static gboolean
cancel_when_running (gpointer user_data)
{
  CancelWhen *when = user_data;

  if (nix_exec_test_count_processes (when->marker) < when->wanted)
    return G_SOURCE_CONTINUE;
  g_cancellable_cancel (when->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_cancel_mid_run (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autofree char *input_text = g_strdup_printf ("{\"marker\": \"%s\"}", marker);
  g_autoptr(JsonNode) input = nix_exec_test_json (input_text);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;
  CancelWhen when = { marker, 2, cancellable };
  gint64 cancelled_at;

  /* The stage starts a child, then becomes `sleep MARKER` itself: cancel
   * once both run. */
  start_executor (fixture, "python",
                  "import os, subprocess\n"
                  "def execute(input):\n"
                  "    subprocess.Popen(['sleep', input['marker']])\n"
                  "    os.execvp('sleep', ['sleep', input['marker']])\n");

  nix_exec_executor_execute_async (fixture->executor, "stage", input, cancellable,
                                   nix_exec_test_on_done, &result);
  g_timeout_add (10, cancel_when_running, &when);
  while (!g_cancellable_is_cancelled (cancellable))
    g_main_context_iteration (NULL, TRUE);
  cancelled_at = g_get_monotonic_time ();
  nix_exec_test_wait (&result);

  g_assert_cmpint (g_get_monotonic_time () - cancelled_at, <, 2 * G_USEC_PER_SEC);
  output = nix_exec_executor_execute_finish (fixture->executor, result, &error);
  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  nix_exec_test_assert_no_process (marker);
}

static gpointer
cancel_later (gpointer user_data)
{
  g_usleep (300 * 1000);
  g_cancellable_cancel (user_data);
  return NULL;
}

static void
test_cancel_sync_from_thread (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonNode) input = nix_exec_test_json ("null");
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;
  GThread *thread;

  start_executor (fixture, "javascript",
                  "function execute(input) {\n"
                  "  return new Promise(() => setTimeout(() => {}, 300000));\n"
                  "}\n");

  thread = g_thread_new ("canceller", cancel_later, cancellable);
  output = nix_exec_executor_execute (fixture->executor, "stage", input, cancellable, &error);
  g_thread_join (thread);

  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_cancelled_before_start (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;

  start_executor (fixture, "python", "def execute(input):\n    return input\n");
  g_cancellable_cancel (cancellable);
  output = nix_exec_executor_execute (fixture->executor, "stage", NULL, cancellable, &error);
  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* A Python stage returning a string of @length characters: its JSON text
 * is @length + 2 bytes. */
static const char *sized_output_code =
  "def execute(input):\n"
  "    return 'x' * input\n";

static void
test_output_cap_boundary (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) under = NULL;
  g_autoptr(JsonNode) at = NULL;
  g_autoptr(JsonNode) over = NULL;

  nix_exec_config_set_max_output_bytes (fixture->config, 1000);
  start_executor (fixture, "python", sized_output_code);

  under = run (fixture, "997", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (json_node_get_string (under)), ==, 997);

  at = run (fixture, "998", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (json_node_get_string (at)), ==, 998);

  over = run (fixture, "999", &error);
  g_assert_null (over);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "1000"));
}

static void
test_output_flood_is_killed (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;

  /* Endless output: the stage must be killed at the cap, not read to the
   * end (there is no end). */
  nix_exec_config_set_max_output_bytes (fixture->config, 64 * 1024);
  nix_exec_config_set_timeout_secs (fixture->config, 60);
  start_executor (fixture, "bash",
                  "execute() {\n"
                  "  while :; do printf '%01024d' 0; done\n"
                  "}\n");

  output = run (fixture, "null", &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
}

static void
test_stderr_cap_drops (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;

  nix_exec_config_set_max_stderr_bytes (fixture->config, 100);
  start_executor (fixture, "python",
                  "import sys\n"
                  "def execute(input):\n"
                  "    sys.stderr.write('e' * 1000000)\n"
                  "    sys.stderr.flush()\n"
                  "    if input == 'fail':\n"
                  "        raise RuntimeError('after the flood')\n"
                  "    return 'fine'\n");

  /* Past its cap, stderr is dropped, not an error. */
  output = run (fixture, "\"ok\"", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_node_get_string (output), ==, "fine");

  /* And a failure still says what failed, in a bounded message. */
  g_clear_pointer (&output, json_node_unref);
  output = run (fixture, "\"fail\"", &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "RuntimeError: after the flood"));
  g_assert_cmpuint (strlen (error->message), <, 10000);
}

static void
test_killed_by_signal (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;

  start_executor (fixture, "python",
                  "import os, signal\n"
                  "def execute(input):\n"
                  "    os.kill(os.getpid(), signal.SIGSEGV)\n");

  output = run (fixture, "null", &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "signal 11"));
}

static guint
count_threads (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

typedef struct
{
  guint      remaining;
  guint      failures;
  guint      wrong;
  guint      max_threads;
} ManyState;

typedef struct
{
  ManyState *state;
  gint64     expected;
} ManyCall;

static void
on_many_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  ManyCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;

  call->state->max_threads = MAX (call->state->max_threads, count_threads ());
  output = nix_exec_executor_execute_finish (NIX_EXEC_EXECUTOR (object), result, &error);
  if (output == NULL)
    {
      g_test_message ("concurrent call failed: %s", error->message);
      call->state->failures++;
    }
  else if (json_node_get_int (output) != call->expected)
    {
      call->state->wrong++;
    }
  call->state->remaining--;
  g_free (call);
}

static void
test_many_concurrent (Fixture       *fixture,
                      gconstpointer  user_data)
{
  ManyState state = { 0, };
  guint threads_before, fds_before;
  const guint n_calls = 100;

  nix_exec_config_set_timeout_secs (fixture->config, 120);
  start_executor (fixture, "python", "def execute(input):\n    return input * 2\n");

  /* Measured as after the calls: once what the warmup left pending (the
   * tasks of its last reads, holding their cancellables' fds) is done. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  threads_before = count_threads ();
  fds_before = nix_exec_test_count_fds ();

  for (guint i = 0; i < n_calls; i++)
    {
      ManyCall *call = g_new0 (ManyCall, 1);
      g_autoptr(JsonNode) input = json_node_init_int (json_node_alloc (), i);

      call->state = &state;
      call->expected = 2 * (gint64) i;
      state.remaining++;
      nix_exec_executor_execute_async (fixture->executor, "stage", input, NULL, on_many_done, call);
    }
  state.max_threads = MAX (state.max_threads, count_threads ());

  while (state.remaining > 0)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (state.failures, ==, 0);
  g_assert_cmpuint (state.wrong, ==, 0);
  /* No thread per call: the library's one thread (started by the warmup)
   * and GLib's few helpers at most. */
  g_assert_cmpuint (state.max_threads, <=, threads_before + 3);
  /* And every pipe and input file was closed. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (nix_exec_test_count_fds (), ==, fds_before);
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child here, needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/process/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("timeout-kills-grandchild", test_timeout_kills_grandchild);
  ADD ("grandchild-left-after-success", test_grandchild_left_after_success);
  ADD ("cancel-mid-run", test_cancel_mid_run);
  ADD ("cancel-sync-from-thread", test_cancel_sync_from_thread);
  ADD ("cancelled-before-start", test_cancelled_before_start);
  ADD ("output-cap-boundary", test_output_cap_boundary);
  ADD ("output-flood-is-killed", test_output_flood_is_killed);
  ADD ("stderr-cap-drops", test_stderr_cap_drops);
  ADD ("killed-by-signal", test_killed_by_signal);
  ADD ("many-concurrent", test_many_concurrent);
#undef ADD

  g_test_summary ("Stages are killed, capped and reaped as the config says");
  return g_test_run ();
}
