/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How a stage runs:
 *
 *  1. The stage is looked up and its language parsed; the wrapped script is
 *     written once to the content-addressed script cache.
 *  2. The language's runtime is resolved once per executor: `nix build
 *     --json --out-link <cache>/gcroots/…` on `<flake-ref>#<attr>` gives a
 *     store path; concurrent calls that need the same runtime on the same
 *     main context share one nix process. Nix failures are classified from
 *     nix's own output here, before any stage has run.
 *  3. `<store path>/bin/<interpreter> <script>` runs as a child (see
 *     nixexec-child.c): input JSON on stdin, one JSON value on stdout, under
 *     the deadline and caps of the config. When isolation is active, the
 *     child is bwrap, with a sandbox derived from the stage's effects (see
 *     nixexec-sandbox.c); nix itself never runs inside it, so the sandbox
 *     needs neither the daemon socket nor the network to reach a runtime,
 *     and any nix works, a distribution's /usr/bin/nix included.
 *  4. With keep-alive-secs > 0 the same script runs as a warm worker
 *     (nixexec-worker.c): `<interpreter> <script> --nixexec-worker`, serving
 *     one call at a time over frames. The pool (self->workers, under the
 *     lock) keys workers by interpreter and script path, which covers the
 *     code and the language, and the effects when sandboxed. One function,
 *     stage_command(), builds the command of both paths, so a worker runs
 *     in the same bwrap sandbox as a one-shot call would (see
 *     nixexec-worker.c for how it is killed). A worker is
 *     reused only from the main context that spawned it, since its I/O
 *     lives there; the sync entry points therefore use one persistent
 *     private context per thread when workers are on. Idle workers are
 *     reaped by a keep-alive source on their context, and also lazily at
 *     every acquire, from any context (killing needs no I/O), so a worker
 *     whose context is no longer iterated is not kept past its keep-alive
 *     by the next call. Over max-workers, the least recently used idle
 *     worker makes room; if all are busy the call runs one-shot. Responses
 *     are turned into the one-shot child's result shape and interpreted by
 *     the same code, so the errors are the same.
 *     A stage's own keep-alive-secs (>= 0) overrides the config's, per call.
 *
 * Isolation is decided once, when the executor is built: bwrap is found
 * and probed (once per process), and the executor either confines every
 * stage, fails to build (BWRAP, or AUTO with require-isolation), or runs
 * stages unconfined with a warning and isolation-active FALSE.
 *
 * Everything asynchronous runs on the thread-default main context of the
 * caller of the _async function, with no thread per call. The sync entry
 * points run the same code on a private main context.
 *
 * Thread safety: the registered stages and the resolved runtimes are behind
 * a mutex, so one executor may be shared between threads; the config is a
 * private copy that never changes after construction.
 */
#include "config.h"

#include <string.h>

#include "nixexec-child-private.h"
#include "nixexec-enums.h"
#include "nixexec-error.h"
#include "nixexec-executor.h"
#include "nixexec-pydeps-private.h"
#include "nixexec-result-private.h"
#include "nixexec-runtimes-private.h"
#include "nixexec-sandbox-private.h"
#include "nixexec-slots-private.h"
#include "nixexec-worker-private.h"
#include "nixexec-wrapper-private.h"

/**
 * NixExecExecutor:
 *
 * Runs stages — small Python, JavaScript or Bash programs that define
 * `execute(input)` — as child processes on Nix-pinned language runtimes.
 *
 * The input is passed to the stage as JSON on stdin and the stage's return
 * value comes back as JSON on stdout. Each call runs under the time limit and
 * output caps of the executor's [class@NixExec.Config].
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
 * ## Stage protocol
 *
 * - Python: `def execute(input)` or `async def execute(input)`.
 * - JavaScript: `function execute(input)`; a returned Promise is awaited.
 * - Bash: a function `execute`, called with the input JSON as `$1`; what it
 *   prints on stdout is the result.
 *
 * What Python and JavaScript stages print goes to stderr, so it cannot
 * corrupt the result: in Python everything written to file descriptor 1,
 * by the stage, by C code or by child processes; in JavaScript what goes
 * through `console`, `process.stdout` and `fs.write`/`fs.writeSync` on
 * descriptor 1 (a child process started with `stdio: 'inherit'` still
 * reaches the result channel).
 *
 * ## Process control and cancellation
 *
 * Every stage runs in a process group of its own and is killed with SIGKILL
 * if the process that started it dies. When the time limit passes, when the
 * stage writes more than [property@NixExec.Config:max-output-bytes], or when
 * the caller's [class@Gio.Cancellable] is cancelled, the whole process group
 * is killed with SIGKILL at once, and the call completes as soon as the
 * stage has been reaped — grandchildren holding the output pipe open do not
 * keep it waiting. Cancelling reports %G_IO_ERROR_CANCELLED.
 *
 * ## Warm workers
 *
 * With [property@NixExec.Config:keep-alive-secs] above 0, a stage's process
 * stays alive after a call and serves the next calls of that stage, up to
 * [property@NixExec.Config:max-workers] processes per executor. The same
 * limits apply per call; a worker that crashes, times out, goes over the
 * output cap or whose call is cancelled is killed and replaced by a fresh
 * one at the next call.
 *
 * ## Isolation
 *
 * By default ([property@NixExec.Config:isolation] is
 * %NIX_EXEC_ISOLATION_AUTO) every stage runs in a bubblewrap sandbox derived
 * from its declared effects, when bubblewrap is installed in a system path
 * and works on this host; it is probed once per process, when the first
 * executor is built. Inside, the stage runs as uid and gid 65534 without
 * capabilities, in fresh user, pid, ipc, uts, mount, cgroup and network
 * namespaces, in a new session; it sees `/nix/store` read-only, a private
 * empty `/work` (its working directory and `HOME`) and `/tmp`, its own
 * script, the paths it declares with `FsRead` (read-only) and `FsWrite`
 * (read-write), and [property@NixExec.Config:extra-ro-binds]; it has the
 * network only when it declares `Network`; and its environment is cleared
 * but for `PATH`, `LANG`, `LC_*` and the certificate variables. A stage
 * that declares nothing (`Unknown`) gets the tightest sandbox. Killing a
 * sandboxed stage kills its whole pid namespace: nothing it started
 * survives the call, not even a process in a session of its own.
 *
 * A declared path must be absolute and exist, and must not expose the home
 * directory, the script cache or the nix daemon's socket; otherwise the call
 * fails with %NIX_EXEC_ERROR_INVALID_EFFECTS before the stage runs.
 *
 * Where bubblewrap cannot be used, an %NIX_EXEC_ISOLATION_AUTO executor runs
 * stages unconfined — as the calling user, with that user's files, network
 * and environment — logs a warning once per process and reports
 * [property@NixExec.Executor:isolation-active] as %FALSE; with
 * [property@NixExec.Config:require-isolation], or with
 * %NIX_EXEC_ISOLATION_BWRAP, building the executor fails with
 * %NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE instead. Host interpreters
 * ([property@NixExec.Config:runtime-source]) are never sandboxed. See
 * `SECURITY.md` for what the sandbox does not block.
 *
 * Since: 1.0
 */
struct _NixExecExecutor
{
  GObject        parent_instance;

  NixExecConfig *config;   /* owned private copy, immutable after construction */
  char          *nix_path; /* owned */
  /* Set once by init, then immutable. */
  gboolean       isolation_active;
  char          *isolation_reason; /* owned; why not, NULL while active */
  char          *bwrap_path;  /* owned; NULL unless isolation is active */
  gboolean       bwrap_disable_userns;

  NixExecRuntimes *runtimes; /* owned; thread-safe on its own */
  NixExecSlots  *slots;    /* owned; thread-safe on its own */

  GMutex         lock;     /* guards every field below */
  GHashTable    *stages;   /* id (owned) → NixExecStage (owned) */
  GPtrArray     *workers;  /* WorkerEntry (owned): the warm workers, busy and idle */
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

static const char * const nix_search_paths[] = {
  "/nix/var/nix/profiles/default/bin/nix",
  "/run/current-system/sw/bin/nix",
};

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
  for (guint i = 0; i < G_N_ELEMENTS (nix_search_paths); i++)
    {
      if (g_file_test (nix_search_paths[i], G_FILE_TEST_IS_EXECUTABLE) &&
          !g_file_test (nix_search_paths[i], G_FILE_TEST_IS_DIR))
        return g_strdup (nix_search_paths[i]);
    }

  return g_find_program_in_path ("nix");
}

/* Decides, once, whether this executor confines its stages. */
static gboolean
init_isolation (NixExecExecutor  *self,
                GError          **error)
{
  NixExecIsolation isolation = nix_exec_config_get_isolation (self->config);
  g_autoptr(GError) probe_error = NULL;

  if (isolation == NIX_EXEC_ISOLATION_NONE)
    {
      self->isolation_reason = g_strdup ("isolation is NONE in the configuration");
      return TRUE;
    }

  /* Checked whether or not bwrap works here, so that a config is refused
   * on every host or on none. */
  if (!nix_exec_sandbox_check_extra_ro_binds (nix_exec_config_get_extra_ro_binds (self->config),
                                              nix_exec_config_get_cache_dir (self->config),
                                              error))
    return FALSE;

  if (nix_exec_config_get_runtime_source (self->config) == NIX_EXEC_RUNTIME_SOURCE_HOST)
    {
      g_set_error_literal (&probe_error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "host interpreters (runtime-source HOST) run outside the sandbox, "
                           "which confines nix store runtimes only");
    }
  else if (nix_exec_sandbox_probe (&self->bwrap_path, &self->bwrap_disable_userns, &probe_error))
    {
      self->isolation_active = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ISOLATION_ACTIVE]);
      return TRUE;
    }

  self->isolation_reason = g_strdup (probe_error->message);
  if (isolation == NIX_EXEC_ISOLATION_BWRAP ||
      nix_exec_config_get_require_isolation (self->config))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "Stages must run isolated, but cannot: %s", probe_error->message);
      return FALSE;
    }

  if (nix_exec_config_get_runtime_source (self->config) == NIX_EXEC_RUNTIME_SOURCE_HOST)
    g_warning ("Stages run WITHOUT isolation, with the rights of this process: %s",
               probe_error->message);
  else if (nix_exec_sandbox_claim_warning ())
    g_warning ("Stages run WITHOUT isolation, with the rights of this process: %s. "
               "Install bubblewrap, allow user namespaces, or set require-isolation "
               "to refuse to run stages unconfined.",
               probe_error->message);
  return TRUE;
}

static gboolean
nix_exec_executor_initable_init (GInitable     *initable,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (initable);
  const char *configured = nix_exec_config_get_nix_path (self->config);
  const char *lock_file = nix_exec_config_get_lock_file (self->config);

  if (self->runtimes != NULL)
    return TRUE;

  self->slots = nix_exec_slots_new (nix_exec_config_get_max_concurrency (self->config));

  if (nix_exec_config_get_runtime_source (self->config) == NIX_EXEC_RUNTIME_SOURCE_HOST)
    {
      /* An explicit opt-in, never a silent fallback: say so loudly. */
      g_warning ("runtime-source is HOST: stages run on this machine's own python3, node "
                 "and bash from PATH, not on runtimes pinned by nix");
      self->runtimes = nix_exec_runtimes_new (NULL, self->config);
      return init_isolation (self, error);
    }

  if (configured != NULL)
    {
      if (!g_path_is_absolute (configured) ||
          !g_file_test (configured, G_FILE_TEST_IS_EXECUTABLE) ||
          g_file_test (configured, G_FILE_TEST_IS_DIR))
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND,
                       "The nix binary “%s” set in the nix-path property is not an "
                       "executable file given by an absolute path",
                       configured);
          return FALSE;
        }
      self->nix_path = g_strdup (configured);
    }
  else
    {
      self->nix_path = nix_exec_executor_find_nix ();
      if (self->nix_path == NULL)
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND,
                       "Nix is not installed: no nix in %s, %s or PATH. Install Nix, "
                       "or set the nix-path property of the config",
                       nix_search_paths[0], nix_search_paths[1]);
          return FALSE;
        }
    }

  self->runtimes = nix_exec_runtimes_new (self->nix_path, self->config);
  if (lock_file != NULL && !nix_exec_runtimes_load_lock (self->runtimes, lock_file, error))
    {
      g_clear_object (&self->runtimes);
      return FALSE;
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NIX_PATH]);

  return init_isolation (self, error);
}

static void
nix_exec_executor_initable_iface_init (GInitableIface *iface)
{
  iface->init = nix_exec_executor_initable_init;
}

static void pool_shutdown (NixExecExecutor *self);

static void
nix_exec_executor_dispose (GObject *object)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  pool_shutdown (self);

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->stages, g_hash_table_unref);
  g_mutex_unlock (&self->lock);
  g_clear_object (&self->config);

  G_OBJECT_CLASS (nix_exec_executor_parent_class)->dispose (object);
}

static void
nix_exec_executor_finalize (GObject *object)
{
  NixExecExecutor *self = NIX_EXEC_EXECUTOR (object);

  g_clear_object (&self->runtimes);
  g_clear_pointer (&self->slots, nix_exec_slots_unref);
  g_clear_pointer (&self->workers, g_ptr_array_unref);
  g_free (self->nix_path);
  g_free (self->bwrap_path);
  g_free (self->isolation_reason);
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
      g_value_set_string (value, self->nix_path);
      break;

    case PROP_ISOLATION_ACTIVE:
      g_value_set_boolean (value, self->isolation_active);
      break;

    case PROP_ISOLATION_REASON:
      g_value_set_string (value, self->isolation_reason);
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
  self->stages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->workers = g_ptr_array_new ();
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
                            g_object_ref (stage));
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

  return self->nix_path;
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

  return self->isolation_active;
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

  return self->isolation_reason;
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
    g_hash_table_replace (rebuilt->stages, g_strdup (key), g_object_ref (value));
  g_mutex_unlock (&self->lock);

  return g_steal_pointer (&rebuilt);
}

static gboolean
is_blank (const char *text)
{
  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;
  return TRUE;
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
  const char *stage_id, *code;

  g_return_val_if_fail (NIX_EXEC_IS_EXECUTOR (self), FALSE);
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (stage), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  stage_id = nix_exec_stage_get_id (stage);
  code = nix_exec_stage_get_code (stage);

  if (stage_id == NULL || *stage_id == '\0')
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                           "A stage id must not be empty");
      return FALSE;
    }

  if (!g_utf8_validate (stage_id, -1, NULL) || code == NULL || !g_utf8_validate (code, -1, NULL))
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                           "A stage's id and code must be valid UTF-8");
      return FALSE;
    }

  if (!nix_exec_language_from_tag (nix_exec_stage_get_language (stage), NULL, error))
    return FALSE;

  if (is_blank (code))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                   "Stage “%s” has no code: it must define execute(input)", stage_id);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->stages, g_strdup (stage_id), g_object_ref (stage));
  g_mutex_unlock (&self->lock);

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

static NixExecStage *
lookup_stage (NixExecExecutor *self,
              const char      *stage_id)
{
  NixExecStage *stage;

  g_mutex_lock (&self->lock);
  stage = g_hash_table_lookup (self->stages, stage_id);
  if (stage != NULL)
    g_object_ref (stage);
  g_mutex_unlock (&self->lock);

  return stage;
}

/* The nixpkgs python3Packages a Python stage needs: what it imports, mapped
 * to attribute names, and what its `# requires:` lines name. NULL-terminated
 * and possibly empty; NULL with INVALID_STAGE for a bad `# requires:`. */
static GStrv
stage_python_packages (NixExecStage  *stage,
                       GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  GStrv packages;

  packages = nix_exec_pydeps_resolve (nix_exec_stage_get_code (stage), &local_error);
  if (packages == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                   "Stage “%s”: %s", nix_exec_stage_get_id (stage), local_error->message);
      return NULL;
    }
  return packages;
}

/* ------------------------------------------------------------------------ */
/* Warmup                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct
{
  guint   pending;
  GError *error;  /* the first failure, owned */
} WarmupData;

static void
warmup_data_free (WarmupData *data)
{
  g_clear_error (&data->error);
  g_free (data);
}

static void
on_warmup_resolved (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WarmupData *data = g_task_get_task_data (task);
  g_autoptr(NixExecRuntime) runtime = NULL;
  g_autoptr(GError) error = NULL;

  runtime = nix_exec_runtimes_resolve_finish (NIX_EXEC_RUNTIMES (object), result, &error);
  if (runtime != NULL)
    g_signal_emit (g_task_get_source_object (task), signals[SIGNAL_RUNTIME_RESOLVED], 0,
                   runtime->key, runtime->store_path);
  if (runtime == NULL && data->error == NULL)
    data->error = g_steal_pointer (&error);

  if (--data->pending > 0)
    return;

  if (data->error != NULL)
    g_task_return_error (task, g_steal_pointer (&data->error));
  else
    g_task_return_boolean (task, TRUE);
}

typedef struct
{
  NixExecLanguage  language;
  GStrv            packages;  /* owned; NULL but for Python */
} NeededRuntime;

static void
needed_runtime_free (NeededRuntime *runtime)
{
  g_strfreev (runtime->packages);
  g_free (runtime);
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
  g_autoptr(GTask) task = NULL;
  /* runtime key → what resolves it; each distinct runtime is resolved once */
  g_autoptr(GHashTable) needed = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                         g_free, (GDestroyNotify) needed_runtime_free);
  WarmupData *data;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (NIX_EXEC_IS_EXECUTOR (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_executor_warmup_async);
  g_task_set_name (task, "[nixexec] warmup");

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->stages);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NixExecLanguage language;
      NeededRuntime *runtime;
      g_auto(GStrv) packages = NULL;

      if (!nix_exec_language_from_tag (nix_exec_stage_get_language (value), &language, NULL))
        continue;
      /* A stage with a bad `# requires:` fails when it runs, with its own
       * message; it does not stop the other runtimes from warming up. */
      if (language == NIX_EXEC_LANGUAGE_PYTHON &&
          (packages = stage_python_packages (value, NULL)) == NULL)
        continue;
      runtime = g_new0 (NeededRuntime, 1);
      runtime->language = language;
      runtime->packages = g_steal_pointer (&packages);
      g_hash_table_replace (needed,
                            nix_exec_runtimes_key (language,
                                                   (const char * const *) runtime->packages),
                            runtime);
    }
  g_mutex_unlock (&self->lock);

  data = g_new0 (WarmupData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) warmup_data_free);

  /* Count first, then start: a runtime already resolved answers at once. */
  data->pending = g_hash_table_size (needed);
  if (data->pending == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  g_hash_table_iter_init (&iter, needed);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NeededRuntime *runtime = value;

      nix_exec_runtimes_resolve_async (self->runtimes, runtime->language,
                                       (const char * const *) runtime->packages,
                                       cancellable, on_warmup_resolved, g_object_ref (task));
    }
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

/* ------------------------------------------------------------------------ */
/* Execution                                                                */
/* ------------------------------------------------------------------------ */

typedef struct
{
  NixExecStage    *stage;        /* owned */
  NixExecLanguage  language;
  char            *script_path;  /* owned */
  GBytes          *input;        /* owned */
  GStrv            python_packages; /* owned, NULL but for Python */
  NixExecRuntime  *runtime;      /* owned, once resolved */
  NixExecSlots    *slot;         /* owned while the stage holds a slot */
  NixExecWorker   *worker;       /* owned while a warm worker serves the call */
  gboolean         sync;         /* a blocking call: takes no slot */
  gboolean         sandboxed;    /* the child is bwrap */
} ExecuteData;

static void
execute_data_free (ExecuteData *data)
{
  g_clear_object (&data->stage);
  g_free (data->script_path);
  g_clear_pointer (&data->input, g_bytes_unref);
  g_clear_pointer (&data->runtime, nix_exec_runtime_free);
  g_strfreev (data->python_packages);
  g_clear_pointer (&data->worker, nix_exec_worker_unref);
  if (data->slot != NULL)
    {
      nix_exec_slots_release (data->slot);
      nix_exec_slots_unref (data->slot);
    }
  g_free (data);
}

/* ------------------------------------------------------------------------ */
/* Warm workers                                                             */
/* ------------------------------------------------------------------------ */

static gboolean stage_command (NixExecExecutor  *self,
                               ExecuteData      *data,
                               gboolean          worker,
                               GStrv            *out_argv,
                               GBytes          **out_options,
                               GError          **error);

/* One warm worker in the pool. Entries are only touched under self->lock. */
typedef struct
{
  NixExecWorker *worker;      /* owned */
  char          *key;         /* owned: which stage and runtime it serves */
  gboolean       busy;        /* TRUE while a call holds it */
  gint64         last_used;   /* monotonic µs, when it last became idle */
  guint          keep_alive_secs; /* how long it may stay idle */
  GSource       *reap_source; /* owned, attached to the worker's context while idle */
} WorkerEntry;

static GPrivate sync_context_key = G_PRIVATE_INIT ((GDestroyNotify) g_main_context_unref);

static void
worker_entry_free (WorkerEntry *entry)
{
  if (entry->reap_source != NULL)
    {
      g_source_destroy (entry->reap_source);
      g_source_unref (entry->reap_source);
    }
  nix_exec_worker_unref (entry->worker);
  g_free (entry->key);
  g_free (entry);
}

/* What a worker can be reused for: the same wrapped script (so the same
 * code and language) on the same interpreter, and when it is sandboxed, the
 * same effects, from which its sandbox is derived. */
static char *
worker_key (NixExecExecutor *self,
            ExecuteData     *data)
{
  g_autofree char *effects = NULL;

  if (self->isolation_active)
    effects = nix_exec_effect_set_to_string (nix_exec_stage_get_effects (data->stage));
  return g_strconcat (data->runtime->interpreter, "\n", data->script_path, "\n",
                      effects != NULL ? effects : "", NULL);
}

/* Kills and forgets entry @i; called with the lock held. */
static void
pool_remove_locked (NixExecExecutor *self,
                    guint            i)
{
  WorkerEntry *entry = g_ptr_array_steal_index_fast (self->workers, i);

  nix_exec_worker_kill (entry->worker);
  worker_entry_free (entry);
}

/* Drops dead workers and idle ones past their keep-alive, on any context:
 * killing takes no I/O, and the child watch on the worker's own context (or
 * GLib's, if that context is never iterated again) reaps the process. */
static void
pool_reap_locked (NixExecExecutor *self,
                  gint64           now)
{
  for (guint i = self->workers->len; i-- > 0;)
    {
      WorkerEntry *entry = g_ptr_array_index (self->workers, i);

      if (entry->busy)
        continue;
      if (!nix_exec_worker_is_alive (entry->worker) ||
          now - entry->last_used >= (gint64) entry->keep_alive_secs * G_USEC_PER_SEC)
        pool_remove_locked (self, i);
    }
}

static gboolean
on_reap_timeout (gpointer user_data)
{
  g_autoptr(NixExecExecutor) self = g_weak_ref_get (user_data);

  if (self == NULL)
    return G_SOURCE_REMOVE;

  g_mutex_lock (&self->lock);
  /* The entry that owns this source may be freed right here: touch only
   * the pool, never the source. */
  pool_reap_locked (self, g_get_monotonic_time ());
  g_mutex_unlock (&self->lock);
  return G_SOURCE_REMOVE;
}

static void
weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

/* A worker for this call, running on @context (the caller's): an idle one
 * that serves the same stage, or a new one. NULL without @error when the
 * pool is full of busy workers (the caller runs a one-shot process), NULL
 * with @error when a worker could not be started. */
static NixExecWorker *
pool_acquire (NixExecExecutor  *self,
              ExecuteData      *data,
              guint             keep_alive_secs,
              GMainContext     *context,
              GError          **error)
{
  g_autofree char *key = worker_key (self, data);
  guint max_workers = nix_exec_config_get_max_workers (self->config);
  g_auto(GStrv) argv = NULL;
  g_autoptr(GBytes) options = NULL;
  NixExecWorker *worker = NULL;
  WorkerEntry *entry;
  guint lru = G_MAXUINT;

  g_mutex_lock (&self->lock);
  pool_reap_locked (self, g_get_monotonic_time ());

  for (guint i = 0; i < self->workers->len; i++)
    {
      entry = g_ptr_array_index (self->workers, i);
      if (entry->busy || !nix_exec_worker_is_alive (entry->worker))
        continue;
      /* A worker's I/O runs on the context that spawned it. */
      if (nix_exec_worker_get_context (entry->worker) == context && g_str_equal (entry->key, key))
        {
          entry->busy = TRUE;
          entry->keep_alive_secs = keep_alive_secs;
          if (entry->reap_source != NULL)
            {
              g_source_destroy (entry->reap_source);
              g_clear_pointer (&entry->reap_source, g_source_unref);
            }
          worker = nix_exec_worker_ref (entry->worker);
          g_mutex_unlock (&self->lock);
          return worker;
        }
      if (lru == G_MAXUINT ||
          entry->last_used < ((WorkerEntry *) g_ptr_array_index (self->workers, lru))->last_used)
        lru = i;
    }

  if (self->workers->len >= max_workers)
    {
      if (lru == G_MAXUINT || max_workers == 0)
        {
          g_mutex_unlock (&self->lock);
          return NULL;
        }
      /* Make room: the least recently used idle worker of another stage. */
      pool_remove_locked (self, lru);
    }

  if (stage_command (self, data, TRUE, &argv, &options, error))
    {
      const char * const no_environ[] = { NULL };

      /* Sandboxed, bwrap starts with an empty environment, as one-shot. */
      worker = nix_exec_worker_spawn ((const char * const *) argv,
                                      data->sandboxed ? no_environ : NULL, options, error);
    }
  if (worker != NULL)
    {
      entry = g_new0 (WorkerEntry, 1);
      entry->worker = nix_exec_worker_ref (worker);
      entry->key = g_steal_pointer (&key);
      entry->busy = TRUE;
      entry->keep_alive_secs = keep_alive_secs;
      g_ptr_array_add (self->workers, entry);
    }
  g_mutex_unlock (&self->lock);

  return worker;
}

/* A call on @worker is over: it goes back to the idle list, or out of the
 * pool when the call killed it. */
static void
pool_release (NixExecExecutor *self,
              NixExecWorker   *worker)
{
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->workers->len; i++)
    {
      WorkerEntry *entry = g_ptr_array_index (self->workers, i);
      GWeakRef *ref;

      if (entry->worker != worker)
        continue;

      if (!nix_exec_worker_is_alive (worker))
        {
          pool_remove_locked (self, i);
          break;
        }

      entry->busy = FALSE;
      entry->last_used = g_get_monotonic_time ();
      ref = g_new0 (GWeakRef, 1);
      g_weak_ref_init (ref, self);
      /* Not g_timeout_source_new_seconds(): it may fire up to a second
       * early, before the worker counts as expired. */
      entry->reap_source =
        g_timeout_source_new (MIN (entry->keep_alive_secs, G_MAXUINT / 1000 - 1) * 1000 + 1);
      g_source_set_callback (entry->reap_source, on_reap_timeout, ref,
                             (GDestroyNotify) weak_ref_free);
      g_source_set_static_name (entry->reap_source, "[nixexec] worker keep-alive");
      g_source_attach (entry->reap_source, nix_exec_worker_get_context (worker));
      break;
    }
  g_mutex_unlock (&self->lock);
}

/* Kills every worker. Those on this thread's private sync context are also
 * reaped here, since nothing else may iterate that context again; the
 * others are reaped by their own context. */
static void
pool_shutdown (NixExecExecutor *self)
{
  GMainContext *sync_context = g_private_get (&sync_context_key);
  g_autoptr(GPtrArray) waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) nix_exec_worker_unref);

  g_mutex_lock (&self->lock);
  if (self->workers != NULL)
    {
      while (self->workers->len > 0)
        {
          WorkerEntry *entry = g_ptr_array_index (self->workers, self->workers->len - 1);

          if (sync_context != NULL && nix_exec_worker_get_context (entry->worker) == sync_context)
            g_ptr_array_add (waiting, nix_exec_worker_ref (entry->worker));
          pool_remove_locked (self, self->workers->len - 1);
        }
    }
  g_mutex_unlock (&self->lock);

  if (waiting->len > 0 && g_main_context_acquire (sync_context))
    {
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      for (guint i = 0; i < waiting->len; i++)
        while (!nix_exec_worker_is_reaped (g_ptr_array_index (waiting, i)) &&
               g_get_monotonic_time () < deadline)
          {
            if (!g_main_context_iteration (sync_context, FALSE))
              g_usleep (1000);
          }
      g_main_context_release (sync_context);
    }
}

/* The stage's own keep-alive, or the config's. */
static guint
stage_keep_alive_secs (NixExecExecutor *self,
                       NixExecStage    *stage)
{
  int secs = nix_exec_stage_get_keep_alive_secs (stage);

  return secs >= 0 ? (guint) secs : nix_exec_config_get_keep_alive_secs (self->config);
}

/* The private context of the sync entry points. With warm workers it is one
 * per thread and lives as long as the thread, so that repeated sync calls
 * on a thread find their workers again; otherwise, a fresh one per call. */
static GMainContext *
sync_context_get (NixExecExecutor *self,
                  const char      *stage_id)
{
  g_autoptr(NixExecStage) stage = lookup_stage (self, stage_id);
  GMainContext *context;

  if ((stage != NULL ? stage_keep_alive_secs (self, stage)
                     : nix_exec_config_get_keep_alive_secs (self->config)) == 0)
    return g_main_context_new ();

  context = g_private_get (&sync_context_key);
  if (context == NULL)
    {
      context = g_main_context_new ();
      g_private_set (&sync_context_key, context);
    }
  return g_main_context_ref (context);
}

/* The last lines of what the stage wrote on stderr, for an error message. */
static char *
stderr_excerpt (NixExecChildResult *child)
{
  gsize length;
  const char *data = g_bytes_get_data (child->stderr_bytes, &length);
  g_autofree char *text = NULL;
  const char *start;
  gsize limit = 4000;

  if (length == 0)
    return g_strdup ("(nothing on stderr)");

  text = g_utf8_make_valid (data, length);
  g_strstrip (text);
  start = text;
  if (strlen (text) > limit)
    {
      start = text + strlen (text) - limit;
      while (*start != '\0' && (*start & 0xC0) == 0x80)
        start++;
      return g_strconcat ("[…] ", start, NULL);
    }
  return g_strdup (start);
}

static const char *
object_get_string (JsonObject *object,
                   const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The wrapper's own account of a failure (NIX_EXEC_WRAPPER_REPORT_STATUS),
 * or NULL when stdout does not hold one. */
static GError *
error_from_report (const char         *stage_id,
                   NixExecChildResult *child)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize length;
  const char *data = g_bytes_get_data (child->stdout_bytes, &length);
  JsonNode *root;
  JsonObject *report;
  const char *kind, *type, *message, *traceback;
  g_autofree char *label = NULL;

  if (length == 0 || !json_parser_load_from_data (parser, data, length, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;

  report = json_node_get_object (root);
  kind = object_get_string (report, "kind");
  type = object_get_string (report, "type");
  message = object_get_string (report, "message");
  traceback = object_get_string (report, "traceback");
  if (kind == NULL)
    return NULL;
  if (message == NULL)
    message = "";

  label = type != NULL && *type != '\0' ? g_strdup_printf ("%s: %s", type, message)
                                        : g_strdup (message);

  if (g_str_equal (kind, "no-execute"))
    return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                        "Stage “%s” defines no top-level execute(input) function%s%s",
                        stage_id, *message != '\0' ? ": " : "", message);
  if (g_str_equal (kind, "syntax"))
    return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                        "Stage “%s” does not compile: %s", stage_id, label);
  if (g_str_equal (kind, "bad-result"))
    return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                        "Stage “%s” returned a value that cannot be written as JSON: %s",
                        stage_id, label);
  if (g_str_equal (kind, "exception"))
    {
      if (traceback != NULL && *traceback != '\0')
        return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                            "Stage “%s” raised %s\n\n%s", stage_id, label, traceback);
      return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                          "Stage “%s” raised %s", stage_id, label);
    }

  return NULL;
}

/* json-glib 1.6 accepts "{} {}" as one document: find where the first value
 * ends, so that anything but white space after it can be refused. The text
 * is known to start with a valid value (the parser said so). */
static gboolean
has_trailing_content (const char *text,
                      gsize       length)
{
  gsize i = 0;
  int depth = 0;
  gboolean in_string = FALSE;

  gsize start;

  while (i < length && g_ascii_isspace (text[i]))
    i++;
  start = i;

  for (; i < length; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            {
              in_string = FALSE;
              if (depth == 0)
                {
                  i++;
                  break;
                }
            }
          continue;
        }

      /* At depth 0 inside a scalar (a number, true, false, null), any
       * character that cannot continue it ends the value. */
      if (depth == 0 && i > start &&
          (g_ascii_isspace (c) || strchr ("{[\"", c) != NULL))
        break;

      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        depth++;
      else if (c == '}' || c == ']')
        {
          if (--depth == 0)
            {
              i++;
              break;
            }
        }
    }

  for (; i < length; i++)
    if (!g_ascii_isspace (text[i]))
      return TRUE;
  return FALSE;
}

static JsonNode *
interpret_child_result (NixExecExecutor     *self,
                        ExecuteData         *data,
                        NixExecChildResult  *child,
                        GError             **error)
{
  const char *stage_id = nix_exec_stage_get_id (data->stage);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) parse_error = NULL;
  gsize length;
  const char *output;

  int term_signal = child->term_signal;

  /* bwrap reports the stage's death by signal N as its own exit status
   * 128 + N, as shells do; a stage that exits with such a status on purpose
   * is reported the same way. */
  if (!child->exited ||
      (data->sandboxed && nix_exec_sandbox_exit_status_is_signal (child->exit_status, &term_signal)))
    {
      g_autofree char *excerpt = stderr_excerpt (child);

      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                   "Stage “%s” was killed by signal %d (%s): %s",
                   stage_id, term_signal, g_strsignal (term_signal), excerpt);
      return NULL;
    }

  if (child->exit_status != 0)
    {
      g_autofree char *excerpt = NULL;

      if (child->exit_status == NIX_EXEC_WRAPPER_REPORT_STATUS)
        {
          GError *reported = error_from_report (stage_id, child);

          if (reported != NULL)
            {
              g_propagate_error (error, reported);
              return NULL;
            }
        }

      excerpt = stderr_excerpt (child);
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                   "Stage “%s” exited with status %d: %s",
                   stage_id, child->exit_status, excerpt);
      return NULL;
    }

  output = g_bytes_get_data (child->stdout_bytes, &length);
  parser = json_parser_new_immutable ();
  if (length == 0 || !json_parser_load_from_data (parser, output, length, &parse_error) ||
      json_parser_get_root (parser) == NULL || has_trailing_content (output, length))
    {
      g_autofree char *shown = g_utf8_make_valid (output != NULL ? output : "", MIN (length, 200));

      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                   "Stage “%s” did not print one JSON value on stdout%s%s (output began: “%s”)",
                   stage_id,
                   parse_error != NULL ? ": " : "",
                   parse_error != NULL ? parse_error->message : "",
                   shown);
      return NULL;
    }

  return json_node_ref (json_parser_get_root (parser));
}

/* Answers @task from a finished stage run, one-shot or warm worker alike:
 * @child (taken) or @error_in (taken). */
static void
stage_done (GTask              *task,
            NixExecChildResult *child_in,
            GError             *error_in)
{
  NixExecExecutor *self = g_task_get_source_object (task);
  ExecuteData *data = g_task_get_task_data (task);
  const char *stage_id = nix_exec_stage_get_id (data->stage);
  g_autoptr(NixExecChildResult) child = child_in;
  g_autoptr(GError) error = error_in;
  JsonNode *output;

  /* The stage is over: the next queued call may start before this one's
   * result is even looked at. */
  if (data->slot != NULL)
    {
      nix_exec_slots_release (data->slot);
      g_clear_pointer (&data->slot, nix_exec_slots_unref);
    }

  if (child == NULL)
    {
      if (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT))
        {
          g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT,
                                   "Stage “%s” ran longer than %u s and was killed",
                                   stage_id, nix_exec_config_get_timeout_secs (self->config));
        }
      else if (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE))
        {
          g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
                                   "Stage “%s” wrote more than %" G_GUINT64_FORMAT
                                   " bytes on stdout and was killed (see max-output-bytes)",
                                   stage_id, nix_exec_config_get_max_output_bytes (self->config));
        }
      else if (error->domain == G_SPAWN_ERROR && data->sandboxed)
        {
          /* bwrap itself could not be started (removed since the probe):
           * never fall back to running the stage unconfined. */
          g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                                   "Could not start the sandbox of stage “%s”: %s",
                                   stage_id, error->message);
        }
      else if (error->domain == G_SPAWN_ERROR)
        {
          /* The runtime vanished from the store (collected by hand, say):
           * resolve it again next time. A transient failure (fork) is not a
           * reason to re-resolve. */
          if (g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ||
              g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_ACCES) ||
              g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOEXEC))
            nix_exec_runtimes_forget (self->runtimes, data->runtime->key);
          g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                                   "Could not start stage “%s” on %s: %s",
                                   stage_id, data->runtime->interpreter, error->message);
        }
      else
        {
          g_task_return_error (task, g_steal_pointer (&error));
        }
      return;
    }

  output = interpret_child_result (self, data, child, &error);
  if (output == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task,
                         nix_exec_result_new (stage_id, output, data->runtime, child->duration,
                                              child->exit_status, child->stderr_bytes,
                                              child->stderr_truncated),
                         g_object_unref);
  json_node_unref (output);
}

static void
on_stage_done (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  NixExecChildResult *child;

  child = nix_exec_child_run_finish (result, &error);
  stage_done (task, child, error);
}

static void
on_worker_call_done (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NixExecExecutor *self = g_task_get_source_object (task);
  ExecuteData *data = g_task_get_task_data (task);
  GError *error = NULL;
  NixExecChildResult *child;

  child = nix_exec_worker_call_finish (result, &error);
  /* Back to the pool (or out of it, when the call killed it) before the
   * result is looked at: the next call may use it at once. */
  pool_release (self, data->worker);
  g_clear_pointer (&data->worker, nix_exec_worker_unref);
  stage_done (task, child, error);
}

/* The command of a stage's process: the one place it is built, for one-shot
 * runs and warm workers alike. Unconfined, `<interpreter> <script>`; with
 * isolation active, bwrap, with *out_options for its fd 3 and an empty
 * environment. A warm worker gets one more argument. */
static gboolean
stage_command (NixExecExecutor  *self,
               ExecuteData      *data,
               gboolean          worker,
               GStrv            *out_argv,
               GBytes          **out_options,
               GError          **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GBytes) options = NULL;

  if (self->isolation_active)
    {
      NixExecSandboxPlan plan = { NULL, };
      g_auto(GStrv) host_environ = g_get_environ ();

      plan.bwrap_path = self->bwrap_path;
      plan.disable_userns = self->bwrap_disable_userns;
      plan.effects = nix_exec_stage_get_effects (data->stage);
      plan.runtime_path = data->runtime->store_path;
      plan.interpreter = nix_exec_language_interpreter (data->language);
      plan.script_path = data->script_path;
      plan.script_extension = nix_exec_language_file_extension (data->language);
      plan.extra_ro_binds = nix_exec_config_get_extra_ro_binds (self->config);
      plan.cache_dir = nix_exec_config_get_cache_dir (self->config);
      plan.host_environ = (const char * const *) host_environ;

      if (!nix_exec_sandbox_build_command (&plan, &argv, &options, error))
        {
          g_prefix_error (error, "Stage “%s”: ", nix_exec_stage_get_id (data->stage));
          return FALSE;
        }
      data->sandboxed = TRUE;
      /* The command ends with `-- <interpreter> <script>`. */
      g_strv_builder_addv (builder, (const char **) argv);
    }
  else
    {
      g_strv_builder_add (builder, data->runtime->interpreter);
      g_strv_builder_add (builder, data->script_path);
    }

  if (worker)
    g_strv_builder_add (builder, NIX_EXEC_WORKER_ARG);
  *out_argv = g_strv_builder_end (builder);
  *out_options = g_steal_pointer (&options);
  return TRUE;
}

static void
run_stage (GTask *task)
{
  NixExecExecutor *self = g_task_get_source_object (task);
  ExecuteData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(GBytes) bwrap_options = NULL;
  const char * const no_environ[] = { NULL };
  guint timeout_secs, timeout_ms, keep_alive_secs;

  /* bwrap would report a vanished runtime as the stage's failure; find it
   * here, as a spawn failure does unconfined, to resolve it again. */
  if (self->isolation_active && !g_file_test (data->runtime->interpreter, G_FILE_TEST_IS_EXECUTABLE))
    {
      nix_exec_runtimes_forget (self->runtimes, data->runtime->key);
      g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                               "Could not start stage “%s”: %s is missing",
                               nix_exec_stage_get_id (data->stage),
                               data->runtime->interpreter);
      return;
    }

  timeout_secs = nix_exec_config_get_timeout_secs (self->config);
  timeout_ms = timeout_secs > G_MAXUINT / 1000 ? G_MAXUINT : timeout_secs * 1000;

  keep_alive_secs = stage_keep_alive_secs (self, data->stage);
  if (keep_alive_secs > 0)
    {
      GMainContext *context = g_task_get_context (task);

      /* Worker I/O lives on the caller's context: make it the thread
       * default for the spawn and the call, whoever iterates it. */
      g_main_context_push_thread_default (context);
      data->worker = pool_acquire (self, data, keep_alive_secs, context, &error);
      if (data->worker != NULL)
        nix_exec_worker_call_async (data->worker, data->input,
                                    timeout_ms,
                                    nix_exec_config_get_max_output_bytes (self->config),
                                    nix_exec_config_get_max_stderr_bytes (self->config),
                                    g_task_get_cancellable (task),
                                    on_worker_call_done, g_object_ref (task));
      g_main_context_pop_thread_default (context);

      if (data->worker != NULL)
        return;
      if (error != NULL)
        {
          stage_done (task, NULL, g_steal_pointer (&error));
          return;
        }
      /* Every worker is busy and the pool is full: run this call alone. */
    }

  if (!stage_command (self, data, FALSE, &argv, &bwrap_options, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Sandboxed, bwrap starts with an empty environment: the stage's is
   * built from the allowlist on bwrap's command line. */
  nix_exec_child_run_async ((const char * const *) argv,
                            data->sandboxed ? no_environ : NULL,
                            data->sandboxed ? NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE
                                            : NIX_EXEC_CHILD_FLAGS_NONE,
                            data->input, bwrap_options,
                            nix_exec_config_get_max_output_bytes (self->config),
                            nix_exec_config_get_max_stderr_bytes (self->config),
                            timeout_ms,
                            g_task_get_cancellable (task),
                            on_stage_done, g_object_ref (task));
}

static void
on_slot_acquired (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NixExecExecutor *self = g_task_get_source_object (task);
  ExecuteData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!nix_exec_slots_acquire_finish (result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data->slot = nix_exec_slots_ref (self->slots);

  /* Cancelled while it waited, and granted anyway: give the slot back now
   * rather than start the stage (the caller may keep the result a while). */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      nix_exec_slots_release (data->slot);
      g_clear_pointer (&data->slot, nix_exec_slots_unref);
      g_task_return_error_if_cancelled (task);
      return;
    }

  run_stage (task);
}

static void execute_start (NixExecExecutor *self,
                           const char      *stage_id,
                           JsonNode        *input,
                           gboolean         sync,
                           GTask           *task);

static void
on_runtime_resolved (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NixExecExecutor *self = g_task_get_source_object (task);
  ExecuteData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  data->runtime = nix_exec_runtimes_resolve_finish (NIX_EXEC_RUNTIMES (object), result, &error);
  if (data->runtime == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* A blocking call iterates only its private context: waiting for a slot
   * that async calls of the same thread hold (their releases dispatch on a
   * context nobody iterates meanwhile) would never end. Blocking calls run
   * at once; max-concurrency bounds the async ones. */
  if (data->sync)
    {
      run_stage (task);
      return;
    }

  /* Wait for a turn (max-concurrency); the stage's deadline only starts
   * when its process does. */
  nix_exec_slots_acquire_async (self->slots, g_task_get_cancellable (task),
                                on_slot_acquired, g_object_ref (task));
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
 * No thread is used: the child process is watched from the thread-default
 * main context of the caller, so many calls can run at once from one main
 * loop. Cancelling @cancellable kills the stage with SIGKILL — its whole
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
  execute_start (self, stage_id, input, FALSE, task);
}

/* The one implementation behind every execute call: answers @task (taken)
 * with a NixExecResult. */
static void
execute_start (NixExecExecutor *self,
               const char      *stage_id,
               JsonNode        *input,
               gboolean         sync,
               GTask           *task_in)
{
  g_autoptr(GTask) task = task_in;
  g_autoptr(NixExecStage) stage = NULL;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;
  ExecuteData *data;
  char *input_text;
  const char *code;

  stage = lookup_stage (self, stage_id);
  if (stage == NULL)
    {
      g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_NOT_FOUND,
                               "No stage “%s” is registered with this executor", stage_id);
      return;
    }

  data = g_new0 (ExecuteData, 1);
  data->stage = g_object_ref (stage);
  data->sync = sync;
  g_task_set_task_data (task, data, (GDestroyNotify) execute_data_free);

  if (!nix_exec_language_from_tag (nix_exec_stage_get_language (stage), &data->language, &error))
    {
      g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                               "Stage “%s”: %s", stage_id, error->message);
      return;
    }

  code = nix_exec_stage_get_code (stage);
  if (code == NULL || is_blank (code))
    {
      g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                               "Stage “%s” has no code: it must define execute(input)", stage_id);
      return;
    }

  if (data->language == NIX_EXEC_LANGUAGE_PYTHON)
    {
      data->python_packages = stage_python_packages (stage, &error);
      if (data->python_packages == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }

  /* A small write, once per stage and cache: the script is reused by every
   * later call, from any executor or process. */
  data->script_path = nix_exec_wrapper_ensure_script (nix_exec_config_get_cache_dir (self->config),
                                                      data->language, code, &error);
  if (data->script_path == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  input_text = input != NULL ? json_to_string (input, FALSE) : g_strdup ("null");
  data->input = g_bytes_new_take (input_text, strlen (input_text));

  cancellable = g_task_get_cancellable (task);
  nix_exec_runtimes_resolve_async (self->runtimes, data->language,
                                   (const char * const *) data->python_packages, cancellable,
                                   on_runtime_resolved, g_steal_pointer (&task));
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
 *   %G_IO_ERROR_CANCELLED when cancelled, or a %G_FILE_ERROR or %G_IO_ERROR
 *   when the script cache directory cannot be used
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
  execute_start (self, stage_id, input, FALSE, task);
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

/* The blocking calls: the one async implementation, run to its end on a
 * private main context. @source_tag says which finish function applies. */
static GAsyncResult *
execute_blocking (NixExecExecutor *self,
                  const char      *stage_id,
                  JsonNode        *input,
                  GCancellable    *cancellable,
                  gpointer         source_tag)
{
  g_autoptr(GMainContext) context = sync_context_get (self, stage_id);
  GAsyncResult *result = NULL;
  GTask *task;

  g_main_context_push_thread_default (context);
  task = g_task_new (self, cancellable, on_sync_done, &result);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, "[nixexec] execute (blocking)");
  execute_start (self, stage_id, input, TRUE, task);
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
 *   %G_IO_ERROR_CANCELLED when cancelled, or a %G_FILE_ERROR or %G_IO_ERROR
 *   when the script cache directory cannot be used
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

  return nix_exec_runtimes_dup_locked_url (self->runtimes);
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

  return nix_exec_runtimes_write_lock (self->runtimes, path, error);
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

  nix_exec_runtimes_reset (self->runtimes);
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
