/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Warm workers and their pool, without nix: nixexec-testprog's worker modes
 * (NIXEXEC_TESTPROG) driven through the worker and pool modules on the
 * default main context, and their answers decoded by the outcome module.
 * What breaks here if the group kill, the bounded frame reader or the
 * replacement of dead workers breaks.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "nixexec-error.h"
#include "nixexec-outcome-private.h"
#include "nixexec-pool-private.h"
#include "nixexec-test-util.h"
#include "nixexec-worker-private.h"

#define NO_DEADLINE 0
#define CAP         (1024 * 1024)

static NixExecWorker *
spawn (const char *mode,
       ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *testprog = g_getenv ("NIXEXEC_TESTPROG");
  const char *arg;
  NixExecWorker *worker;
  va_list args;

  g_assert_nonnull (testprog);
  g_ptr_array_add (argv, (gpointer) testprog);
  g_ptr_array_add (argv, (gpointer) mode);
  va_start (args, mode);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  worker = nix_exec_worker_spawn ((const char * const *) argv->pdata, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (worker);
  return worker;
}

/* One call of @input on @worker, with the default context iterated until
 * it is answered. */
static NixExecChildResult *
call_full (NixExecWorker  *worker,
           const char     *input,
           guint           timeout_ms,
           guint64         max_output,
           GCancellable   *cancellable,
           GError        **error)
{
  g_autoptr(GBytes) bytes = g_bytes_new (input, strlen (input));
  g_autoptr(GAsyncResult) result = NULL;

  nix_exec_worker_call_async (worker, bytes, timeout_ms, max_output, 64 * 1024, cancellable,
                              nix_exec_test_on_done, &result);
  nix_exec_test_wait (&result);
  return nix_exec_worker_call_finish (result, error);
}

static NixExecChildResult *
call (NixExecWorker *worker,
      const char    *input)
{
  g_autoptr(GError) error = NULL;
  NixExecChildResult *child = call_full (worker, input, NO_DEADLINE, CAP, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (child);
  return child;
}

static void
wait_reaped (NixExecWorker *worker)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (!nix_exec_worker_is_reaped (worker) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (nix_exec_worker_is_reaped (worker));
}

/* The value a call answered with, as JSON text. */
static char *
value_text (NixExecChildResult *child)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecOutcome) outcome = nix_exec_outcome_decode ("stage", child, FALSE, &error);

  g_assert_no_error (error);
  g_assert_cmpint (outcome->kind, ==, NIX_EXEC_OUTCOME_VALUE);
  return json_to_string (outcome->value, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */
/* ------------------------------------------------------------------------ */

static void
test_worker_round_trip (void)
{
  guint fds_before = nix_exec_test_count_fds ();
  g_autoptr(NixExecWorker) worker = NULL;
  const char *inputs[] = { "[1,2,3]", "\"text\"", "{\"a\":null}" };

  g_test_summary ("A worker serves call after call; its {\"ok\": value} answers decode to "
                  "the values, and nothing is left once it is killed");

  worker = spawn ("worker", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(NixExecChildResult) child = call (worker, inputs[i]);
      g_autofree char *text = NULL;

      g_assert_true (child->framed);
      text = value_text (child);
      g_assert_cmpstr (text, ==, inputs[i]);
      g_assert_true (nix_exec_worker_is_alive (worker));
    }

  nix_exec_worker_kill (worker);
  wait_reaped (worker);
  g_clear_pointer (&worker, nix_exec_worker_unref);
  g_assert_cmpuint (nix_exec_test_count_fds (), ==, fds_before);
}

static void
test_worker_report (void)
{
  g_autoptr(NixExecWorker) worker = spawn ("worker-report", NULL);
  g_autoptr(NixExecChildResult) child = call (worker, "1");
  g_autoptr(NixExecOutcome) outcome = NULL;
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A worker's report decodes to the wrapper's error, and the worker lives on");

  outcome = nix_exec_outcome_decode ("stage", child, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (outcome->kind, ==, NIX_EXEC_OUTCOME_REPORT);
  result = nix_exec_outcome_to_result (outcome, "stage", NULL, &error);
  g_assert_null (result);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "ValueError: boom"));
  g_assert_true (nix_exec_worker_is_alive (worker));

  nix_exec_worker_kill (worker);
  wait_reaped (worker);
}

static void
test_worker_dies_mid_call (void)
{
  g_autoptr(NixExecWorker) worker = spawn ("worker-crash-after", "1", NULL);
  g_autoptr(NixExecChildResult) first = call (worker, "1");
  g_autoptr(NixExecChildResult) second = call (worker, "2");
  g_autoptr(NixExecOutcome) outcome = NULL;
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A worker that exits during a call answers it with its exit status, the "
                  "same error as a one-shot run, and is dead");

  g_assert_true (first->framed);
  g_assert_false (second->framed);
  g_assert_true (second->exited);
  g_assert_cmpint (second->exit_status, ==, 3);
  g_assert_false (nix_exec_worker_is_alive (worker));

  outcome = nix_exec_outcome_decode ("stage", second, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (outcome->kind, ==, NIX_EXEC_OUTCOME_EXITED);
  result = nix_exec_outcome_to_result (outcome, "stage", NULL, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "exited with status 3"));
  wait_reaped (worker);
}

static void
test_worker_deadline (void)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autoptr(NixExecWorker) worker = spawn ("worker-hang-mid-frame", marker, NULL);
  g_autoptr(NixExecChildResult) child = NULL;
  g_autoptr(GError) error = NULL;
  gint64 started = g_get_monotonic_time ();

  g_test_summary ("A worker that hangs in the middle of its answer is killed at the "
                  "deadline: TIMED_OUT, reaped, nothing left");

  child = call_full (worker, "1", 300, CAP, NULL, &error);
  g_assert_null (child);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT);
  /* The call completes once the worker is reaped. */
  g_assert_true (nix_exec_worker_is_reaped (worker));
  g_assert_cmpint (g_get_monotonic_time () - started, <, 5 * G_USEC_PER_SEC);
  nix_exec_test_assert_no_process (marker);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_worker_cancel (void)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autoptr(NixExecWorker) worker = spawn ("worker-hang-mid-frame", marker, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(NixExecChildResult) child = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Cancelling a call kills its worker: CANCELLED, reaped, nothing left");

  g_timeout_add (100, cancel_later, cancellable);
  child = call_full (worker, "1", NO_DEADLINE, CAP, cancellable, &error);
  g_assert_null (child);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (nix_exec_worker_is_alive (worker));
  g_assert_true (nix_exec_worker_is_reaped (worker));
  nix_exec_test_assert_no_process (marker);
}

static void
test_worker_garbage (void)
{
  g_autoptr(NixExecWorker) worker = spawn ("worker-garbage", NULL);
  g_autoptr(NixExecChildResult) child = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A worker that answers with something that is not a frame is killed: "
                  "INVALID_OUTPUT");

  child = call_full (worker, "1", NO_DEADLINE, CAP, NULL, &error);
  g_assert_null (child);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
  g_assert_false (nix_exec_worker_is_alive (worker));
  wait_reaped (worker);
}

static void
test_worker_output_cap (void)
{
  g_autoptr(NixExecWorker) worker = spawn ("worker", NULL);
  g_autoptr(GString) input = g_string_new ("\"");
  g_autoptr(NixExecChildResult) probe = NULL;
  g_autoptr(NixExecChildResult) small = NULL;
  g_autoptr(NixExecChildResult) child = NULL;
  g_autoptr(GError) error = NULL;
  gsize overhead;

  g_test_summary ("An answer longer than the output cap kills the worker, "
                  "OUTPUT_TOO_LARGE; one just under it passes");

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (input, 'x');
  g_string_append_c (input, '"');

  /* What {"ok": …} adds to the input. */
  probe = call (worker, "1");
  overhead = g_bytes_get_size (probe->stdout_bytes) - 1;

  small = call_full (worker, input->str, NO_DEADLINE, input->len + overhead, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (small->framed);
  g_assert_cmpuint (g_bytes_get_size (small->stdout_bytes), ==, input->len + overhead);

  child = call_full (worker, input->str, NO_DEADLINE, input->len + overhead - 1, NULL, &error);
  g_assert_null (child);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
  g_assert_false (nix_exec_worker_is_alive (worker));
  wait_reaped (worker);
}

static void
test_worker_group_kill (void)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autoptr(NixExecWorker) worker = NULL;

  g_test_summary ("A worker that writes outside a call is killed with its whole process "
                  "group: a grandchild it forked dies with it");

  /* Not a worker at all: it forks a grandchild holding its pipes, and
   * prints the grandchild's pid between calls. */
  worker = spawn ("fork-grandchild", marker, "--parent-sleeps", NULL);
  for (guint i = 0; i < 250 && nix_exec_test_count_processes (marker) < 2; i++)
    g_usleep (10 * 1000);
  g_assert_cmpuint (nix_exec_test_count_processes (marker), ==, 2);

  wait_reaped (worker);
  g_assert_false (nix_exec_worker_is_alive (worker));
  nix_exec_test_assert_no_process (marker);
}

/* ------------------------------------------------------------------------ */
/* The pool                                                                 */
/* ------------------------------------------------------------------------ */

static void
test_pool_replacement (void)
{
  g_autoptr(NixExecPool) pool = nix_exec_pool_new (2);
  g_autoptr(NixExecWorker) worker = NULL;
  g_autoptr(NixExecWorker) again = NULL;
  g_autoptr(NixExecWorker) none = NULL;

  g_test_summary ("A worker that died in a call leaves the pool: the next take finds none, "
                  "so the call gets a fresh worker, never the dead one");

  g_assert_null (nix_exec_pool_take (pool, "stage"));
  g_assert_true (nix_exec_pool_make_room (pool));
  worker = spawn ("worker-crash-after", "1", NULL);
  nix_exec_pool_add (pool, "stage", worker);

  nix_exec_child_result_free (call (worker, "1"));
  nix_exec_pool_release (pool, worker, 60);
  /* Idle and alive: handed out again, for its key only. */
  g_assert_null (nix_exec_pool_take (pool, "another stage"));
  again = nix_exec_pool_take (pool, "stage");
  g_assert_true (again == worker);

  nix_exec_child_result_free (call (worker, "2"));
  g_assert_false (nix_exec_worker_is_alive (worker));
  nix_exec_pool_release (pool, worker, 60);
  g_assert_cmpuint (nix_exec_pool_get_size (pool), ==, 0);
  none = nix_exec_pool_take (pool, "stage");
  g_assert_null (none);
  wait_reaped (worker);
}

static void
test_pool_killed_idle (void)
{
  g_autoptr(NixExecPool) pool = nix_exec_pool_new (2);
  g_autoptr(NixExecWorker) worker = spawn ("worker", NULL);

  g_test_summary ("An idle worker that died meanwhile is never handed out");

  nix_exec_pool_add (pool, "stage", worker);
  nix_exec_pool_release (pool, worker, 60);
  kill (nix_exec_worker_get_pid (worker), SIGKILL);
  wait_reaped (worker);
  g_assert_null (nix_exec_pool_take (pool, "stage"));
  g_assert_cmpuint (nix_exec_pool_get_size (pool), ==, 0);
}

static void
test_pool_keep_alive (void)
{
  g_autoptr(NixExecPool) pool = nix_exec_pool_new (2);
  g_autoptr(NixExecWorker) worker = spawn ("worker", NULL);

  g_test_summary ("An idle worker is killed and reaped when its keep-alive runs out, "
                  "without anyone taking from the pool");

  nix_exec_pool_add (pool, "stage", worker);
  nix_exec_pool_release (pool, worker, 0);
  wait_reaped (worker);
  g_assert_false (nix_exec_worker_is_alive (worker));
  g_assert_cmpuint (nix_exec_pool_get_size (pool), ==, 0);
}

static void
test_pool_make_room (void)
{
  g_autoptr(NixExecPool) pool = nix_exec_pool_new (1);
  g_autoptr(NixExecPool) no_workers = nix_exec_pool_new (0);
  g_autoptr(NixExecWorker) worker = spawn ("worker", NULL);

  g_test_summary ("A full pool makes room by killing its least recently used idle worker, "
                  "never a busy one; max-workers 0 never has room");

  g_assert_false (nix_exec_pool_make_room (no_workers));

  nix_exec_pool_add (pool, "a", worker);
  g_assert_false (nix_exec_pool_make_room (pool));
  g_assert_true (nix_exec_worker_is_alive (worker));

  nix_exec_pool_release (pool, worker, 60);
  g_assert_true (nix_exec_pool_make_room (pool));
  g_assert_false (nix_exec_worker_is_alive (worker));
  g_assert_cmpuint (nix_exec_pool_get_size (pool), ==, 0);
  wait_reaped (worker);
}

static void
test_pool_shutdown (void)
{
  guint fds_before = nix_exec_test_count_fds ();
  g_autoptr(NixExecPool) pool = nix_exec_pool_new (4);
  NixExecWorker *busy = spawn ("worker", NULL);
  NixExecWorker *idle = spawn ("worker-print-pid", NULL);
  g_autoptr(NixExecChildResult) child = NULL;
  g_autofree char *pid = NULL;

  g_test_summary ("Shutting the pool down kills its workers, busy and idle, and returns "
                  "once they are reaped and their fds closed");

  nix_exec_pool_add (pool, "busy", busy);
  nix_exec_pool_add (pool, "idle", idle);
  child = call (idle, "null");
  pid = value_text (child);
  g_assert_cmpint (g_ascii_strtoll (pid, NULL, 10), ==, nix_exec_worker_get_pid (idle));
  nix_exec_pool_release (pool, idle, 60);

  nix_exec_pool_shutdown (pool);
  g_assert_true (nix_exec_worker_is_reaped (busy));
  g_assert_true (nix_exec_worker_is_reaped (idle));
  g_assert_cmpuint (nix_exec_pool_get_size (pool), ==, 0);

  nix_exec_worker_unref (busy);
  nix_exec_worker_unref (idle);
  /* What the workers' sources still held goes with the last iteration. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (nix_exec_test_count_fds (), ==, fds_before);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/nixexec/pool/worker/round-trip", test_worker_round_trip);
  g_test_add_func ("/nixexec/pool/worker/report", test_worker_report);
  g_test_add_func ("/nixexec/pool/worker/dies-mid-call", test_worker_dies_mid_call);
  g_test_add_func ("/nixexec/pool/worker/deadline", test_worker_deadline);
  g_test_add_func ("/nixexec/pool/worker/cancel", test_worker_cancel);
  g_test_add_func ("/nixexec/pool/worker/garbage", test_worker_garbage);
  g_test_add_func ("/nixexec/pool/worker/output-cap", test_worker_output_cap);
  g_test_add_func ("/nixexec/pool/worker/group-kill", test_worker_group_kill);
  g_test_add_func ("/nixexec/pool/replacement", test_pool_replacement);
  g_test_add_func ("/nixexec/pool/killed-idle", test_pool_killed_idle);
  g_test_add_func ("/nixexec/pool/keep-alive", test_pool_keep_alive);
  g_test_add_func ("/nixexec/pool/make-room", test_pool_make_room);
  g_test_add_func ("/nixexec/pool/shutdown", test_pool_shutdown);

  return g_test_run ();
}
