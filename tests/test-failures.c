/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * When the host runs out of what a call needs — processes (fork gets
 * EAGAIN, as under a fork bomb), file descriptors (EMFILE) — every call
 * fails with a clear NIX_EXEC_ERROR_RESOURCE_LIMIT, or succeeds; it never
 * crashes, hangs, leaks or blames the stage, and the next call works once
 * the limit is gone. Processes are limited with a pids cgroup of the test
 * process (root only bypasses RLIMIT_NPROC), descriptors with
 * RLIMIT_NOFILE.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "nixexec-test-util.h"

static const char *python_code =
  "import os\n"
  "def execute(input):\n"
  "    return input['i']\n";

typedef struct
{
  gboolean sandboxed;
  gboolean warm;
} Mode;

typedef struct
{
  char            *cache_dir;
  NixExecExecutor *executor;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  const Mode *mode = user_data;
  g_autoptr(NixExecConfig) config = NULL;

  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-failures");
  config = nix_exec_test_config_new (fixture->cache_dir);
  if (!mode->sandboxed)
    nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_NONE);
  nix_exec_config_set_keep_alive_secs (config, mode->warm ? 60 : 0);
  fixture->executor = nix_exec_test_executor_new_for_config (config);
  nix_exec_test_register (fixture->executor, "stage", "python", python_code);
  nix_exec_test_warmup (fixture->executor);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->executor);
  nix_exec_test_rm_rf (fixture->cache_dir);
  g_clear_pointer (&fixture->cache_dir, g_free);
}

/* One call through the async path on the default context: sync calls make
 * a context of their own, which needs a descriptor. */
static JsonNode *
call (Fixture  *fixture,
      guint     i,
      GError  **error)
{
  g_autofree char *text = g_strdup_printf ("{\"i\": %u}", i);
  g_autoptr(JsonNode) input = nix_exec_test_json (text);
  g_autoptr(GAsyncResult) result = NULL;

  nix_exec_executor_execute_async (fixture->executor, "stage", input, NULL,
                                   nix_exec_test_on_done, &result);
  nix_exec_test_wait (&result);
  return nix_exec_executor_execute_finish (fixture->executor, result, error);
}

/* A call under a limit: its own result, or RESOURCE_LIMIT naming what ran
 * out. */
static gboolean
assert_clear_outcome (Fixture    *fixture,
                      guint       i,
                      const char *limit)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = call (fixture, i, &error);

  if (output != NULL)
    {
      g_assert_no_error (error);
      g_assert_cmpint (json_node_get_int (output), ==, i);
      return TRUE;
    }
  g_test_message ("%s: %s", limit, error->message);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT);
  g_assert_nonnull (strstr (error->message, "stage"));
  return FALSE;
}

static void
assert_works (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = call (fixture, 99, &error);

  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (output), ==, 99);
}

static void
test_process_limit (Fixture       *fixture,
                    gconstpointer  user_data)
{
  NixExecTestPids *pids = nix_exec_test_pids_enter ();
  guint refused = 0, i = 0;

  if (pids == NULL)
    {
      g_test_skip ("No writable pids cgroup to limit processes with");
      return;
    }

  /* From no new process at all to enough for a whole call. */
  for (guint extra = 0; extra <= 8; extra++)
    for (guint repeat = 0; repeat < 2; repeat++)
      {
        nix_exec_test_pids_limit (pids, extra);
        if (!assert_clear_outcome (fixture, i++, "processes"))
          refused++;
        nix_exec_test_pids_lift (pids);
      }

  /* This process, and the warm workers it started in the group. */
  nix_exec_test_pids_leave (pids);
  g_assert_cmpuint (refused, >, 0);
  g_assert_cmpuint (refused, <, i);
  assert_works (fixture);
}

static void
test_descriptor_limit (Fixture       *fixture,
                       gconstpointer  user_data)
{
  struct rlimit saved, limited;
  guint refused = 0, i = 0;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  for (guint extra = 0; extra <= 30; extra += 2)
    {
      limited = saved;
      limited.rlim_cur = nix_exec_test_count_fds () + extra;
      /* The I/O thread counts too: every descriptor it makes comes from
       * the same table. */
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limited), ==, 0);
      if (!assert_clear_outcome (fixture, i++, "descriptors"))
        refused++;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
    }

  g_assert_cmpuint (refused, >, 0);
  g_assert_cmpuint (refused, <, i);
  assert_works (fixture);
}

/* Only bwrap can say that the sandbox failed: a stage that prints bwrap's
 * words and exits 1 has failed itself, and its logs are its own. */
static void
test_stage_cannot_pose_as_sandbox (Fixture       *fixture,
                                   gconstpointer  user_data)
{
  static const char *languages[][2] = {
    { "bash", "execute() {\n"
              "  echo 'bwrap: Creating new namespace failed: Resource temporarily unavailable' >&2\n"
              "  exit 1\n"
              "}\n" },
    { "python", "import os, sys\n"
                "os.write(2, b'bwrap: Can\\'t fork for pid 1: Resource temporarily unavailable\\n')\n"
                "sys.exit(1)\n"
                "def execute(input):\n"
                "    return 1\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (languages); i++)
    {
      g_autoptr(JsonNode) input = nix_exec_test_json ("1");
      g_autoptr(NixExecResult) result = NULL;
      g_autoptr(GError) error = NULL;

      nix_exec_test_register (fixture->executor, "poser", languages[i][0], languages[i][1]);
      for (guint call = 0; call < 2; call++)
        {
          g_clear_error (&error);
          result = nix_exec_executor_execute_full (fixture->executor, "poser", input, NULL,
                                                   &error);
          g_assert_null (result);
          g_test_message ("%s: %s", languages[i][0], error->message);
          g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED);
          g_assert_nonnull (strstr (error->message, "bwrap: "));
        }
    }

  /* The wrapper's start line is not part of any stage's logs. */
  {
    g_autoptr(JsonNode) input = nix_exec_test_json ("{\"i\": 3}");
    g_autoptr(GError) error = NULL;
    g_autoptr(NixExecResult) result = nix_exec_executor_execute_full (fixture->executor, "stage",
                                                                      input, NULL, &error);

    g_assert_no_error (error);
    g_assert_null (strstr (nix_exec_result_get_logs (result), "nixexec:started"));
  }
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
  static const char * const names[] = {
    "sandboxed", "unconfined", "sandboxed-warm", "unconfined-warm",
  };

  g_test_init (&argc, &argv, NULL);

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      g_autofree char *processes = g_strdup_printf ("/nixexec/failures/processes-%s", names[m]);
      g_autofree char *descriptors = g_strdup_printf ("/nixexec/failures/descriptors-%s",
                                                      names[m]);

      if (modes[m].sandboxed && nix_exec_test_allow_no_sandbox ())
        continue;
      g_test_add (processes, Fixture, &modes[m], fixture_set_up, test_process_limit,
                  fixture_tear_down);
      g_test_add (descriptors, Fixture, &modes[m], fixture_set_up, test_descriptor_limit,
                  fixture_tear_down);
      if (modes[m].sandboxed)
        {
          g_autofree char *poser = g_strdup_printf ("/nixexec/failures/stage-poses-as-bwrap-%s",
                                                    names[m]);

          g_test_add (poser, Fixture, &modes[m], fixture_set_up,
                      test_stage_cannot_pose_as_sandbox, fixture_tear_down);
        }
    }

  g_test_summary ("Out of processes or descriptors, calls fail with RESOURCE_LIMIT, and recover");
  return g_test_run ();
}
