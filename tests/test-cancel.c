/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cancelling at any instant: before the spawn, while bwrap sets up the
 * sandbox, while the stage runs, while its result is read. A sweep of
 * cancel delays from 0 to 20 ms over hundreds of calls, sandboxed and not,
 * one-shot and on warm workers; every call must complete exactly once,
 * with its own result or G_IO_ERROR_CANCELLED and nothing else, and leave
 * no process, zombie or descriptor behind.
 */
#include <string.h>
#include <unistd.h>

#include "nixexec-test-util.h"

/* Some calls sleep a little, some return a large result, so that a cancel
 * lands in every phase. */
static const char *python_code =
  "import time\n"
  "def execute(input):\n"
  "    if input['sleep']:\n"
  "        time.sleep(input['sleep'])\n"
  "    if input['big']:\n"
  "        return {'i': input['i'], 'pad': 'x' * input['big']}\n"
  "    return {'i': input['i']}\n";

#define MAX_DELAY_MS 20

typedef struct
{
  gboolean sandboxed;
  gboolean warm;
} Mode;

typedef struct
{
  GCancellable *cancellable;
  guint         delay_us;
} Canceller;

static gpointer
cancel_later (gpointer data)
{
  Canceller *canceller = data;

  g_usleep (canceller->delay_us);
  g_cancellable_cancel (canceller->cancellable);
  return NULL;
}

typedef struct
{
  guint          index;
  GAsyncResult  *result;
  guint          times_called;
} Call;

static void
on_call_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Call *call = user_data;

  call->times_called++;
  g_assert_null (call->result);
  call->result = g_object_ref (result);
}

static void
test_sweep (gconstpointer data)
{
  const Mode *mode = data;
  g_autofree char *cache_dir = NULL;
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  guint fds_before, cancelled = 0, completed = 0;
  guint n_calls = 0;
  gint64 cold_us = 0;

  if (mode->sandboxed && nix_exec_test_allow_no_sandbox ())
    {
      g_test_skip ("No usable bubblewrap on this host");
      return;
    }

  cache_dir = nix_exec_test_make_tmpdir ("nixexec-cancel");
  config = nix_exec_test_config_new (cache_dir);
  if (!mode->sandboxed)
    nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_NONE);
  nix_exec_config_set_keep_alive_secs (config, mode->warm ? 60 : 0);
  executor = nix_exec_test_executor_new_for_config (config);
  g_assert_cmpint (nix_exec_executor_get_isolation_active (executor), ==, mode->sandboxed);
  nix_exec_test_register (executor, "stage", "python", python_code);
  nix_exec_test_warmup (executor);

  /* How long a call takes from a cold start (as every call after a
   * cancelled one does: cancelling kills the warm worker), so that the
   * last round cancels around the end of the call, while its result is
   * read. */
  {
    g_autoptr(JsonNode) input = nix_exec_test_json ("{\"i\": 0, \"sleep\": 0, \"big\": 1048576}");
    g_autoptr(JsonNode) output = NULL;
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time ();

    output = nix_exec_executor_execute (executor, "stage", input, NULL, &error);
    g_assert_no_error (error);
    cold_us = g_get_monotonic_time () - start;
    g_test_message ("a cold call takes %" G_GINT64_FORMAT " us", cold_us);
    if (mode->warm)
      {
        /* Back to a cold start for the first call of the sweep. */
        g_clear_object (&executor);
        executor = nix_exec_test_executor_new_for_config (config);
        nix_exec_test_register (executor, "stage", "python", python_code);
        nix_exec_test_warmup (executor);
      }
  }
  fds_before = nix_exec_test_count_fds ();

  for (guint round = 0; round < 4; round++)
    for (guint delay_ms = 0; delay_ms <= MAX_DELAY_MS; delay_ms++)
      {
        g_autoptr(GCancellable) cancellable = g_cancellable_new ();
        g_autoptr(GError) error = NULL;
        g_autoptr(NixExecResult) result = NULL;
        g_autofree char *text = NULL;
        g_autoptr(JsonNode) input = NULL;
        Canceller canceller;
        Call call = { n_calls, NULL, 0 };
        GThread *thread;

        /* Before the call starts, at round 0's first delay. */
        if (round == 0 && delay_ms == 0)
          g_cancellable_cancel (cancellable);

        text = g_strdup_printf ("{\"i\": %u, \"sleep\": %s, \"big\": %u}", n_calls,
                                round == 1 ? "0.005" : "0", round >= 2 ? 1u << 20 : 0);
        input = nix_exec_test_json (text);
        canceller.cancellable = cancellable;
        /* Spread the instants over each millisecond, too. */
        canceller.delay_us = delay_ms * 1000 + (n_calls * 337) % 1000;
        /* The last round: around a cold call's usual end, from 0.8 to 2.8
         * times its length (a loaded machine, a sanitizer build), so that
         * some calls complete and some are cancelled as they finish. */
        if (round == 3)
          canceller.delay_us = cold_us * (8 + delay_ms) / 10 + (n_calls * 337) % 1000;

        nix_exec_executor_execute_full_async (executor, "stage", input, cancellable,
                                              on_call_done, &call);
        thread = g_thread_new ("canceller", cancel_later, &canceller);
        nix_exec_test_wait (&call.result);
        /* Before the cancel thread is joined: GTask reports a cancellable
         * cancelled by then as cancelled, whatever the call returned. */
        result = nix_exec_executor_execute_full_finish (executor, call.result, &error);
        g_thread_join (thread);

        if (result != NULL)
          {
            JsonObject *object = json_node_get_object (nix_exec_result_get_output (result));

            g_assert_no_error (error);
            g_assert_cmpint (json_object_get_int_member (object, "i"), ==, n_calls);
            completed++;
          }
        else
          {
            g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
            cancelled++;
          }
        g_clear_object (&call.result);

        /* Exactly once, even if something fires late. */
        while (g_main_context_iteration (NULL, FALSE))
          ;
        g_assert_cmpuint (call.times_called, ==, 1);
        n_calls++;
      }

  g_test_message ("%u calls: %u completed, %u cancelled", n_calls, completed, cancelled);
  g_assert_cmpuint (cancelled, >, 0);
  g_assert_cmpuint (completed, >, 0);

  /* The executor still works after all that. */
  {
    g_autoptr(JsonNode) input = nix_exec_test_json ("{\"i\": 7, \"sleep\": 0, \"big\": 0}");
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) output = nix_exec_executor_execute (executor, "stage", input, NULL,
                                                            &error);

    g_assert_no_error (error);
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (output), "i"), ==, 7);
  }

  /* Warm workers hold a few descriptors each: count after they are gone. */
  g_clear_object (&executor);
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while ((nix_exec_test_count_children () > 0 || nix_exec_test_count_fds () > fds_before) &&
           g_get_monotonic_time () < deadline)
      {
        while (g_main_context_iteration (NULL, FALSE))
          ;
        g_usleep (10 * 1000);
      }
  }
  g_assert_cmpuint (nix_exec_test_count_children (), ==, 0);
  g_assert_cmpuint (nix_exec_test_count_fds (), <=, fds_before);
  nix_exec_test_rm_rf (cache_dir);
}

int
main (int   argc,
      char *argv[])
{
  static const Mode modes[] = {
    { TRUE, FALSE },
    { FALSE, FALSE },
    { TRUE, TRUE },
    { FALSE, TRUE },
  };

  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/nixexec/cancel/sweep-sandboxed", &modes[0], test_sweep);
  g_test_add_data_func ("/nixexec/cancel/sweep-unconfined", &modes[1], test_sweep);
  g_test_add_data_func ("/nixexec/cancel/sweep-sandboxed-warm", &modes[2], test_sweep);
  g_test_add_data_func ("/nixexec/cancel/sweep-unconfined-warm", &modes[3], test_sweep);

  g_test_summary ("A cancel at any instant ends the call once, cleanly, and leaves nothing");
  return g_test_run ();
}
