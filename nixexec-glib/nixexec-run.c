/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run pipeline: one call of a stage, on the library's I/O thread.
 *
 * nix_exec_run_start() is called on the caller's thread with a prepared
 * stage (nixexec-prepared.c) and the input's JSON text, and hands the run
 * over to the I/O thread (nixexec-io.c), where it goes through:
 *
 *  1. the script: the stage's cached wrapper script, written on first use;
 *  2. the runtime: resolved once per executor (nixexec-runtimes.c); calls
 *     that need one being resolved wait on the same nix process;
 *  3. the slot: max-concurrency, a FIFO queue (nixexec-slots.c), the same
 *     for sync and async calls; the stage's deadline only starts when its
 *     process does;
 *  4. the command: `<interpreter> <script>`, or with isolation active the
 *     bwrap command of a sandbox derived from the stage's effects
 *     (nixexec-sandbox.c); built here, in stage_command(), for one-shot runs
 *     and workers alike, so a worker runs in the same sandbox;
 *  5. the process: with keep-alive-secs > 0 (the stage's own, or the
 *     config's) a warm worker from the pool (nixexec-pool.c,
 *     nixexec-worker.c) serves the call, or a new one joins the pool; when
 *     the pool is full of busy workers the call runs one-shot
 *     (nixexec-child.c);
 *  6. the outcome: what the process gave back is decoded by one decoder
 *     (nixexec-outcome.c) into the caller's result or error.
 *
 * The answer goes back to the caller's context as one idle callback that
 * returns the caller's task and frees the run there, so the caller's task
 * (and with it the executor) is last released on the caller's side.
 *
 * A run holds the executor's NixExecRunEnv, never the executor itself, and
 * touches nothing of the caller's but its task.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib-unix.h>


#include "nixexec-child-private.h"
#include "nixexec-error.h"
#include "nixexec-io-private.h"
#include "nixexec-outcome-private.h"
#include "nixexec-run-private.h"
#include "nixexec-sandbox-private.h"
#include "nixexec-worker-private.h"
#include "nixexec-wrapper-private.h"

typedef struct
{
  NixExecRunEnv   *env;          /* owned */
  NixExecPrepared *prepared;     /* owned */
  GBytes          *input;        /* owned */
  GTask           *task;         /* owned: the caller's */
  GCancellable    *cancellable;  /* the task's, borrowed */
  char            *script_path;  /* owned, once written */
  NixExecRuntime  *runtime;      /* owned, once resolved */
  gboolean         holds_slot;
  guint            keep_alive_secs;
  NixExecWorker   *worker;       /* owned while a warm worker serves the call */
  gboolean         sandboxed;    /* the process is bwrap */
  /* The answer, one of the two. */
  NixExecResult   *result;       /* owned */
  GError          *error;        /* owned */
} Run;

static void
run_free (Run *run)
{
  g_assert (!run->holds_slot && run->worker == NULL);
  g_clear_object (&run->result);
  g_clear_error (&run->error);
  g_clear_pointer (&run->runtime, nix_exec_runtime_free);
  g_free (run->script_path);
  g_bytes_unref (run->input);
  nix_exec_prepared_unref (run->prepared);
  nix_exec_run_env_unref (run->env);
  g_object_unref (run->task);
  g_free (run);
}

/* On the caller's context. */
static gboolean
run_complete (gpointer user_data)
{
  Run *run = user_data;

  if (run->result != NULL)
    g_task_return_pointer (run->task, g_steal_pointer (&run->result), g_object_unref);
  else
    g_task_return_error (run->task, g_steal_pointer (&run->error));
  return G_SOURCE_REMOVE;
}

static void
release_slot (Run *run)
{
  if (run->holds_slot)
    {
      run->holds_slot = FALSE;
      nix_exec_slots_release (run->env->slots);
    }
}

/* The run is over, with run->result or @error (taken). */
static void
run_finish (Run    *run,
            GError *error)
{
  /* The stage is over: the next queued call may start before this one's
   * answer reaches its caller. */
  release_slot (run);
  if (run->result == NULL)
    run->error = error != NULL ? error : g_error_new_literal (NIX_EXEC_ERROR,
                                                              NIX_EXEC_ERROR_STAGE_FAILED,
                                                              "The stage gave no answer");
  else
    g_clear_error (&error);

  nix_exec_io_dispatch_to (g_task_get_context (run->task), run_complete, run,
                           (GDestroyNotify) run_free);
}

/* Whether @error says that the host ran out of processes (fork's EAGAIN),
 * file descriptors or memory. */
static gboolean
is_resource_exhaustion (const GError *error)
{
  static const int errnos[] = { EAGAIN, EMFILE, ENFILE, ENOMEM };

  if (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT) ||
      g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FORK) ||
      g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOMEM) ||
      g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE) ||
      g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NFILE) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
    return TRUE;
  /* GLib says some of them (a pipe for the child) only in its message. */
  if (error->domain == G_SPAWN_ERROR || error->domain == G_IO_ERROR ||
      error->domain == G_UNIX_ERROR)
    for (gsize i = 0; i < G_N_ELEMENTS (errnos); i++)
      if (strstr (error->message, g_strerror (errnos[i])) != NULL)
        return TRUE;
  return FALSE;
}

/* The caller's error for a process that could not run or finish: @error
 * (taken) is the child's or the worker's. */
static GError *
process_failure (Run    *run,
                 GError *error)
{
  const char *stage_id = run->prepared->id;
  NixExecConfig *config = run->env->config;
  GError *failure;

  if (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT))
    failure = g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT,
                           "Stage “%s” ran longer than %u s and was killed",
                           stage_id, nix_exec_config_get_timeout_secs (config));
  else if (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE))
    failure = g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
                           "Stage “%s” wrote more than %" G_GUINT64_FORMAT
                           " bytes on stdout and was killed (see max-output-bytes)",
                           stage_id, nix_exec_config_get_max_output_bytes (config));
  else if (is_resource_exhaustion (error))
    /* Not the stage's fault, nor the sandbox's: a fork bomb elsewhere, a
     * process or descriptor limit. Transient, so nothing is forgotten. */
    failure = g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT,
                           "Stage “%s” could not be started: the host is out of "
                           "processes, file descriptors or memory (%s)",
                           stage_id, error->message);
  else if (error->domain == G_SPAWN_ERROR && run->sandboxed)
    /* bwrap itself could not be started (removed since the probe): never
     * fall back to running the stage unconfined. */
    failure = g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "Could not start the sandbox of stage “%s”: %s",
                           stage_id, error->message);
  else if (error->domain == G_SPAWN_ERROR)
    {
      /* The runtime vanished from the store (collected by hand, say):
       * resolve it again next time. A transient failure (fork) is not a
       * reason to re-resolve. */
      if (g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ||
          g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_ACCES) ||
          g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOEXEC))
        nix_exec_runtimes_forget (run->env->runtimes, run->runtime->key);
      failure = g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                             "Could not start stage “%s” on %s: %s",
                             stage_id, run->runtime->interpreter, error->message);
    }
  else
    return error;

  g_error_free (error);
  return failure;
}

/* A stage process is done: @child (taken), or @error (taken). */
static void
run_done (Run                *run,
          NixExecChildResult *child_in,
          GError             *error)
{
  g_autoptr(NixExecChildResult) child = child_in;
  g_autoptr(NixExecOutcome) outcome = NULL;

  release_slot (run);

  if (child == NULL)
    {
      run_finish (run, process_failure (run, error));
      return;
    }

  outcome = nix_exec_outcome_decode (run->prepared->id, child, run->sandboxed, &error);
  if (outcome != NULL)
    run->result = nix_exec_outcome_to_result (outcome, run->prepared->id, run->runtime, &error);
  run_finish (run, error);
}

static void
on_child_done (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  GError *error = NULL;
  NixExecChildResult *child = nix_exec_child_run_finish (result, &error);

  run_done (user_data, child, error);
}

static void
on_worker_call_done (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Run *run = user_data;
  GError *error = NULL;
  NixExecChildResult *child = nix_exec_worker_call_finish (result, &error);

  /* Back to the pool (or out of it, when the call killed it) before the
   * answer is looked at: the next call may use it at once. */
  nix_exec_pool_release (run->env->pool, run->worker, run->keep_alive_secs);
  g_clear_pointer (&run->worker, nix_exec_worker_unref);
  run_done (run, child, error);
}

/* The command of the stage's process: the one place it is built, for
 * one-shot runs and warm workers alike. Unconfined, `<interpreter>
 * <script>`; with isolation active, bwrap, with *out_options for its fd 3,
 * *out_seccomp (the filter) for its fd 5 and an empty environment. A warm
 * worker gets one more argument. */
static gboolean
stage_command (Run      *run,
               gboolean  worker,
               GStrv    *out_argv,
               GBytes  **out_options,
               GBytes  **out_seccomp,
               GError  **error)
{
  NixExecRunEnv *env = run->env;
  NixExecLanguage language = run->prepared->language;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GBytes) options = NULL;
  g_autoptr(GBytes) seccomp = NULL;

  if (env->isolation_active)
    {
      NixExecSandboxPlan plan = { NULL, };
      g_auto(GStrv) host_environ = g_get_environ ();
      g_auto(GStrv) argv = NULL;

      plan.bwrap_path = env->bwrap_path;
      plan.disable_userns = env->bwrap_disable_userns;
      plan.effects = nix_exec_stage_get_effects (run->prepared->stage);
      plan.runtime_path = run->runtime->store_path;
      plan.interpreter = nix_exec_language_interpreter (language);
      plan.script_path = run->script_path;
      plan.script_extension = nix_exec_language_file_extension (language);
      plan.extra_ro_binds = nix_exec_config_get_extra_ro_binds (env->config);
      plan.cache_dir = nix_exec_config_get_cache_dir (env->config);
      plan.host_environ = (const char * const *) host_environ;

      if (!nix_exec_sandbox_build_command (&plan, &argv, &options, &seccomp, error))
        {
          g_prefix_error (error, "Stage “%s”: ", run->prepared->id);
          return FALSE;
        }
      run->sandboxed = TRUE;
      /* The command ends with `-- <interpreter> <script>`. */
      g_strv_builder_addv (builder, (const char **) argv);
    }
  else
    {
      g_strv_builder_add (builder, run->runtime->interpreter);
      g_strv_builder_add (builder, run->script_path);
    }

  if (worker)
    g_strv_builder_add (builder, NIX_EXEC_WORKER_ARG);
  *out_argv = g_strv_builder_end (builder);
  *out_options = g_steal_pointer (&options);
  *out_seccomp = g_steal_pointer (&seccomp);
  return TRUE;
}

/* What a worker can be reused for: the same wrapped script (so the same
 * code and language) on the same interpreter, and when it is sandboxed,
 * the same effects, from which its sandbox is derived. */
static char *
worker_key (Run *run)
{
  return g_strconcat (run->runtime->interpreter, "\n", run->script_path, "\n",
                      run->env->isolation_active ? run->prepared->effects_key : "", NULL);
}

/* A warm worker for the call: an idle one of the same stage, or a new one.
 * NULL without @error when the pool is full of busy workers (the call runs
 * one-shot), NULL with @error when a worker could not be started. */
static NixExecWorker *
acquire_worker (Run     *run,
                GError **error)
{
  g_autofree char *key = worker_key (run);
  g_auto(GStrv) argv = NULL;
  g_autoptr(GBytes) options = NULL;
  g_autoptr(GBytes) seccomp = NULL;
  const char * const no_environ[] = { NULL };
  NixExecWorker *worker;

  worker = nix_exec_pool_take (run->env->pool, key);
  if (worker != NULL)
    {
      run->sandboxed = run->env->isolation_active;
      return worker;
    }
  if (!nix_exec_pool_make_room (run->env->pool))
    return NULL;

  if (!stage_command (run, TRUE, &argv, &options, &seccomp, error))
    return NULL;
  /* Sandboxed, bwrap starts with an empty environment, as one-shot. */
  worker = nix_exec_worker_spawn ((const char * const *) argv,
                                  run->sandboxed ? no_environ : NULL, options, seccomp,
                                  error);
  if (worker != NULL)
    nix_exec_pool_add (run->env->pool, key, worker);
  return worker;
}

static void
run_stage (Run *run)
{
  NixExecConfig *config = run->env->config;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(GBytes) bwrap_options = NULL;
  g_autoptr(GBytes) bwrap_seccomp = NULL;
  const char * const no_environ[] = { NULL };
  int stage_keep_alive = nix_exec_stage_get_keep_alive_secs (run->prepared->stage);
  guint timeout_secs = nix_exec_config_get_timeout_secs (config);
  guint timeout_ms = timeout_secs > G_MAXUINT / 1000 ? G_MAXUINT : timeout_secs * 1000;

  /* bwrap would report a vanished runtime as the stage's failure; find it
   * here, as a spawn failure does unconfined, to resolve it again. */
  if (run->env->isolation_active &&
      !g_file_test (run->runtime->interpreter, G_FILE_TEST_IS_EXECUTABLE))
    {
      nix_exec_runtimes_forget (run->env->runtimes, run->runtime->key);
      run_finish (run, g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                                    "Could not start stage “%s”: %s is missing",
                                    run->prepared->id, run->runtime->interpreter));
      return;
    }

  run->keep_alive_secs = stage_keep_alive >= 0 ? (guint) stage_keep_alive
                                               : nix_exec_config_get_keep_alive_secs (config);
  if (run->keep_alive_secs > 0)
    {
      run->worker = acquire_worker (run, &error);
      if (run->worker != NULL)
        {
          nix_exec_worker_call_async (run->worker, run->input, timeout_ms,
                                      nix_exec_config_get_max_output_bytes (config),
                                      nix_exec_config_get_max_stderr_bytes (config),
                                      run->cancellable, on_worker_call_done, run);
          return;
        }
      if (error != NULL)
        {
          run_done (run, NULL, g_steal_pointer (&error));
          return;
        }
      /* Every worker is busy and the pool is full: run this call alone. */
    }

  if (!stage_command (run, FALSE, &argv, &bwrap_options, &bwrap_seccomp, &error))
    {
      run_finish (run, g_steal_pointer (&error));
      return;
    }

  /* Sandboxed, bwrap starts with an empty environment: the stage's is
   * built from the allowlist on bwrap's command line. */
  nix_exec_child_run_async ((const char * const *) argv,
                            run->sandboxed ? no_environ : NULL,
                            run->sandboxed ? NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE
                                           : NIX_EXEC_CHILD_FLAGS_NONE,
                            run->input, bwrap_options, bwrap_seccomp,
                            nix_exec_config_get_max_output_bytes (config),
                            nix_exec_config_get_max_stderr_bytes (config),
                            timeout_ms, run->cancellable, on_child_done, run);
}

static void
on_slot_acquired (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Run *run = user_data;
  GError *error = NULL;

  if (!nix_exec_slots_acquire_finish (result, &error))
    {
      run_finish (run, error);
      return;
    }
  run->holds_slot = TRUE;

  /* Cancelled while it waited, and granted anyway: give the slot back now
   * rather than start the stage. */
  if (g_cancellable_set_error_if_cancelled (run->cancellable, &error))
    {
      run_finish (run, error);
      return;
    }

  run_stage (run);
}

static void
on_runtime_resolved (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Run *run = user_data;
  GError *error = NULL;

  run->runtime = nix_exec_runtimes_resolve_finish (NIX_EXEC_RUNTIMES (object), result, &error);
  if (run->runtime == NULL)
    {
      run_finish (run, error);
      return;
    }

  /* Wait for a turn (max-concurrency); the stage's deadline only starts
   * when its process does. */
  nix_exec_slots_acquire_async (run->env->slots, run->cancellable, on_slot_acquired, run);
}

/* On the I/O thread. */
static gboolean
run_begin (gpointer user_data)
{
  Run *run = user_data;
  NixExecPrepared *prepared = run->prepared;
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (run->cancellable, &error))
    {
      run_finish (run, error);
      return G_SOURCE_REMOVE;
    }

  if (prepared->invalid != NULL)
    {
      run_finish (run, g_error_copy (prepared->invalid));
      return G_SOURCE_REMOVE;
    }

  /* A small write, once per stage and cache; later calls check it with
   * one lstat. */
  run->script_path = nix_exec_prepared_ensure_script (prepared,
                                                      nix_exec_config_get_cache_dir (run->env->config),
                                                      &error);
  if (run->script_path == NULL)
    {
      run_finish (run, error);
      return G_SOURCE_REMOVE;
    }

  nix_exec_runtimes_resolve_async (run->env->runtimes, prepared->language,
                                   (const char * const *) prepared->python_packages,
                                   run->cancellable, on_runtime_resolved, run);
  return G_SOURCE_REMOVE;
}

void
nix_exec_run_start (NixExecRunEnv   *env,
                    NixExecPrepared *prepared,
                    GBytes          *input,
                    GTask           *task)
{
  Run *run = g_new0 (Run, 1);

  run->env = nix_exec_run_env_ref (env);
  run->prepared = nix_exec_prepared_ref (prepared);
  run->input = g_bytes_ref (input);
  run->task = task;
  run->cancellable = g_task_get_cancellable (task);

  nix_exec_io_dispatch (run_begin, run, NULL);
}

/* ------------------------------------------------------------------------ */
/* Warmup                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct
{
  NixExecRunResolvedFunc  resolved;
  guint                   pending;
  GError                 *error;  /* the first failure, owned */
} Warmup;

static void
warmup_free (Warmup *warmup)
{
  g_clear_error (&warmup->error);
  g_free (warmup);
}

/* On the caller's context. */
static void
on_warmup_resolved (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Warmup *warmup = g_task_get_task_data (task);
  g_autoptr(NixExecRuntime) runtime = NULL;
  g_autoptr(GError) error = NULL;

  runtime = nix_exec_runtimes_resolve_finish (NIX_EXEC_RUNTIMES (object), result, &error);
  if (runtime != NULL)
    warmup->resolved (task, runtime);
  else if (warmup->error == NULL)
    warmup->error = g_steal_pointer (&error);

  if (--warmup->pending > 0)
    return;

  if (warmup->error != NULL)
    g_task_return_error (task, g_steal_pointer (&warmup->error));
  else
    g_task_return_boolean (task, TRUE);
}

void
nix_exec_run_warmup (NixExecRunEnv          *env,
                     GPtrArray              *stages,
                     NixExecRunResolvedFunc  resolved,
                     GTask                  *task_in)
{
  g_autoptr(GTask) task = task_in;
  /* runtime key → a stage that runs on it: each runtime is resolved once */
  g_autoptr(GHashTable) needed = g_hash_table_new (g_str_hash, g_str_equal);
  Warmup *warmup;
  GHashTableIter iter;
  gpointer value;

  for (guint i = 0; i < stages->len; i++)
    {
      NixExecPrepared *prepared = g_ptr_array_index (stages, i);

      /* A stage that cannot run (an unknown language, a bad `# requires:`)
       * fails when it runs, with its own message; it does not stop the
       * other runtimes from warming up. */
      if (prepared->invalid == NULL)
        g_hash_table_replace (needed, prepared->runtime_key, prepared);
    }

  warmup = g_new0 (Warmup, 1);
  warmup->resolved = resolved;
  g_task_set_task_data (task, warmup, (GDestroyNotify) warmup_free);

  /* Count first, then start: a runtime already resolved answers at once. */
  warmup->pending = g_hash_table_size (needed);
  if (warmup->pending == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  g_hash_table_iter_init (&iter, needed);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NixExecPrepared *prepared = value;

      nix_exec_runtimes_resolve_async (env->runtimes, prepared->language,
                                       (const char * const *) prepared->python_packages,
                                       g_task_get_cancellable (task), on_warmup_resolved,
                                       g_object_ref (task));
    }
}
