/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bounded concurrency: max-concurrency stages at once, the rest queued in
 * order, cancellable while queued, with deadlines that start with the stage.
 */
#include <glib/gstdio.h>

#include "nixexec-test-util.h"

typedef struct
{
  char            *cache_dir;
  NixExecExecutor *executor;
} Fixture;

/* Reports when it ran, by the wall clock the test shares with it. */
static const char *timed_code =
  "import os, time\n"
  "def execute(input):\n"
  "    start = time.time()\n"
  "    if input.get('marker'):\n"
  "        open(input['marker'], 'w').close()\n"
  "    time.sleep(input['sleep'])\n"
  "    return {'i': input['i'], 'start': start, 'end': time.time()}\n";

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-concurrency");
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
start_executor (Fixture *fixture,
                guint    max_concurrency,
                guint    timeout_secs)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);

  nix_exec_config_set_max_concurrency (config, max_concurrency);
  nix_exec_config_set_timeout_secs (config, timeout_secs);
  fixture->executor = nix_exec_test_executor_new_for_config (config);
  nix_exec_test_register (fixture->executor, "timed", "python", timed_code);
  nix_exec_test_warmup (fixture->executor);
}

typedef struct
{
  double start;
  double end;
} Interval;

/* Runs @n calls at once and returns when each ran, in submission order. */
static GArray *
run_batch (Fixture *fixture,
           guint    n,
           double   sleep_secs)
{
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  GArray *intervals = g_array_new (FALSE, FALSE, sizeof (Interval));

  /* Sized up front: each call keeps a pointer into the array. */
  g_ptr_array_set_size (results, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"i\": %u, \"sleep\": %g}", i, sleep_secs);
      g_autoptr(JsonNode) input = nix_exec_test_json (text);

      nix_exec_executor_execute_async (fixture->executor, "timed", input, NULL,
                                       nix_exec_test_on_done, &results->pdata[i]);
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) output = NULL;
      JsonObject *object;
      Interval interval;

      nix_exec_test_wait ((GAsyncResult **) &results->pdata[i]);
      output = nix_exec_executor_execute_finish (fixture->executor,
                                                 g_ptr_array_index (results, i), &error);
      g_assert_no_error (error);
      object = json_node_get_object (output);
      g_assert_cmpint (json_object_get_int_member (object, "i"), ==, i);
      interval.start = json_object_get_double_member (object, "start");
      interval.end = json_object_get_double_member (object, "end");
      g_array_append_val (intervals, interval);
    }

  return intervals;
}

/* The most intervals that were running at one instant. */
static guint
max_overlap (GArray *intervals)
{
  guint best = 0;

  for (guint i = 0; i < intervals->len; i++)
    {
      double t = g_array_index (intervals, Interval, i).start;
      guint running = 0;

      for (guint j = 0; j < intervals->len; j++)
        {
          Interval *other = &g_array_index (intervals, Interval, j);
          running += other->start <= t && t < other->end;
        }
      best = MAX (best, running);
    }
  return best;
}

static void
test_limit (Fixture       *fixture,
            gconstpointer  user_data)
{
  g_autoptr(GArray) intervals = NULL;

  start_executor (fixture, 2, 60);
  intervals = run_batch (fixture, 6, 0.4);
  /* Two at a time: never three, and really two. */
  g_assert_cmpuint (max_overlap (intervals), ==, 2);
}

static void
test_unlimited (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GArray) intervals = NULL;

  start_executor (fixture, 0, 60);
  intervals = run_batch (fixture, 4, 1.0);
  g_assert_cmpuint (max_overlap (intervals), ==, 4);
}

static void
test_fifo (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(GArray) intervals = NULL;

  start_executor (fixture, 1, 60);
  intervals = run_batch (fixture, 5, 0.05);
  /* One at a time, in the order they were asked for. */
  for (guint i = 1; i < intervals->len; i++)
    g_assert_cmpfloat (g_array_index (intervals, Interval, i - 1).end, <=,
                       g_array_index (intervals, Interval, i).start);
}

static void
test_cancel_while_queued (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autofree char *marker = g_build_filename (fixture->cache_dir, "queued-ran", NULL);
  g_autofree char *queued_text = g_strdup_printf ("{\"i\": 1, \"sleep\": 0, \"marker\": \"%s\"}",
                                                  marker);
  g_autoptr(JsonNode) first_input = nix_exec_test_json ("{\"i\": 0, \"sleep\": 1.5}");
  g_autoptr(JsonNode) queued_input = nix_exec_test_json (queued_text);
  g_autoptr(JsonNode) last_input = nix_exec_test_json ("{\"i\": 2, \"sleep\": 0}");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) queued = NULL;
  g_autoptr(GAsyncResult) last = NULL;
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;

  start_executor (fixture, 1, 60);
  nix_exec_executor_execute_async (fixture->executor, "timed", first_input, NULL,
                                   nix_exec_test_on_done, &first);
  nix_exec_executor_execute_async (fixture->executor, "timed", queued_input, cancellable,
                                   nix_exec_test_on_done, &queued);
  g_cancellable_cancel (cancellable);

  /* The queued call gives up at once, while the first still runs. */
  nix_exec_test_wait (&queued);
  g_assert_null (first);
  output = nix_exec_executor_execute_finish (fixture->executor, queued, &error);
  g_assert_null (output);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  nix_exec_test_wait (&first);
  output = nix_exec_executor_execute_finish (fixture->executor, first, &error);
  g_assert_no_error (error);
  g_clear_pointer (&output, json_node_unref);

  /* Its stage never started, and its turn was not lost: a later call runs. */
  nix_exec_executor_execute_async (fixture->executor, "timed", last_input, NULL,
                                   nix_exec_test_on_done, &last);
  nix_exec_test_wait (&last);
  output = nix_exec_executor_execute_finish (fixture->executor, last, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
}

static void
test_timeout_counts_from_start (Fixture       *fixture,
                                gconstpointer  user_data)
{
  g_autoptr(GArray) intervals = NULL;

  /* Each stage runs 1.8 s under a 3 s limit; the second waits 1.8 s in the
   * queue first, which must not count (it would make 3.6 s). */
  start_executor (fixture, 1, 3);
  intervals = run_batch (fixture, 2, 1.8);
  g_assert_cmpuint (intervals->len, ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child here, needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/nixexec/concurrency/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("limit", test_limit);
  ADD ("unlimited", test_unlimited);
  ADD ("fifo", test_fifo);
  ADD ("cancel-while-queued", test_cancel_while_queued);
  ADD ("timeout-counts-from-start", test_timeout_counts_from_start);
#undef ADD

  g_test_summary ("At most max-concurrency stages run at once; the rest wait in order");
  return g_test_run ();
}
