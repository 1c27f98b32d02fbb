/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The executor: the public face of the library, and the registry of its
 * stages.
 *
 *  - Registering prepares a stage once (nixexec-prepared.c): its language,
 *    the Python packages it needs, its runtime key; every call reuses that.
 *  - A call serialises its input on the caller's thread and hands the rest
 *    to the run pipeline (nixexec-run.c): the script, the runtime
 *    (nixexec-runtimes.c), the max-concurrency slot (nixexec-slots.c), the
 *    process — one-shot (nixexec-child.c) or a warm worker from the pool
 *    (nixexec-pool.c, nixexec-worker.c) — and the outcome
 *    (nixexec-outcome.c).
 *  - All of that I/O runs on one library thread per process (nixexec-io.c),
 *    never a thread per call: _async calls complete on the caller's
 *    thread-default context through their GTask, and the sync calls run the
 *    same path and wait for its answer on a private context. So sync and
 *    async calls share one queue and one pool of warm workers, and nothing
 *    is tied to the thread or context a call came from.
 *  - Isolation is decided once, when the executor is built: bwrap is found
 *    and probed (once per process), and the executor either confines every
 *    stage, fails to build (BWRAP, or AUTO with require-isolation), or runs
 *    stages unconfined with a warning, isolation-active FALSE and
 *    isolation-reason saying why.
 *
 * Thread safety: the registered stages are behind a mutex, so one executor
 * may be shared between threads; the config is a private copy that never
 * changes after construction, and everything a run needs is in the
 * NixExecRunEnv made then. Disposing the executor kills its warm workers
 * and, off the I/O thread, waits until they are reaped.
 */
#include "config.h"

#include <string.h>

#include "nixexec-enums.h"
#include "nixexec-error.h"
#include "nixexec-executor.h"
#include "nixexec-json-private.h"
#include "nixexec-prepared-private.h"
#include "nixexec-run-private.h"

/**
 * NixExecExecutor:
 *
 * Runs stages — small Python, JavaScript or Bash programs that define
 * `execute(input)` — as child processes on Nix-pinned language runtimes.
 *
 * The input is passed to the stage as JSON on stdin and the stage's return
 * value comes back as JSON on stdout (see the [stage protocol](protocol.html)).
 * Each call runs under the time limit and output caps of the executor's
 * [class@NixExec.Config].
 *
 * ## Runtimes
 *
 * Each language maps to one attribute of the configured flake
 * ([property@NixExec.Config:flake-ref]): `python3`, `nodejs` and `bash`. The
 * first stage of a language that runs (or [method@NixExec.Executor.warmup_async])
 * resolves that attribute with `nix build` to a store path, kept alive by a
 * garbage-collector root under the cache directory; from then on every call
 * execs `<store path>/bin/<interpreter>` directly, with no nix evaluation.
 *
 * ## Threads and process control
 *
 * All the processes of the library are watched by one library thread per
 * process, never a thread per call; `_async` calls complete on the caller's
 * thread-default main context, and sync and async calls share
 * [property@NixExec.Config:max-concurrency] and the warm workers. Every
 * stage runs in a process group of its own and is killed with SIGKILL if
 * the process that started it dies. When the time limit passes, when the
 * stage writes more than [property@NixExec.Config:max-output-bytes], or when
 * the caller's [class@Gio.Cancellable] is cancelled, the whole process group
 * (sandboxed, the whole pid namespace) is killed with SIGKILL at once, and
 * the call completes as soon as the stage has been reaped. Cancelling
 * reports %G_IO_ERROR_CANCELLED, at whatever moment it comes. In a host
 * that is a subreaper or PID 1 (a container's entrypoint), the processes a
 * call leaves to the host — bubblewrap's namespace init, what the stage
 * left in its process group — are reaped by the library, by their pids
 * only; the host's own children are never waited for. When the host is out
 * of processes or file descriptors, a call fails with
 * %NIX_EXEC_ERROR_RESOURCE_LIMIT.
 *
 * ## Warm workers
 *
 * With [property@NixExec.Config:keep-alive-secs] above 0, a stage's process
 * stays alive after a call and serves the next calls of that stage, up to
 * [property@NixExec.Config:max-workers] processes per executor; a worker
 * that crashes, times out, goes over the output cap or whose call is
 * cancelled is killed and replaced by a fresh one at the next call. See
 * [Warm workers](overview.html#warm-workers).
 *
 * ## Isolation
 *
 * By default ([property@NixExec.Config:isolation] is
 * %NIX_EXEC_ISOLATION_AUTO) every stage runs in a bubblewrap sandbox derived
 * from its declared effects, when bubblewrap works on this host: as uid
 * 65534 in fresh namespaces, seeing `/nix/store`, a private `/work`, its
 * own script and the paths it declares, with the network only when it
 * declares `Network`. Where bubblewrap cannot be used, stages run
 * unconfined, with a warning, [property@NixExec.Executor:isolation-active]
 * %FALSE and [property@NixExec.Executor:isolation-reason] saying why; with
 * [property@NixExec.Config:require-isolation] or %NIX_EXEC_ISOLATION_BWRAP,
 * building the executor fails with %NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE
 * instead. See [Isolation](overview.html#isolation) and `SECURITY.md`.
 *
 * ## Construction
 *
 * [ctor@NixExec.Executor.new] reports at once why an executor cannot run
 * here. An executor made with g_object_new() — as `NixExec.Executor(config=c)`
 * in Python and `new NixExec.Executor({config: c})` in JavaScript make it —
 * is set up in the same way; when that fails, g_initable_init() and every
 * call report the same error. After g_object_run_dispose() the executor has
 * no stages, and its calls fail with %G_IO_ERROR_CLOSED.
 *
 * Since: 1.0
 */
struct _NixExecExecutor
{
  GObject        parent_instance;

  NixExecConfig *config;      /* owned private copy, immutable after construction */
  NixExecRunEnv *env;         /* owned: set once by constructed; what every run shares */
  GError        *setup_error; /* owned: why constructed could not make env */

  GMutex         lock;        /* guards every field below */
  GHashTable    *stages;      /* id (owned) → NixExecPrepared (owned); emptied by dispose */
  gboolean       disposed;
};

enum {
  PROP_0,
  PROP_CONFIG,
  PROP_NIX_PATH,
  PROP_ISOLATION_ACTIVE,
  PROP_ISOLATION_REASON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_RUNTIME_RESOLVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void nix_exec_executor_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NixExecExecutor, nix_exec_executor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      nix_exec_executor_initable_iface_init))

/**
 * nix_exec_executor_find_nix:
 *
 * Looks for a usable `nix` binary: the profile path of the Determinate and
 * upstream multi-user installers, the NixOS system path, then each directory
 * of `PATH`.
 *
 * Returns: (transfer full) (nullable) (type filename): the absolute path of
 *   `nix`, or %NULL when Nix is not installed
 *
 * Since: 1.0
 */
char *
nix_exec_executor_find_nix (void)
{
  return nix_exec_run_env_find_nix ();
}

/* The set-up is done here rather than in GInitable.init, so that an
 * executor made with g_object_new() — as PyGObject's
 * `NixExec.Executor(config=…)` and GJS's `new NixExec.Executor({config})`
 * make it — is the same as one from nix_exec_executor_new(); if it cannot
 * run here, init reports why and so does every call (check_usable). */
static void
nix_exec_executor_constructed (GObject *object)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  G_OBJECT_CLASS (nix_exec_executor_parent_class)->constructed (object);

  if (self->config == NULL)
    self->config = nix_exec_config_new ();
  self->env = nix_exec_run_env_new (self->config, &self->setup_error);
}

static gboolean
nix_exec_executor_initable_init (GInitable     *initable,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (initable);

  if (self->setup_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->setup_error));
      return FALSE;
    }
  return TRUE;
}

/* Whether a call can run: FALSE, with the reason, for an executor that
 * could not be set up or has been disposed. */
static gboolean
check_usable (NixExecExecutor  *self,
              GError          **error)
{
  gboolean disposed;

  g_mutex_lock (&self->lock);
  disposed = self->disposed;
  g_mutex_unlock (&self->lock);

  if (disposed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           "The executor has been disposed");
      return FALSE;
    }
  if (self->env == NULL)
    {
      g_set_error (error, self->setup_error->domain, self->setup_error->code,
                   "The executor could not be set up: %s", self->setup_error->message);
      return FALSE;
    }
  return TRUE;
}

static void
nix_exec_executor_initable_iface_init (GInitableIface *iface)
{
  iface->init = nix_exec_executor_initable_init;
}

static void
nix_exec_executor_dispose (GObject *object)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  /* Runs still in flight keep the env, and finish; the idle workers go
   * now, whatever thread drops the executor. */
  if (self->env != NULL)
    nix_exec_pool_shutdown (self->env->pool);

  /* The table itself stays until finalize, so that a call on a disposed
   * executor (a binding may make one) finds no stage instead of freed
   * memory. */
  g_mutex_lock (&self->lock);
  self->disposed = TRUE;
  g_hash_table_remove_all (self->stages);
  g_mutex_unlock (&self->lock);

  G_OBJECT_CLASS (nix_exec_executor_parent_class)->dispose (object);
}

static void
nix_exec_executor_finalize (GObject *object)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  g_clear_pointer (&self->env, nix_exec_run_env_unref);
  g_clear_error (&self->setup_error);
  g_clear_pointer (&self->stages, g_hash_table_unref);
  g_clear_object (&self->config);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (nix_exec_executor_parent_class)->finalize (object);
}

static void
nix_exec_executor_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  switch (prop_id)
    {
    case PROP_CONFIG:
      g_value_take_object (value, nix_exec_executor_config_snapshot (self));
      break;

    case PROP_NIX_PATH:
      g_value_set_string (value, nix_exec_executor_get_nix_path (self));
      break;

    case PROP_ISOLATION_ACTIVE:
      g_value_set_boolean (value, nix_exec_executor_get_isolation_active (self));
      break;

    case PROP_ISOLATION_REASON:
      g_value_set_string (value, nix_exec_executor_get_isolation_reason (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_executor_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  switch (prop_id)
    {
    case PROP_CONFIG:
      {
        NixExecConfig *config = g_value_get_object (value);

        g_clear_object (&self->config);
        /* A private copy: changing the caller's config later must not
         * change a running executor. */
        self->config = config != NULL ? nix_exec_config_copy (config) : nix_exec_config_new ();
      }
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_executor_class_init (NixExecExecutorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = nix_exec_executor_constructed;
  object_class->dispose = nix_exec_executor_dispose;
  object_class->finalize = nix_exec_executor_finalize;
  object_class->get_property = nix_exec_executor_get_property;
  object_class->set_property = nix_exec_executor_set_property;

  /**
   * NixExecExecutor:config:
   *
   * The configuration the executor was built with. Reading it gives a copy
   * (see [method@NixExec.Executor.config_snapshot]); to run with another
   * configuration, use [method@NixExec.Executor.rebuild_with_config].
   *
   * Since: 1.0
   */
  properties[PROP_CONFIG] =
    g_param_spec_object ("config", NULL, NULL,
                         NIX_EXEC_TYPE_CONFIG,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * NixExecExecutor:nix-path:
   *
   * The absolute path of the `nix` binary the executor uses.
   *
   * Since: 1.0
   */
  properties[PROP_NIX_PATH] =
    g_param_spec_string ("nix-path", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * NixExecExecutor:isolation-active:
   *
   * Whether the executor runs its stages in a sandbox. %FALSE with
   * %NIX_EXEC_ISOLATION_NONE, and with %NIX_EXEC_ISOLATION_AUTO on a host
   * where bubblewrap cannot be used: stages then run unconfined, and a
   * warning says why. Decided when the executor is built; it does not
   * change afterwards.
   *
   * Since: 1.0
   */
  properties[PROP_ISOLATION_ACTIVE] =
    g_param_spec_boolean ("isolation-active", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * NixExecExecutor:isolation-reason:
   *
   * Why the executor's stages run unconfined, as a sentence for a person
   * (the bubblewrap probe's failure, say); %NULL while
   * [property@NixExec.Executor:isolation-active] is %TRUE. Decided when the
   * executor is built, with isolation-active.
   *
   * Since: 1.0
   */
  properties[PROP_ISOLATION_REASON] =
    g_param_spec_string ("isolation-reason", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NixExecExecutor::runtime-resolved:
   * @self: the executor
   * @runtime: the runtime: its flake attribute, such as `python3`
   * @path: (nullable) (type filename): its store path, or %NULL for a host
   *   interpreter
   *
   * Emitted by [method@NixExec.Executor.warmup_async] and
   * [method@NixExec.Executor.refresh_async] for each runtime as soon as it
   * is resolved, on the main context they were called from, so that an
   * application can show progress.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RUNTIME_RESOLVED] =
    g_signal_new ("runtime-resolved",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
nix_exec_executor_init (NixExecExecutor *self)
{
  g_mutex_init (&self->lock);
  self->stages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) nix_exec_prepared_unref);
}

/**
 * nix_exec_executor_new:
 * @config: (nullable): the configuration, or %NULL for the defaults; the
 *   executor keeps a copy
 * @error: return location for a #GError
 *
 * Creates an executor with no stages; add them with
 * [method@NixExec.Executor.register_with_effects].
 *
 * Returns: (transfer full): a new executor, or %NULL with
 *   %NIX_EXEC_ERROR_NIX_NOT_FOUND when there is no usable nix
 *
 * Since: 1.0
 */
NixExecExecutor *
nix_exec_executor_new (NixExecConfig  *config,
                       GError        **error)
{
  g_return_val_if_fail (config == NULL || NIX_EXEC_IS_CONFIG (config), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (NIX_EXEC_TYPE_EXECUTOR, NULL, error,
                         "config", config,
                         NULL);
}

/**
 * nix_exec_executor_new_from_store:
 * @store: the stages to run
 * @error: return location for a #GError
 *
 * Creates an executor with the default configuration that can run every
 * stage of @store that has code and a language.
 *
 * Returns: (transfer full): a new executor, or %NULL with
 *   %NIX_EXEC_ERROR_NIX_NOT_FOUND when there is no usable nix
 *
 * Since: 1.0
 */
NixExecExecutor *
nix_exec_executor_new_from_store (NixExecStageStore  *store,
                                  GError            **error)
{
  return nix_exec_executor_new_from_store_with_config (store, NULL, error);
}

/**
 * nix_exec_executor_new_from_store_with_config:
 * @store: the stages to run
 * @config: (nullable): the configuration, or %NULL for the defaults; the
 *   executor keeps a copy
 * @error: return location for a #GError
 *
 * Like [ctor@NixExec.Executor.new_from_store], with a configuration.
 *
 * The stages are read once, now: stages added to @store later are not seen.
 * A stage whose language is not supported is kept, and running it reports
 * %NIX_EXEC_ERROR_INVALID_STAGE.
 *
 * Returns: (transfer full): a new executor, or %NULL with
 *   %NIX_EXEC_ERROR_NIX_NOT_FOUND when there is no usable nix
 *
 * Since: 1.0
 */
NixExecExecutor *
nix_exec_executor_new_from_store_with_config (NixExecStageStore  *store,
                                              NixExecConfig      *config,
                                              GError            **error)
{
  g_autoptr(NixExecExecutor) self = NULL;
  g_autoptr(GPtrArray) stages = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_STAGE_STORE (store), NULL);
  g_return_val_if_fail (config == NULL || NIX_EXEC_IS_CONFIG (config), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = nix_exec_executor_new (config, error);
  if (self == NULL)
    return NULL;

  stages = nix_exec_stage_store_list_stages (store);
  for (guint i = 0; i < stages->len; i++)
    {
      NixExecStage *stage = g_ptr_array_index (stages, i);
      const char *code = nix_exec_stage_get_code (stage);
      const char *language = nix_exec_stage_get_language (stage);

      if (code == NULL || *code == '\0' || language == NULL || *language == '\0')
        continue;

      g_hash_table_replace (self->stages,
                            g_strdup (nix_exec_stage_get_id (stage)),
                            nix_exec_prepared_new (stage));
    }

  return g_steal_pointer (&self);
}

/**
 * nix_exec_executor_get_nix_path:
 * @self: a #NixExecExecutor
 *
 * Gets the `nix` binary the executor uses.
 *
 * Returns: (nullable) (type filename): the absolute path of `nix`, or
 *   %NULL when the executor runs host interpreters
 *
 * Since: 1.0
 */
const char *
nix_exec_executor_get_nix_path (NixExecExecutor *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);

  return self->env != NULL ? self->env->nix_path : NULL;
}

/**
 * nix_exec_executor_get_isolation_active:
 * @self: a #NixExecExecutor
 *
 * Gets [property@NixExec.Executor:isolation-active].
 *
 * Returns: %TRUE when stages run in a sandbox, %FALSE when they run
 *   unconfined
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_get_isolation_active (NixExecExecutor *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);

  return self->env != NULL && self->env->isolation_active;
}

/**
 * nix_exec_executor_get_isolation_reason:
 * @self: a #NixExecExecutor
 *
 * Gets [property@NixExec.Executor:isolation-reason].
 *
 * Returns: (nullable): why stages run unconfined, or %NULL when they run in
 *   a sandbox
 *
 * Since: 1.0
 */
const char *
nix_exec_executor_get_isolation_reason (NixExecExecutor *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);

  return self->env != NULL ? self->env->isolation_reason : NULL;
}

/**
 * nix_exec_executor_config_snapshot:
 * @self: a #NixExecExecutor
 *
 * Copies the executor's configuration, for callers that want to change a
 * setting and [method@NixExec.Executor.rebuild_with_config]. Changing the
 * copy does not change the executor.
 *
 * Returns: (transfer full): a new copy of the configuration
 *
 * Since: 1.0
 */
NixExecConfig *
nix_exec_executor_config_snapshot (NixExecExecutor *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);

  return nix_exec_config_copy (self->config);
}

/**
 * nix_exec_executor_rebuild_with_config:
 * @self: a #NixExecExecutor
 * @config: the new configuration; the new executor keeps a copy
 * @error: return location for a #GError
 *
 * Creates a new executor with @config and every stage registered with
 * @self. @self is not changed. Runtimes are resolved again by the new
 * executor, since the configuration may name another flake.
 *
 * Returns: (transfer full): a new executor, or %NULL with
 *   %NIX_EXEC_ERROR_NIX_NOT_FOUND when the new configuration names no usable
 *   nix
 *
 * Since: 1.0
 */
NixExecExecutor *
nix_exec_executor_rebuild_with_config (NixExecExecutor  *self,
                                       NixExecConfig    *config,
                                       GError          **error)
{
  g_autoptr(NixExecExecutor) rebuilt = NULL;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (config), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  rebuilt = nix_exec_executor_new (config, error);
  if (rebuilt == NULL)
    return NULL;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->stages);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_replace (rebuilt->stages, g_strdup (key),
                          nix_exec_prepared_new (((NixExecPrepared *) value)->stage));
  g_mutex_unlock (&self->lock);

  return g_steal_pointer (&rebuilt);
}

/**
 * nix_exec_executor_add_stage:
 * @self: a #NixExecExecutor
 * @stage: the stage
 * @error: return location for a #GError
 *
 * Registers @stage under its id, replacing any stage registered under that
 * id. The executor keeps a reference to @stage; its code, language and
 * effects cannot change, and its
 * [property@NixExec.Stage:keep-alive-secs] is read at each call.
 *
 * Returns: %TRUE on success; %FALSE with %NIX_EXEC_ERROR_INVALID_STAGE when
 *   the id or the code is empty or not UTF-8, or the language is not
 *   supported
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_add_stage (NixExecExecutor  *self,
                             NixExecStage     *stage,
                             GError          **error)
{
  g_autoptr(NixExecPrepared) prepared = NULL;
  gboolean disposed;
  char *id;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (stage), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* What only fails when the stage runs (a bad `# requires:`) is kept, and
   * reported by each call. */
  prepared = nix_exec_prepared_new (stage);
  if (prepared->not_a_stage)
    {
      g_propagate_error (error, g_error_copy (prepared->invalid));
      return FALSE;
    }

  id = g_strdup (prepared->id);
  g_mutex_lock (&self->lock);
  disposed = self->disposed;
  if (!disposed)
    g_hash_table_replace (self->stages, id, g_steal_pointer (&prepared));
  g_mutex_unlock (&self->lock);

  if (disposed)
    {
      g_free (id);
      return check_usable (self, error);
    }
  return TRUE;
}

/**
 * nix_exec_executor_register_with_effects:
 * @self: a #NixExecExecutor
 * @stage_id: the id to run the stage by
 * @code: the stage's source code, which must define `execute`
 * @language: the language tag: `python` or `python3`, `javascript` or `js`,
 *   `bash` or `sh`, in any case
 * @effects: (nullable): the effects the stage declares, or %NULL for
 *   unknown effects
 * @error: return location for a #GError
 *
 * Registers a stage, replacing any stage registered under @stage_id: a
 * shorthand for [method@NixExec.Executor.add_stage] with a new
 * [class@NixExec.Stage].
 *
 * Returns: %TRUE on success; %FALSE with %NIX_EXEC_ERROR_INVALID_STAGE when
 *   the id or the code is empty or the language is not supported
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_register_with_effects (NixExecExecutor   *self,
                                         const char        *stage_id,
                                         const char        *code,
                                         const char        *language,
                                         NixExecEffectSet  *effects,
                                         GError           **error)
{
  g_autoptr(NixExecStage) stage = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);
  g_return_val_if_fail (stage_id != NULL, FALSE);
  g_return_val_if_fail (code != NULL, FALSE);
  g_return_val_if_fail (language != NULL, FALSE);
  g_return_val_if_fail (effects == NULL || NIX_EXEC_IS_EFFECT_SET (effects), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  stage = nix_exec_stage_new (stage_id, code, language, effects);
  return nix_exec_executor_add_stage (self, stage, error);
}

/**
 * nix_exec_executor_has_implementation:
 * @self: a #NixExecExecutor
 * @stage_id: a stage id
 *
 * Tells whether a stage is registered under @stage_id.
 *
 * Returns: %TRUE when the executor has code for @stage_id
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_has_implementation (NixExecExecutor *self,
                                      const char      *stage_id)
{
  gboolean found;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);
  g_return_val_if_fail (stage_id != NULL, FALSE);

  g_mutex_lock (&self->lock);
  found = g_hash_table_contains (self->stages, stage_id);
  g_mutex_unlock (&self->lock);

  return found;
}

static int
compare_string_pointers (const void *a,
                         const void *b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/**
 * nix_exec_executor_list_stage_ids:
 * @self: a #NixExecExecutor
 *
 * Lists the ids of the registered stages, sorted.
 *
 * Returns: (transfer full) (array zero-terminated=1): the stage ids
 *
 * Since: 1.0
 */
char **
nix_exec_executor_list_stage_ids (NixExecExecutor *self)
{
  g_autofree const char **keys = NULL;
  char **ids;
  guint n_keys;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);

  g_mutex_lock (&self->lock);
  keys = (const char **) g_hash_table_get_keys_as_array (self->stages, &n_keys);
  ids = g_new0 (char *, n_keys + 1);
  for (guint i = 0; i < n_keys; i++)
    ids[i] = g_strdup (keys[i]);
  g_mutex_unlock (&self->lock);

  qsort (ids, n_keys, sizeof (char *), compare_string_pointers);
  return ids;
}

static NixExecPrepared *
lookup_prepared (NixExecExecutor *self,
                 const char      *stage_id)
{
  NixExecPrepared *prepared;

  g_mutex_lock (&self->lock);
  prepared = g_hash_table_lookup (self->stages, stage_id);
  if (prepared != NULL)
    nix_exec_prepared_ref (prepared);
  g_mutex_unlock (&self->lock);

  return prepared;
}

/* ------------------------------------------------------------------------ */
/* Warmup                                                                   */
/* ------------------------------------------------------------------------ */

static void
emit_runtime_resolved (GTask                *task,
                       const NixExecRuntime *runtime)
{
  g_signal_emit (g_task_get_source_object (task), signals[SIGNAL_RUNTIME_RESOLVED], 0,
                 runtime->key, runtime->store_path);
}

/**
 * nix_exec_executor_warmup_async:
 * @self: a #NixExecExecutor
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when every runtime is resolved
 * @user_data: data for @callback
 *
 * Resolves, ahead of their first use, the runtimes that the registered
 * stages need: `python3`, `nodejs` and `bash`, as each is used. Nix may have
 * to evaluate, build or download them, which can take a while; calling this
 * at start-up overlaps that with the application's own start.
 *
 * The runtimes are resolved concurrently. Cancelling kills the nix
 * processes that no other call is waiting on.
 *
 * Since: 1.0
 */
void
nix_exec_executor_warmup_async (NixExecExecutor     *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GPtrArray) stages = NULL;
  g_autoptr(GError) error = NULL;
  GTask *task;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (NIX_EXEC_IS_EXECUTOR (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_executor_warmup_async);
  g_task_set_name (task, "[nixexec] warmup");
  if (!check_usable (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  stages = g_ptr_array_new_with_free_func ((GDestroyNotify) nix_exec_prepared_unref);
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->stages);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (stages, nix_exec_prepared_ref (value));
  g_mutex_unlock (&self->lock);

  nix_exec_run_warmup (self->env, stages, emit_runtime_resolved, task);
}

/**
 * nix_exec_executor_warmup_finish:
 * @self: a #NixExecExecutor
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@NixExec.Executor.warmup_async].
 *
 * Returns: %TRUE when every runtime was resolved; %FALSE with the first
 *   failure otherwise (a `NIX_EXEC_ERROR_NIX_*` code, or
 *   %G_IO_ERROR_CANCELLED)
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_warmup_finish (NixExecExecutor  *self,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The one implementation behind every execute call: answers @task (taken)
 * with a NixExecResult. */
static void
execute_start (NixExecExecutor *self,
               const char      *stage_id,
               JsonNode        *input,
               GTask           *task)
{
  g_autoptr(NixExecPrepared) prepared = NULL;
  g_autoptr(GBytes) input_bytes = NULL;
  g_autoptr(GError) error = NULL;
  char *input_text;

  if (!check_usable (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  prepared = lookup_prepared (self, stage_id);
  if (prepared == NULL)
    {
      g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_NOT_FOUND,
                               "No stage “%s” is registered with this executor", stage_id);
      g_object_unref (task);
      return;
    }

  /* The caller's node is read here, on the caller's thread, and only here. */
  input_text = nix_exec_json_write (input, FALSE, &error);
  if (input_text == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The input of stage “%s” cannot be passed as JSON: %s",
                               stage_id, error->message);
      g_object_unref (task);
      return;
    }
  input_bytes = g_bytes_new_take (input_text, strlen (input_text));
  nix_exec_run_start (self->env, prepared, input_bytes, task);
}

/**
 * nix_exec_executor_execute_async:
 * @self: a #NixExecExecutor
 * @stage_id: the id of a registered stage
 * @input: (nullable): the input value; %NULL is the JSON value `null`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the stage has finished
 * @user_data: data for @callback
 *
 * Runs a stage on @input. The first call for a language resolves its runtime
 * (see [method@NixExec.Executor.warmup_async]); later calls exec the
 * resolved interpreter directly.
 *
 * [property@NixExec.Config:timeout-secs] limits the stage's own run; the
 * `nix build` that resolves a runtime on first use has no deadline, since a
 * first download can take long (cancel it with @cancellable, or resolve
 * runtimes ahead with [method@NixExec.Executor.warmup_async]).
 *
 * No thread is started per call: the child process is watched by the
 * library's one I/O thread, and @callback is called on the thread-default
 * main context of the caller, so many calls can run at once from one main
 * loop, and the stage runs to its end whether or not that context is
 * iterated meanwhile. Calls from every thread share
 * [property@NixExec.Config:max-concurrency] and the warm workers.
 * Cancelling @cancellable kills the stage with SIGKILL — its whole
 * pid namespace when it is sandboxed, its whole process group otherwise —
 * and the call reports %G_IO_ERROR_CANCELLED. A sandboxed call completes
 * only once nothing the stage started is left.
 *
 * Since: 1.0
 */
void
nix_exec_executor_execute_async (NixExecExecutor     *self,
                                 const char          *stage_id,
                                 JsonNode            *input,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (NIX_EXEC_IS_EXECUTOR (self));
  g_return_if_fail (stage_id != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_executor_execute_async);
  g_task_set_name (task, "[nixexec] execute");
  execute_start (self, stage_id, input, task);
}

/**
 * nix_exec_executor_execute_finish:
 * @self: a #NixExecExecutor
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@NixExec.Executor.execute_async].
 *
 * Returns: (transfer full): the stage's result, or %NULL with an error: in
 *   the %NIX_EXEC_ERROR domain for the stage's and nix's failures,
 *   %G_IO_ERROR_CANCELLED when cancelled, %G_IO_ERROR_INVALID_ARGUMENT when
 *   @input cannot be written as JSON (nested deeper than 512 levels, or
 *   holding an infinite number or a string that is not UTF-8), or a
 *   %G_FILE_ERROR or %G_IO_ERROR when the script cache directory cannot be
 *   used
 *
 * Since: 1.0
 */
JsonNode *
nix_exec_executor_execute_finish (NixExecExecutor  *self,
                                  GAsyncResult     *result,
                                  GError          **error)
{
  g_autoptr(NixExecResult) full = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == nix_exec_executor_execute_async,
                        NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  full = g_task_propagate_pointer (G_TASK (result), error);
  if (full == NULL)
    return NULL;
  return json_node_ref (nix_exec_result_get_output (full));
}

/**
 * nix_exec_executor_execute_full_async:
 * @self: a #NixExecExecutor
 * @stage_id: the id of a registered stage
 * @input: (nullable): the input value; %NULL is the JSON value `null`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the stage has finished
 * @user_data: data for @callback
 *
 * Like [method@NixExec.Executor.execute_async], but the result carries its
 * provenance as well as the output: the runtime store path and the locked
 * flake URL that ran the stage, how long it ran, its exit status and what
 * it logged. See [class@NixExec.Result].
 *
 * Since: 1.0
 */
void
nix_exec_executor_execute_full_async (NixExecExecutor     *self,
                                      const char          *stage_id,
                                      JsonNode            *input,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (NIX_EXEC_IS_EXECUTOR (self));
  g_return_if_fail (stage_id != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_executor_execute_full_async);
  g_task_set_name (task, "[nixexec] execute full");
  execute_start (self, stage_id, input, task);
}

/**
 * nix_exec_executor_execute_full_finish:
 * @self: a #NixExecExecutor
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@NixExec.Executor.execute_full_async].
 *
 * Returns: (transfer full): the result, or %NULL with an error as for
 *   [method@NixExec.Executor.execute_finish]
 *
 * Since: 1.0
 */
NixExecResult *
nix_exec_executor_execute_full_finish (NixExecExecutor  *self,
                                       GAsyncResult     *result,
                                       GError          **error)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        nix_exec_executor_execute_full_async, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_sync_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* The blocking calls: the one async implementation, waited for on a
 * private main context, which only its answer reaches (the run itself is on
 * the I/O thread). @source_tag says which finish function applies. */
static GAsyncResult *
execute_blocking (NixExecExecutor *self,
                  const char      *stage_id,
                  JsonNode        *input,
                  GCancellable    *cancellable,
                  gpointer         source_tag)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  GAsyncResult *result = NULL;
  GTask *task;

  g_main_context_push_thread_default (context);
  task = g_task_new (self, cancellable, on_sync_done, &result);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[nixexec] execute (blocking)");
  execute_start (self, stage_id, input, task);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  return result;
}

/**
 * nix_exec_executor_execute:
 * @self: a #NixExecExecutor
 * @stage_id: the id of a registered stage
 * @input: (nullable): the input value; %NULL is the JSON value `null`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a stage on @input and waits for its result. This blocks the calling
 * thread: in a GUI, use [method@NixExec.Executor.execute_async].
 *
 * Cancelling @cancellable from another thread kills the stage with SIGKILL
 * — its whole pid namespace when it is sandboxed, its whole process group
 * otherwise — and the call reports %G_IO_ERROR_CANCELLED.
 *
 * Returns: (transfer full): the stage's result, or %NULL with an error: in
 *   the %NIX_EXEC_ERROR domain for the stage's and nix's failures,
 *   %G_IO_ERROR_CANCELLED when cancelled, %G_IO_ERROR_INVALID_ARGUMENT when
 *   @input cannot be written as JSON (nested deeper than 512 levels, or
 *   holding an infinite number or a string that is not UTF-8), or a
 *   %G_FILE_ERROR or %G_IO_ERROR when the script cache directory cannot be
 *   used
 *
 * Since: 1.0
 */
JsonNode *
nix_exec_executor_execute (NixExecExecutor  *self,
                           const char       *stage_id,
                           JsonNode         *input,
                           GCancellable     *cancellable,
                           GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);
  g_return_val_if_fail (stage_id != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  result = execute_blocking (self, stage_id, input, cancellable,
                             nix_exec_executor_execute_async);
  return nix_exec_executor_execute_finish (self, result, error);
}

/**
 * nix_exec_executor_execute_full:
 * @self: a #NixExecExecutor
 * @stage_id: the id of a registered stage
 * @input: (nullable): the input value; %NULL is the JSON value `null`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like [method@NixExec.Executor.execute], with the provenance of the
 * result: see [method@NixExec.Executor.execute_full_async].
 *
 * Returns: (transfer full): the result, or %NULL with an error as for
 *   [method@NixExec.Executor.execute]
 *
 * Since: 1.0
 */
NixExecResult *
nix_exec_executor_execute_full (NixExecExecutor  *self,
                                const char       *stage_id,
                                JsonNode         *input,
                                GCancellable     *cancellable,
                                GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);
  g_return_val_if_fail (stage_id != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  result = execute_blocking (self, stage_id, input, cancellable,
                             nix_exec_executor_execute_full_async);
  return nix_exec_executor_execute_full_finish (self, result, error);
}

/* ------------------------------------------------------------------------ */
/* Pinning                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * nix_exec_executor_dup_locked_flake_url:
 * @self: a #NixExecExecutor
 *
 * Gets the locked URL of the flake the executor's runtimes come from, as
 * `nix flake metadata` reported it when the first runtime was resolved (or
 * as a loaded lock file records it). Every runtime of the executor is
 * built from this one URL until [method@NixExec.Executor.refresh_async].
 *
 * Returns: (transfer full) (nullable): the locked flake URL, or %NULL
 *   before any runtime was resolved, and with host runtimes
 *
 * Since: 1.0
 */
char *
nix_exec_executor_dup_locked_flake_url (NixExecExecutor *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), NULL);

  if (self->env == NULL)
    return NULL;
  return nix_exec_runtimes_dup_locked_url (self->env->runtimes);
}

/**
 * nix_exec_executor_export_lock:
 * @self: a #NixExecExecutor
 * @path: (type filename): where to write the lock file
 * @error: return location for a #GError
 *
 * Writes a lock file: the locked flake URL, the nix system, and the store
 * path of every runtime resolved so far (call
 * [method@NixExec.Executor.warmup_async] first to include every runtime the
 * stages need). Another executor given this file as
 * [property@NixExec.Config:lock-file] runs the same store paths.
 *
 * The file is JSON:
 * `{"version": 1, "flake": "<locked URL>", "system": "x86_64-linux",
 * "runtimes": {"python3": "/nix/store/…", …}}`. It is written atomically.
 *
 * Returns: %TRUE on success; %FALSE with %NIX_EXEC_ERROR_INVALID_LOCK_FILE
 *   when nothing was resolved yet, or a %G_FILE_ERROR
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_export_lock (NixExecExecutor  *self,
                               const char       *path,
                               GError          **error)
{
  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_usable (self, error))
    return FALSE;
  return nix_exec_runtimes_write_lock (self->env->runtimes, path, error);
}

/**
 * nix_exec_executor_refresh_async:
 * @self: a #NixExecExecutor
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the runtimes are resolved again
 * @user_data: data for @callback
 *
 * Forgets the locked flake URL and every resolved runtime — also the lock
 * kept in the cache directory for later executors — and resolves the
 * runtimes the stages need again, from what
 * [property@NixExec.Config:flake-ref] points at now. This is how runtimes
 * are updated: until then, the executor runs the same store paths.
 *
 * Since: 1.0
 */
void
nix_exec_executor_refresh_async (NixExecExecutor     *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (NIX_EXEC_IS_EXECUTOR (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (self->env != NULL)
    nix_exec_runtimes_reset (self->env->runtimes);
  nix_exec_executor_warmup_async (self, cancellable, callback, user_data);
}

/**
 * nix_exec_executor_refresh_finish:
 * @self: a #NixExecExecutor
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@NixExec.Executor.refresh_async].
 *
 * Returns: %TRUE when every runtime was resolved again
 *
 * Since: 1.0
 */
gboolean
nix_exec_executor_refresh_finish (NixExecExecutor  *self,
                                  GAsyncResult     *result,
                                  GError          **error)
{
  return nix_exec_executor_warmup_finish (self, result, error);
}
