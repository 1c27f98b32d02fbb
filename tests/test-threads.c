/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One library thread per process: calls from any thread, sync or async,
 * share max-concurrency and the warm workers, and a thread that calls and
 * exits leaves no fd and no process behind.
 */
#include <string.h>
#include <unistd.h>

#include "nixexec-test-util.h"

typedef struct
{
  char          *cache_dir;
  NixExecConfig *config;
} Fixture;

/* Reports its worker's pid, and when it ran (host clock, seconds). */
static const char *timed_code =
  "import os, time\n"
  "def execute(input):\n"
  "    start = time.time()\n"
  "    time.sleep(input.get('sleep', 0) if isinstance(input, dict) else 0)\n"
  "    return {'pid': os.getpid(), 'start': start, 'end': time.time()}\n";

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-threads");
  fixture->config = nix_exec_test_config_new (fixture->cache_dir);
  /* Unconfined, so that the worker pids the stage reports are this
   * process's children. */
  nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_NONE);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->config);
  nix_exec_test_rm_rf (fixture->cache_dir);
  g_free (fixture->cache_dir);
}

static NixExecExecutor *
executor_new (Fixture *fixture)
{
  NixExecExecutor *executor = nix_exec_test_executor_new_for_config (fixture->config);

  nix_exec_test_register (executor, "timed", "python", timed_code);
  return executor;
}

static gint64
member_int (JsonNode   *node,
            const char *member)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_get_int_member (json_node_get_object (node), member);
}

static double
member_double (JsonNode   *node,
               const char *member)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_get_double_member (json_node_get_object (node), member);
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  NixExecExecutor *executor;
  GMutex           lock;
  GHashTable      *pids;      /* the worker pids that answered */
  guint            failures;
} ThreadCalls;

static gpointer
sync_call_thread (gpointer data)
{
  ThreadCalls *calls = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = nix_exec_executor_execute (calls->executor, "timed", NULL,
                                                          NULL, &error);

  g_mutex_lock (&calls->lock);
  if (output == NULL)
    {
      g_test_message ("a sync call failed: %s", error->message);
      calls->failures++;
    }
  else
    {
      g_hash_table_add (calls->pids, GINT_TO_POINTER ((int) member_int (output, "pid")));
    }
  g_mutex_unlock (&calls->lock);
  return NULL;
}

static void
test_sync_threads_leave_nothing (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  const guint n_threads = 20;
  ThreadCalls calls = { NULL, };
  GThread *threads[20];
  guint fds_before;

  g_test_summary ("20 threads each make one sync call on warm workers and exit: the "
                  "workers are shared, and once the executor is gone the process has "
                  "the fds it had before and no child process");

  nix_exec_config_set_keep_alive_secs (fixture->config, 60);
  nix_exec_config_set_max_workers (fixture->config, 4);

  /* The library thread, its context and nix's runtime are set up once per
   * process: count the fds after a first executor has come and gone. */
  {
    g_autoptr(NixExecExecutor) first = executor_new (fixture);
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) output = nix_exec_executor_execute (first, "timed", NULL, NULL, &error);

    g_assert_no_error (error);
    g_assert_nonnull (output);
  }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (nix_exec_test_count_children (), ==, 0);
  fds_before = nix_exec_test_count_fds ();

  calls.executor = executor_new (fixture);
  g_mutex_init (&calls.lock);
  calls.pids = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < n_threads; i++)
    threads[i] = g_thread_new ("sync-caller", sync_call_thread, &calls);
  for (guint i = 0; i < n_threads; i++)
    g_thread_join (threads[i]);

  g_assert_cmpuint (calls.failures, ==, 0);
  /* The threads, each gone now, were served by the same few workers. */
  g_assert_cmpuint (g_hash_table_size (calls.pids), >=, 1);
  g_assert_cmpuint (g_hash_table_size (calls.pids), <=, 4);
  g_assert_cmpuint (nix_exec_test_count_children (), ==, g_hash_table_size (calls.pids));

  g_clear_object (&calls.executor);

  /* Disposing waits for the workers to be reaped: no polling here. */
  g_assert_cmpuint (nix_exec_test_count_children (), ==, 0);
  g_assert_cmpuint (nix_exec_test_count_fds (), ==, fds_before);

  g_hash_table_unref (calls.pids);
  g_mutex_clear (&calls.lock);
}

/* ------------------------------------------------------------------------ */

static JsonNode *
wait_for_async (NixExecExecutor  *executor,
                GAsyncResult    **result)
{
  g_autoptr(GError) error = NULL;
  JsonNode *output;

  output = nix_exec_executor_execute_finish (executor, nix_exec_test_wait (result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (output);
  g_clear_object (result);
  return output;
}

static void
warm_up (NixExecExecutor *executor)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = nix_exec_executor_execute (executor, "timed", NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (output);
}

static void
test_sync_waits_for_slot (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) slow_input = nix_exec_test_json ("{\"sleep\": 1.0}");
  g_autoptr(JsonNode) slow = NULL;
  g_autoptr(JsonNode) quick = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Under max-concurrency 1, a sync call made while an async call runs "
                  "waits for the async call's slot, on the same thread");

  nix_exec_config_set_max_concurrency (fixture->config, 1);
  executor = executor_new (fixture);
  warm_up (executor);

  nix_exec_executor_execute_async (executor, "timed", slow_input, NULL, nix_exec_test_on_done, &result);
  /* This thread does not iterate its context meanwhile: the async call
   * runs, and gives its slot back, on the library's thread. */
  quick = nix_exec_executor_execute (executor, "timed", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (quick);
  slow = wait_for_async (executor, &result);

  g_assert_cmpfloat (member_double (quick, "start"), >=, member_double (slow, "end"));
}

typedef struct
{
  NixExecExecutor *executor;
  JsonNode        *output;
} SlowCall;

static gpointer
slow_sync_thread (gpointer data)
{
  SlowCall *call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) input = nix_exec_test_json ("{\"sleep\": 0.3}");

  call->output = nix_exec_executor_execute (call->executor, "timed", input, NULL, &error);
  g_assert_no_error (error);
  return NULL;
}

static void
test_sync_threads_share_limit (Fixture       *fixture,
                               gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  SlowCall calls[3] = { { NULL, } };
  GThread *threads[3];

  g_test_summary ("Under max-concurrency 1, sync calls from three threads run one after "
                  "the other");

  nix_exec_config_set_max_concurrency (fixture->config, 1);
  executor = executor_new (fixture);
  warm_up (executor);

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      calls[i].executor = executor;
      threads[i] = g_thread_new ("sync-caller", slow_sync_thread, &calls[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    g_thread_join (threads[i]);

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    for (guint j = 0; j < G_N_ELEMENTS (calls); j++)
      {
        if (i == j)
          continue;
        /* Two runs overlap when each starts before the other ends. */
        g_assert_false (member_double (calls[i].output, "start") < member_double (calls[j].output, "end") &&
                        member_double (calls[j].output, "start") < member_double (calls[i].output, "end"));
      }

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    json_node_unref (calls[i].output);
}

static gpointer
sync_pid_thread (gpointer data)
{
  NixExecExecutor *executor = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = nix_exec_executor_execute (executor, "timed", NULL, NULL, &error);

  g_assert_no_error (error);
  return GINT_TO_POINTER ((int) member_int (output, "pid"));
}

static void
test_async_and_sync_share_worker (Fixture       *fixture,
                                  gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) first = NULL;
  g_autoptr(JsonNode) third = NULL;
  GThread *thread;
  int second_pid;

  g_test_summary ("One warm worker serves an async call on the main context, a sync call "
                  "from another thread, then an async call again");

  nix_exec_config_set_keep_alive_secs (fixture->config, 60);
  executor = executor_new (fixture);

  nix_exec_executor_execute_async (executor, "timed", NULL, NULL, nix_exec_test_on_done, &result);
  first = wait_for_async (executor, &result);

  thread = g_thread_new ("sync-caller", sync_pid_thread, executor);
  second_pid = GPOINTER_TO_INT (g_thread_join (thread));

  nix_exec_executor_execute_async (executor, "timed", NULL, NULL, nix_exec_test_on_done, &result);
  third = wait_for_async (executor, &result);

  g_assert_cmpint (second_pid, ==, member_int (first, "pid"));
  g_assert_cmpint (member_int (third, "pid"), ==, second_pid);
  g_assert_cmpint (second_pid, !=, getpid ());
}

static void
test_deadline_unattended (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autoptr(JsonNode) input = json_node_init_string (json_node_alloc (), marker);
  g_autoptr(JsonNode) output = NULL;

  g_test_summary ("The deadline of an async call kills its stage while the caller's "
                  "context is not iterated");

  nix_exec_config_set_timeout_secs (fixture->config, 1);
  executor = executor_new (fixture);
  nix_exec_test_register (executor, "sleeper", "python",
                          "import os\n"
                          "def execute(input):\n"
                          "    os.execvp('sleep', ['sleep', input])\n");
  warm_up (executor);

  nix_exec_executor_execute_async (executor, "sleeper", input, NULL, nix_exec_test_on_done, &result);
  /* Not iterating: the stage starts, and is killed at its deadline, on the
   * library's thread. */
  for (guint i = 0; i < 100 && nix_exec_test_count_processes (marker) == 0; i++)
    g_usleep (20 * 1000);
  g_assert_cmpuint (nix_exec_test_count_processes (marker), ==, 1);
  g_usleep (2 * G_USEC_PER_SEC);
  g_assert_cmpuint (nix_exec_test_count_processes (marker), ==, 0);
  g_assert_cmpuint (nix_exec_test_count_children (), ==, 0);

  output = nix_exec_executor_execute_finish (executor, nix_exec_test_wait (&result), &error);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT);
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: nix needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/threads/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("sync-threads-leave-nothing", test_sync_threads_leave_nothing);
  ADD ("sync-waits-for-slot", test_sync_waits_for_slot);
  ADD ("sync-threads-share-limit", test_sync_threads_share_limit);
  ADD ("async-and-sync-share-worker", test_async_and_sync_share_worker);
  ADD ("deadline-unattended", test_deadline_unattended);
#undef ADD

  return g_test_run ();
}
