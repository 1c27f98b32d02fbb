/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reaping what is ours when the host adopts orphans: as a subreaper (a
 * session manager, a container's entrypoint) or as PID 1 (this suite runs
 * a second time under `unshare --pid --fork`), the processes a call leaves
 * behind are reparented to the host, and a call must not leave a zombie
 * there, sandboxed or not, one-shot or warm.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "nixexec-test-util.h"

/* Leaves a process running behind it, in the stage's group, so that it is
 * an orphan when the stage exits. */
static const char *python_code =
  "import os, subprocess\n"
  "def execute(input):\n"
  "    if input.get('background'):\n"
  "        subprocess.Popen(['sleep', input['marker']])\n"
  "    if input.get('crash'):\n"
  "        os._exit(3)\n"
  "    return os.getpid()\n";

typedef struct
{
  char            *cache_dir;
  NixExecConfig   *config;
  NixExecExecutor *executor;
} Fixture;

/* Fails unless this process has no child left within a few seconds,
 * iterating the default context meanwhile. */
static void
assert_no_children (const char *when)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  g_autoptr(GPtrArray) children = NULL;

  for (;;)
    {
      g_clear_pointer (&children, g_ptr_array_unref);
      children = nix_exec_test_list_children ();
      if (children->len == 0 || g_get_monotonic_time () > deadline)
        break;
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (20 * 1000);
    }
  for (guint i = 0; i < children->len; i++)
    g_test_message ("%s: child left: %s", when, (const char *) children->pdata[i]);
  g_assert_cmpuint (children->len, ==, 0);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-reap");
  fixture->config = nix_exec_test_config_new (fixture->cache_dir);
  if (getpid () != 1)
    g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), ==, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->executor);
  assert_no_children ("after the executor");
  g_clear_object (&fixture->config);
  nix_exec_test_rm_rf (fixture->cache_dir);
  g_clear_pointer (&fixture->cache_dir, g_free);
}

static void
start (Fixture  *fixture,
       gboolean  sandboxed,
       gboolean  warm)
{
  if (sandboxed && nix_exec_test_allow_no_sandbox ())
    {
      g_test_skip ("No usable bubblewrap on this host");
      return;
    }
  if (!sandboxed)
    nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_NONE);
  nix_exec_config_set_keep_alive_secs (fixture->config, warm ? 60 : 0);
  fixture->executor = nix_exec_test_executor_new_for_config (fixture->config);
  g_assert_cmpint (nix_exec_executor_get_isolation_active (fixture->executor), ==, sandboxed);
  nix_exec_test_register (fixture->executor, "stage", "python", python_code);
  nix_exec_test_warmup (fixture->executor);
}

static void
run_calls (Fixture  *fixture,
           gboolean  warm)
{
  g_autofree char *marker = nix_exec_test_new_marker ();

  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"background\": %s, \"crash\": %s, "
                                               "\"marker\": \"%s\"}",
                                               i % 2 == 0 ? "true" : "false",
                                               i % 3 == 2 ? "true" : "false", marker);
      g_autoptr(JsonNode) input = nix_exec_test_json (text);
      g_autoptr(JsonNode) output = NULL;
      g_autoptr(GError) error = NULL;

      output = nix_exec_executor_execute (fixture->executor, "stage", input, NULL, &error);
      if (i % 3 == 2)
        g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
      else
        g_assert_no_error (error);
      /* A warm worker stays; everything else of the call must be gone. */
      if (!warm)
        assert_no_children ("after a call");
    }
  nix_exec_test_assert_no_process (marker);
}

static void
test_oneshot (Fixture       *fixture,
              gconstpointer  user_data)
{
  gboolean sandboxed = GPOINTER_TO_INT (user_data);

  start (fixture, sandboxed, FALSE);
  if (fixture->executor == NULL)
    return;
  run_calls (fixture, FALSE);
}

static void
test_warm (Fixture       *fixture,
           gconstpointer  user_data)
{
  gboolean sandboxed = GPOINTER_TO_INT (user_data);

  start (fixture, sandboxed, TRUE);
  if (fixture->executor == NULL)
    return;
  /* Crashes replace the worker: each old one must be reaped, sandbox and
   * all. */
  run_calls (fixture, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, sandboxed) \
  g_test_add ("/nixexec/reap/" path, Fixture, GINT_TO_POINTER (sandboxed), \
              fixture_set_up, func, fixture_tear_down)

  ADD ("oneshot-sandboxed", test_oneshot, TRUE);
  ADD ("oneshot-unconfined", test_oneshot, FALSE);
  ADD ("warm-sandboxed", test_warm, TRUE);
  ADD ("warm-unconfined", test_warm, FALSE);

#undef ADD

  g_test_summary (getpid () == 1
                  ? "As PID 1, calls leave no zombie and no process"
                  : "As a subreaper, calls leave no zombie and no process");
  return g_test_run ();
}
