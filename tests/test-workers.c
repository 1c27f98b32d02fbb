/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Warm workers (keep-alive-secs > 0): one stage process serves many calls;
 * after a crash, a timeout, a cancel or a cap it is replaced by a fresh one;
 * idle workers are reaped; their number is capped; queueing still works.
 */
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "nixexec-test-util.h"

typedef struct
{
  char            *cache_dir;
  NixExecConfig   *config;
  NixExecExecutor *executor;
} Fixture;

static const char *python_code =
  "import os, time\n"
  "count = 0\n"
  "def execute(input):\n"
  "    global count\n"
  "    count += 1\n"
  "    action = input.get('action') if isinstance(input, dict) else None\n"
  "    if action == 'crash':\n"
  "        os._exit(3)\n"
  "    if action == 'sleep':\n"
  "        time.sleep(input['secs'])\n"
  "    if action == 'raise':\n"
  "        raise ValueError('boom')\n"
  "    if action == 'big':\n"
  "        return 'x' * input['n']\n"
  "    if action == 'set':\n"
  "        return {1, 2}\n"
  "    if action == 'log':\n"
  "        print('hello from call', count)\n"
  "    if action == 'segv':\n"
  "        import signal\n"
  "        os.kill(os.getpid(), signal.SIGSEGV)\n"
  "    if action == 'fds':\n"
  "        import subprocess\n"
  "        return subprocess.run(['/bin/sh', '-c', 'ls /proc/self/fd'], close_fds=False,\n"
  "                              capture_output=True, text=True).stdout.split()\n"
  "    return {'pid': os.getpid(), 'count': count, 'echo': input}\n";

static const char *javascript_code =
  "let count = 0;\n"
  "function execute(input) {\n"
  "  count++;\n"
  "  if (input && input.action === 'crash')\n"
  "    process.exit(3);\n"
  "  if (input && input.action === 'raise')\n"
  "    throw new TypeError('boom');\n"
  "  if (input && input.action === 'segv')\n"
  "    process.kill(process.pid, 'SIGSEGV');\n"
  "  if (input && input.action === 'async')\n"
  "    return new Promise(resolve => setTimeout(() => resolve({ pid: process.pid, count, echo: input }), 10));\n"
  "  return { pid: process.pid, count, echo: input };\n"
  "}\n";

static const char *bash_code =
  "execute() {\n"
  "  if [[ $1 == *crash* ]]; then exit 3; fi\n"
  "  if [[ $1 == *segv* ]]; then kill -SEGV $BASHPID; fi\n"
  "  if [[ $1 == *fds* ]]; then\n"
  "    printf '['; sep=; for fd in $(ls /proc/self/fd); do printf '%s\"%s\"' \"$sep\" \"$fd\"; sep=,; done\n"
  "    printf ']'; return\n"
  "  fi\n"
  "  echo \"log line for $1\" >&2\n"
  "  printf '{\"pid\": %d, \"count\": 1, \"echo\": %s}' \"$$\" \"$1\"\n"
  "}\n";

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-workers");
  fixture->config = nix_exec_test_config_new (fixture->cache_dir);
  nix_exec_config_set_keep_alive_secs (fixture->config, 60);
  /* Unconfined, so that the pids the stages report are ours to check;
   * test_sandboxed runs workers in the sandbox. */
  nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_NONE);
}

/* The live worker processes this test started: children whose command line
 * has the worker argument. */
static GArray *
worker_pids (void)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (GPid));
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  pid_t self = getpid ();

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *stat_path = NULL;
      g_autofree char *cmdline_path = NULL;
      g_autofree char *stat = NULL;
      g_autofree char *cmdline = NULL;
      gsize cmdline_len = 0;
      const char *close_paren;
      char state;
      int ppid;
      GPid pid;

      if (!g_ascii_isdigit (name[0]))
        continue;
      stat_path = g_build_filename ("/proc", name, "stat", NULL);
      cmdline_path = g_build_filename ("/proc", name, "cmdline", NULL);
      if (!g_file_get_contents (stat_path, &stat, NULL, NULL) ||
          !g_file_get_contents (cmdline_path, &cmdline, &cmdline_len, NULL))
        continue;
      close_paren = strrchr (stat, ')');
      if (close_paren == NULL || sscanf (close_paren + 1, " %c %d", &state, &ppid) != 2)
        continue;
      if (ppid != self || state == 'Z')
        continue;
      if (!memmem (cmdline, cmdline_len, "--nixexec-worker", strlen ("--nixexec-worker")))
        continue;
      pid = (GPid) g_ascii_strtoll (name, NULL, 10);
      g_array_append_val (pids, pid);
    }
  return pids;
}

/* Iterates the default context until no worker is left, or 10 s. */
static void
wait_for_no_workers (void)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GArray) pids = worker_pids ();

      if (pids->len == 0 || g_get_monotonic_time () > deadline)
        break;
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GArray) pids = NULL;

  g_clear_object (&fixture->executor);
  g_clear_object (&fixture->config);
  /* Disposing the executor killed its workers: nothing may be left. */
  wait_for_no_workers ();
  pids = worker_pids ();
  g_assert_cmpuint (pids->len, ==, 0);
  nix_exec_test_rm_rf (fixture->cache_dir);
  g_clear_pointer (&fixture->cache_dir, g_free);
}

static void
start_executor (Fixture *fixture)
{
  fixture->executor = nix_exec_test_executor_new_for_config (fixture->config);
  nix_exec_test_register (fixture->executor, "python", "python", python_code);
  nix_exec_test_register (fixture->executor, "javascript", "javascript", javascript_code);
  nix_exec_test_register (fixture->executor, "bash", "bash", bash_code);
  nix_exec_test_warmup (fixture->executor);
}

/* One call through the async path on the default main context. */
static NixExecResult *
call_full (Fixture       *fixture,
           const char    *stage_id,
           const char    *input_json,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(JsonNode) input = nix_exec_test_json (input_json);
  g_autoptr(GAsyncResult) result = NULL;

  nix_exec_executor_execute_full_async (fixture->executor, stage_id, input, cancellable,
                                        nix_exec_test_on_done, &result);
  nix_exec_test_wait (&result);
  return nix_exec_executor_execute_full_finish (fixture->executor, result, error);
}

/* A successful call: the worker's pid, and its call count in @count. */
static GPid
call_pid (Fixture    *fixture,
          const char *stage_id,
          const char *input_json,
          gint64     *count)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) result = call_full (fixture, stage_id, input_json, NULL, &error);
  JsonObject *object;

  g_assert_no_error (error);
  g_assert_nonnull (result);
  object = json_node_get_object (nix_exec_result_get_output (result));
  if (count != NULL)
    *count = json_object_get_int_member (object, "count");
  return (GPid) json_object_get_int_member (object, "pid");
}

static void
test_reuse (Fixture       *fixture,
            gconstpointer  user_data)
{
  GPid first = 0;

  start_executor (fixture);
  for (guint i = 1; i <= 20; i++)
    {
      gint64 count = 0;
      GPid pid = call_pid (fixture, "python", "{\"i\": 1}", &count);

      if (first == 0)
        first = pid;
      /* One process, and module-level state kept between its calls. */
      g_assert_cmpint (pid, ==, first);
      g_assert_cmpint (count, ==, i);
    }
  g_assert_true (nix_exec_test_pid_alive (first));
}

static void
test_reuse_sync (Fixture       *fixture,
                 gconstpointer  user_data)
{
  GPid first = 0;

  start_executor (fixture);
  for (guint i = 1; i <= 5; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) input = nix_exec_test_json ("{}");
      g_autoptr(JsonNode) output = nix_exec_executor_execute (fixture->executor, "python", input,
                                                              NULL, &error);
      JsonObject *object;

      g_assert_no_error (error);
      object = json_node_get_object (output);
      if (first == 0)
        first = json_object_get_int_member (object, "pid");
      g_assert_cmpint (json_object_get_int_member (object, "pid"), ==, first);
      g_assert_cmpint (json_object_get_int_member (object, "count"), ==, i);
    }
}

static void
test_result_provenance (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) first = NULL;
  g_autoptr(NixExecResult) second = NULL;
  const char *logs;

  start_executor (fixture);
  first = call_full (fixture, "python", "{\"action\": \"log\"}", NULL, &error);
  g_assert_no_error (error);
  second = call_full (fixture, "python", "{\"action\": \"log\"}", NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpint (nix_exec_result_get_exit_status (second), ==, 0);
  g_assert_nonnull (nix_exec_result_get_runtime_path (second));
  g_assert_nonnull (nix_exec_result_get_interpreter (second));
  /* Each call's log is its own. */
  logs = nix_exec_result_get_logs (second);
  g_assert_nonnull (strstr (logs, "hello from call 2"));
  g_assert_null (strstr (logs, "hello from call 1"));
}

static void
test_languages (Fixture       *fixture,
                gconstpointer  user_data)
{
  const char *stages[] = { "python", "javascript", "bash" };

  start_executor (fixture);
  for (guint s = 0; s < G_N_ELEMENTS (stages); s++)
    {
      GPid first = 0;

      for (guint i = 1; i <= 5; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autofree char *input = g_strdup_printf ("{\"i\": %u, \"text\": \"h\\u00e9llo\\n\"}", i);
          g_autoptr(NixExecResult) result = call_full (fixture, stages[s], input, NULL, &error);
          JsonObject *object, *echo;

          g_assert_no_error (error);
          object = json_node_get_object (nix_exec_result_get_output (result));
          echo = json_object_get_object_member (object, "echo");
          g_assert_cmpint (json_object_get_int_member (echo, "i"), ==, i);
          g_assert_cmpstr (json_object_get_string_member (echo, "text"), ==, "h\xc3\xa9llo\n");
          if (first == 0)
            first = json_object_get_int_member (object, "pid");
          g_assert_cmpint (json_object_get_int_member (object, "pid"), ==, first);
          /* Bash runs execute in a subshell: no state to keep. */
          if (!g_str_equal (stages[s], "bash"))
            g_assert_cmpint (json_object_get_int_member (object, "count"), ==, i);
        }
    }

  /* A promise is awaited in the worker as in one-shot mode. */
  {
    gint64 count = 0;
    call_pid (fixture, "javascript", "{\"action\": \"async\"}", &count);
    g_assert_cmpint (count, ==, 6);
  }
}

static void
test_crash (Fixture       *fixture,
            gconstpointer  user_data)
{
  const char *stages[] = { "python", "javascript", "bash" };

  start_executor (fixture);
  for (guint s = 0; s < G_N_ELEMENTS (stages); s++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NixExecResult) crashed = NULL;
      gint64 count = 0;
      GPid before, after;

      before = call_pid (fixture, stages[s], "{}", NULL);
      call_pid (fixture, stages[s], "{}", NULL);
      crashed = call_full (fixture, stages[s], "{\"action\": \"crash\"}", NULL, &error);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
      g_assert_nonnull (strstr (error->message, "status 3"));
      g_assert_false (nix_exec_test_pid_alive (before));

      /* A fresh process with fresh state. */
      after = call_pid (fixture, stages[s], "{}", &count);
      g_assert_cmpint (after, !=, before);
      g_assert_cmpint (count, ==, 1);
    }
}

static void
test_timeout (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) result = NULL;
  gint64 count = 0;
  GPid before, after;

  nix_exec_config_set_timeout_secs (fixture->config, 1);
  start_executor (fixture);
  before = call_pid (fixture, "python", "{}", NULL);
  result = call_full (fixture, "python", "{\"action\": \"sleep\", \"secs\": 30}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT);
  g_assert_false (nix_exec_test_pid_alive (before));

  after = call_pid (fixture, "python", "{}", &count);
  g_assert_cmpint (after, !=, before);
  g_assert_cmpint (count, ==, 1);
}

static gboolean
cancel_later (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 count = 0;
  gint64 started;
  GPid before, after;

  start_executor (fixture);
  before = call_pid (fixture, "python", "{}", NULL);
  g_timeout_add_full (G_PRIORITY_DEFAULT, 300, cancel_later, g_object_ref (cancellable),
                      g_object_unref);
  started = g_get_monotonic_time ();
  result = call_full (fixture, "python", "{\"action\": \"sleep\", \"secs\": 30}", cancellable,
                      &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - started, <, 20 * G_USEC_PER_SEC);
  g_assert_false (nix_exec_test_pid_alive (before));

  after = call_pid (fixture, "python", "{}", &count);
  g_assert_cmpint (after, !=, before);
  g_assert_cmpint (count, ==, 1);
}

static void
test_reap (Fixture       *fixture,
           gconstpointer  user_data)
{
  gint64 deadline;
  GPid pid;

  nix_exec_config_set_keep_alive_secs (fixture->config, 1);
  start_executor (fixture);
  pid = call_pid (fixture, "python", "{}", NULL);
  g_assert_true (nix_exec_test_pid_alive (pid));

  /* Idle past its keep-alive, the worker goes away by itself. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (nix_exec_test_pid_alive (pid) && g_get_monotonic_time () < deadline)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (20000);
    }
  g_assert_false (nix_exec_test_pid_alive (pid));

  /* And the next call starts a new one. */
  g_assert_cmpint (call_pid (fixture, "python", "{}", NULL), !=, pid);
}

static void
test_cap (Fixture       *fixture,
          gconstpointer  user_data)
{
  const char *stages[] = { "python", "javascript", "bash" };

  nix_exec_config_set_max_workers (fixture->config, 2);
  start_executor (fixture);
  for (guint round = 0; round < 2; round++)
    for (guint s = 0; s < G_N_ELEMENTS (stages); s++)
      {
        g_autoptr(GArray) pids = NULL;

        call_pid (fixture, stages[s], "{}", NULL);
        /* Let the evicted worker be reaped before counting. */
        while (g_main_context_iteration (NULL, FALSE))
          ;
        pids = worker_pids ();
        g_assert_cmpuint (pids->len, <=, 2);
      }
}

static void
test_queue (Fixture       *fixture,
            gconstpointer  user_data)
{
  g_autoptr(JsonNode) slow = nix_exec_test_json ("{\"action\": \"sleep\", \"secs\": 1}");
  g_autoptr(JsonNode) plain = nix_exec_test_json ("{}");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) queued = NULL;
  g_autoptr(GAsyncResult) last = NULL;
  g_autoptr(NixExecResult) first_result = NULL;
  g_autoptr(NixExecResult) last_result = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *first_object, *last_object;

  nix_exec_config_set_max_concurrency (fixture->config, 1);
  start_executor (fixture);
  nix_exec_executor_execute_full_async (fixture->executor, "python", slow, NULL,
                                        nix_exec_test_on_done, &first);
  nix_exec_executor_execute_full_async (fixture->executor, "python", plain, cancellable,
                                        nix_exec_test_on_done, &queued);
  nix_exec_executor_execute_full_async (fixture->executor, "python", plain, NULL,
                                        nix_exec_test_on_done, &last);

  /* Cancelled while it waits for its turn: it never reaches a worker. */
  g_timeout_add_full (G_PRIORITY_DEFAULT, 200, cancel_later, g_object_ref (cancellable),
                      g_object_unref);
  nix_exec_test_wait (&queued);
  g_assert_null (nix_exec_executor_execute_full_finish (fixture->executor, queued, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (first);

  nix_exec_test_wait (&first);
  nix_exec_test_wait (&last);
  first_result = nix_exec_executor_execute_full_finish (fixture->executor, first, &error);
  g_assert_no_error (error);
  last_result = nix_exec_executor_execute_full_finish (fixture->executor, last, &error);
  g_assert_no_error (error);

  /* One at a time, on one worker, and the cancelled call never ran. */
  first_object = json_node_get_object (nix_exec_result_get_output (first_result));
  last_object = json_node_get_object (nix_exec_result_get_output (last_result));
  g_assert_cmpint (json_object_get_int_member (first_object, "pid"), ==,
                   json_object_get_int_member (last_object, "pid"));
  g_assert_cmpint (json_object_get_int_member (last_object, "count"), ==, 2);
}

static void
test_output_cap (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) result = NULL;
  gint64 count = 0;
  GPid before, after;

  nix_exec_config_set_max_output_bytes (fixture->config, 1000);
  start_executor (fixture);
  before = call_pid (fixture, "python", "{}", NULL);
  result = call_full (fixture, "python", "{\"action\": \"big\", \"n\": 900}", NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  result = call_full (fixture, "python", "{\"action\": \"big\", \"n\": 5000}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
  g_assert_false (nix_exec_test_pid_alive (before));

  after = call_pid (fixture, "python", "{}", &count);
  g_assert_cmpint (after, !=, before);
  g_assert_cmpint (count, ==, 1);
}

static void
test_errors (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) result = NULL;
  GPid before;
  gint64 count = 0;

  start_executor (fixture);
  g_assert_true (nix_exec_executor_register_with_effects (fixture->executor, "no-execute",
                                                          "x = 1\n", "python", NULL, &error));
  g_assert_true (nix_exec_executor_register_with_effects (fixture->executor, "syntax",
                                                          "def execute(input:\n", "python", NULL,
                                                          &error));

  before = call_pid (fixture, "python", "{}", NULL);

  result = call_full (fixture, "python", "{\"action\": \"raise\"}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "ValueError: boom"));
  g_assert_nonnull (strstr (error->message, "Traceback"));
  g_clear_error (&error);

  result = call_full (fixture, "python", "{\"action\": \"set\"}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
  g_clear_error (&error);

  /* A reported error leaves the worker and its state alone. */
  g_assert_cmpint (call_pid (fixture, "python", "{}", &count), ==, before);
  g_assert_cmpint (count, ==, 4);

  result = call_full (fixture, "javascript", "{\"action\": \"raise\"}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "TypeError"));
  g_clear_error (&error);

  result = call_full (fixture, "no-execute", "{}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_clear_error (&error);

  result = call_full (fixture, "syntax", "{}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_clear_error (&error);
}

static void
test_many (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  const guint n = 100;
  guint baseline;
  gint64 deadline;

  nix_exec_config_set_max_concurrency (fixture->config, 8);
  start_executor (fixture);
  baseline = nix_exec_test_count_fds ();

  g_ptr_array_set_size (results, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"i\": %u}", i);
      g_autoptr(JsonNode) input = nix_exec_test_json (text);

      nix_exec_executor_execute_async (fixture->executor, i % 2 ? "python" : "javascript", input,
                                       NULL, nix_exec_test_on_done, &results->pdata[i]);
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) output = NULL;
      JsonObject *echo;

      nix_exec_test_wait ((GAsyncResult **) &results->pdata[i]);
      output = nix_exec_executor_execute_finish (fixture->executor,
                                                 g_ptr_array_index (results, i), &error);
      g_assert_no_error (error);
      echo = json_object_get_object_member (json_node_get_object (output), "echo");
      g_assert_cmpint (json_object_get_int_member (echo, "i"), ==, i);
    }

  {
    g_autoptr(GArray) pids = worker_pids ();
    g_assert_cmpuint (pids->len, <=, 4);
  }

  /* Once the executor is gone (the results hold it too), so are its
   * workers and their descriptors. */
  g_clear_pointer (&results, g_ptr_array_unref);
  g_clear_object (&fixture->executor);
  wait_for_no_workers ();
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (nix_exec_test_count_fds () > baseline && g_get_monotonic_time () < deadline)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
  g_assert_cmpuint (nix_exec_test_count_fds (), <=, baseline);
}

static void
test_disabled (Fixture       *fixture,
               gconstpointer  user_data)
{
  GPid first, second;
  gint64 count = 0;

  /* keep-alive 0, the default: a process per call, as before. */
  nix_exec_config_set_keep_alive_secs (fixture->config, 0);
  start_executor (fixture);
  first = call_pid (fixture, "python", "{}", NULL);
  second = call_pid (fixture, "python", "{}", &count);
  g_assert_cmpint (first, !=, second);
  g_assert_cmpint (count, ==, 1);
}

static void
test_per_stage (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(NixExecMemoryStore) store = nix_exec_memory_store_new ();
  g_autoptr(NixExecStage) warm = nix_exec_stage_new ("warm", python_code, "python", NULL);
  g_autoptr(NixExecStage) cold = nix_exec_stage_new ("cold", python_code, "python", NULL);
  g_autoptr(GError) error = NULL;
  GPid first;
  gint64 count = 0;

  g_assert_cmpint (nix_exec_stage_get_keep_alive_secs (warm), ==, -1);
  nix_exec_stage_set_keep_alive_secs (warm, 60);
  nix_exec_stage_set_keep_alive_secs (cold, 0);
  nix_exec_memory_store_add (store, warm);
  nix_exec_memory_store_add (store, cold);

  /* The stage's own setting wins over the config's, either way. */
  nix_exec_config_set_keep_alive_secs (fixture->config, 0);
  fixture->executor = nix_exec_executor_new_from_store_with_config (NIX_EXEC_STAGE_STORE (store),
                                                                   fixture->config, &error);
  g_assert_no_error (error);
  nix_exec_test_warmup (fixture->executor);

  first = call_pid (fixture, "warm", "{}", NULL);
  g_assert_cmpint (call_pid (fixture, "warm", "{}", &count), ==, first);
  g_assert_cmpint (count, ==, 2);

  call_pid (fixture, "cold", "{}", NULL);
  call_pid (fixture, "cold", "{}", &count);
  g_assert_cmpint (count, ==, 1);
}

static void
test_sandboxed (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecResult) result = NULL;
  gint64 count = 0;

  if (nix_exec_test_allow_no_sandbox ())
    {
      g_test_skip ("No usable bubblewrap on this host");
      return;
    }

  /* Workers run in the same sandbox as one-shot calls, and keep the same
   * promises there. */
  nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_AUTO);
  nix_exec_config_set_timeout_secs (fixture->config, 2);
  start_executor (fixture);
  g_assert_true (nix_exec_executor_get_isolation_active (fixture->executor));
  for (guint i = 1; i <= 5; i++)
    {
      call_pid (fixture, "python", "{}", &count);
      g_assert_cmpint (count, ==, i);
    }
  {
    g_autoptr(GArray) pids = worker_pids ();
    g_assert_cmpuint (pids->len, ==, 1);
  }

  result = call_full (fixture, "python", "{\"action\": \"crash\"}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_clear_error (&error);
  call_pid (fixture, "python", "{}", &count);
  g_assert_cmpint (count, ==, 1);

  result = call_full (fixture, "python", "{\"action\": \"sleep\", \"secs\": 30}", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  call_pid (fixture, "python", "{}", &count);
  g_assert_cmpint (count, ==, 1);

  call_pid (fixture, "javascript", "{}", &count);
  call_pid (fixture, "javascript", "{}", &count);
  g_assert_cmpint (count, ==, 2);
  call_pid (fixture, "bash", "{}", NULL);
}

/* A stage killed by a signal is reported as such, by a fresh worker and a
 * reused one alike, confined or not. */
static void
test_signal (Fixture       *fixture,
             gconstpointer  user_data)
{
  const char *stages[] = { "python", "javascript", "bash" };
  gboolean sandboxed = GPOINTER_TO_INT (user_data);

  if (sandboxed && nix_exec_test_allow_no_sandbox ())
    {
      g_test_skip ("No usable bubblewrap on this host");
      return;
    }
  if (sandboxed)
    nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_AUTO);
  start_executor (fixture);

  for (guint s = 0; s < G_N_ELEMENTS (stages); s++)
    for (guint warm = 0; warm <= 1; warm++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(NixExecResult) result = NULL;

        g_test_message ("%s, %s worker", stages[s], warm ? "reused" : "fresh");
        if (warm)
          call_pid (fixture, stages[s], "{}", NULL);
        result = call_full (fixture, stages[s], "{\"action\": \"segv\"}", NULL, &error);
        if (error != NULL)
          g_test_message ("%s", error->message);
        g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
        g_assert_nonnull (strstr (error->message, "killed by signal 11"));
        g_assert_null (strstr (error->message, "status"));
      }
}

/* Nothing a stage starts can read the worker's requests or write its
 * responses: the protocol fds are the worker's own. */
static void
test_protocol_fds (Fixture       *fixture,
                   gconstpointer  user_data)
{
  const char *stages[] = { "python", "bash" };

  start_executor (fixture);
  for (guint s = 0; s < G_N_ELEMENTS (stages); s++)
    for (guint call = 0; call < 2; call++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(NixExecResult) result = call_full (fixture, stages[s], "{\"action\": \"fds\"}",
                                                     NULL, &error);
        JsonArray *fds;

        g_assert_no_error (error);
        fds = json_node_get_array (nix_exec_result_get_output (result));
        g_assert_cmpuint (json_array_get_length (fds), >=, 3);
        for (guint i = 0; i < json_array_get_length (fds); i++)
          {
            const char *fd = json_array_get_string_element (fds, i);

            g_test_message ("%s: fd %s open in the stage's child", stages[s], fd);
            /* stdin, stdout, stderr, and the fd ls reads /proc/self/fd with. */
            g_assert_cmpint (g_ascii_strtoll (fd, NULL, 10), <=, 3);
          }
      }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/workers/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("reuse", test_reuse);
  ADD ("reuse-sync", test_reuse_sync);
  ADD ("result", test_result_provenance);
  ADD ("languages", test_languages);
  ADD ("crash", test_crash);
  ADD ("timeout", test_timeout);
  ADD ("cancel", test_cancel);
  ADD ("reap", test_reap);
  ADD ("cap", test_cap);
  ADD ("queue", test_queue);
  ADD ("output-cap", test_output_cap);
  ADD ("errors", test_errors);
  ADD ("many", test_many);
  ADD ("disabled", test_disabled);
  ADD ("per-stage", test_per_stage);
  ADD ("sandboxed", test_sandboxed);
  ADD ("protocol-fds", test_protocol_fds);

  g_test_add ("/nixexec/workers/signal", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_signal, fixture_tear_down);
  g_test_add ("/nixexec/workers/signal-sandboxed", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_signal, fixture_tear_down);

#undef ADD

  g_test_summary ("Warm workers serve many calls, are replaced after failures, reaped when "
                  "idle and capped in number");
  return g_test_run ();
}
