/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-config.h"
#include "nixexec-enums.h"

#include <string.h>

/**
 * NixExecConfig:
 *
 * The settings of an executor: limits on each run, which flake provides the
 * runtimes, where scripts are cached, which `nix` runs and how, and how
 * stages are confined.
 *
 * An executor takes a snapshot of its config when it is built (see
 * [method@NixExec.Executor.config_snapshot]); changing the config later
 * does not change executors already built from it. Use
 * [method@NixExec.Config.copy] to derive a config from another.
 *
 * Since: 1.0
 */

struct _NixExecConfig
{
  GObject   parent_instance;

  guint     timeout_secs;
  guint64   max_output_bytes;
  guint64   max_stderr_bytes;
  char     *flake_ref;     /* never NULL */
  char     *cache_dir;     /* never NULL */
  char     *nix_path;      /* NULL: search for nix */
  gboolean  offline;
  GStrv     nix_options;   /* never NULL, possibly empty */
  NixExecIsolation isolation;
  gboolean  require_isolation;
  NixExecRuntimeSource runtime_source;
  char     *lock_file;     /* NULL: the executor keeps its own lock */
  guint     max_concurrency; /* 0: unlimited */
  guint     keep_alive_secs; /* 0: no warm workers */
  guint     max_workers;
  GStrv     extra_ro_binds; /* never NULL, possibly empty; absolute paths */
};

G_DEFINE_FINAL_TYPE (NixExecConfig, nix_exec_config, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TIMEOUT_SECS,
  PROP_MAX_OUTPUT_BYTES,
  PROP_MAX_STDERR_BYTES,
  PROP_FLAKE_REF,
  PROP_CACHE_DIR,
  PROP_NIX_PATH,
  PROP_OFFLINE,
  PROP_NIX_OPTIONS,
  PROP_RUNTIME_SOURCE,
  PROP_LOCK_FILE,
  PROP_MAX_CONCURRENCY,
  PROP_KEEP_ALIVE_SECS,
  PROP_MAX_WORKERS,
  PROP_ISOLATION,
  PROP_REQUIRE_ISOLATION,
  PROP_EXTRA_RO_BINDS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static char *
default_cache_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "nixexec-glib", NULL);
}

/* Replaces *str by a copy of @value; TRUE if that changed it. */
static gboolean
replace_string (char       **str,
                const char  *value)
{
  if (g_strcmp0 (*str, value) == 0)
    return FALSE;

  g_free (*str);
  *str = g_strdup (value);
  return TRUE;
}

static gboolean
nix_option_is_valid (const char *option)
{
  const char *equals = strchr (option, '=');

  /* "name=value": a non-empty name; the value may be empty. */
  return equals != NULL && equals != option;
}

static void
nix_exec_config_finalize (GObject *object)
{
  NixExecConfig *self = NIX_EXEC_CONFIG (object);

  g_clear_pointer (&self->flake_ref, g_free);
  g_clear_pointer (&self->cache_dir, g_free);
  g_clear_pointer (&self->nix_path, g_free);
  g_clear_pointer (&self->nix_options, g_strfreev);
  g_clear_pointer (&self->extra_ro_binds, g_strfreev);
  g_clear_pointer (&self->lock_file, g_free);

  G_OBJECT_CLASS (nix_exec_config_parent_class)->finalize (object);
}

static void
nix_exec_config_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  NixExecConfig *self = NIX_EXEC_CONFIG (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT_SECS:
      g_value_set_uint (value, self->timeout_secs);
      break;
    case PROP_MAX_OUTPUT_BYTES:
      g_value_set_uint64 (value, self->max_output_bytes);
      break;
    case PROP_MAX_STDERR_BYTES:
      g_value_set_uint64 (value, self->max_stderr_bytes);
      break;
    case PROP_FLAKE_REF:
      g_value_set_string (value, self->flake_ref);
      break;
    case PROP_CACHE_DIR:
      g_value_set_string (value, self->cache_dir);
      break;
    case PROP_NIX_PATH:
      g_value_set_string (value, self->nix_path);
      break;
    case PROP_OFFLINE:
      g_value_set_boolean (value, self->offline);
      break;
    case PROP_NIX_OPTIONS:
      g_value_set_boxed (value, self->nix_options);
      break;
    case PROP_ISOLATION:
      g_value_set_enum (value, self->isolation);
      break;
    case PROP_REQUIRE_ISOLATION:
      g_value_set_boolean (value, self->require_isolation);
      break;
    case PROP_EXTRA_RO_BINDS:
      g_value_set_boxed (value, self->extra_ro_binds);
      break;
    case PROP_RUNTIME_SOURCE:
      g_value_set_enum (value, self->runtime_source);
      break;
    case PROP_LOCK_FILE:
      g_value_set_string (value, self->lock_file);
      break;
    case PROP_MAX_CONCURRENCY:
      g_value_set_uint (value, self->max_concurrency);
      break;
    case PROP_KEEP_ALIVE_SECS:
      g_value_set_uint (value, self->keep_alive_secs);
      break;
    case PROP_MAX_WORKERS:
      g_value_set_uint (value, self->max_workers);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_config_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  NixExecConfig *self = NIX_EXEC_CONFIG (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT_SECS:
      nix_exec_config_set_timeout_secs (self, g_value_get_uint (value));
      break;
    case PROP_MAX_OUTPUT_BYTES:
      nix_exec_config_set_max_output_bytes (self, g_value_get_uint64 (value));
      break;
    case PROP_MAX_STDERR_BYTES:
      nix_exec_config_set_max_stderr_bytes (self, g_value_get_uint64 (value));
      break;
    case PROP_FLAKE_REF:
      nix_exec_config_set_flake_ref (self, g_value_get_string (value));
      break;
    case PROP_CACHE_DIR:
      nix_exec_config_set_cache_dir (self, g_value_get_string (value));
      break;
    case PROP_NIX_PATH:
      nix_exec_config_set_nix_path (self, g_value_get_string (value));
      break;
    case PROP_OFFLINE:
      nix_exec_config_set_offline (self, g_value_get_boolean (value));
      break;
    case PROP_NIX_OPTIONS:
      nix_exec_config_set_nix_options (self, g_value_get_boxed (value));
      break;
    case PROP_ISOLATION:
      nix_exec_config_set_isolation (self, g_value_get_enum (value));
      break;
    case PROP_REQUIRE_ISOLATION:
      nix_exec_config_set_require_isolation (self, g_value_get_boolean (value));
      break;
    case PROP_EXTRA_RO_BINDS:
      nix_exec_config_set_extra_ro_binds (self, g_value_get_boxed (value));
      break;
    case PROP_RUNTIME_SOURCE:
      nix_exec_config_set_runtime_source (self, g_value_get_enum (value));
      break;
    case PROP_LOCK_FILE:
      nix_exec_config_set_lock_file (self, g_value_get_string (value));
      break;
    case PROP_MAX_CONCURRENCY:
      nix_exec_config_set_max_concurrency (self, g_value_get_uint (value));
      break;
    case PROP_KEEP_ALIVE_SECS:
      nix_exec_config_set_keep_alive_secs (self, g_value_get_uint (value));
      break;
    case PROP_MAX_WORKERS:
      nix_exec_config_set_max_workers (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_config_class_init (NixExecConfigClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = nix_exec_config_finalize;
  object_class->get_property = nix_exec_config_get_property;
  object_class->set_property = nix_exec_config_set_property;

  /**
   * NixExecConfig:timeout-secs:
   *
   * How long a stage may run, in seconds, before it and every process it
   * started are killed and the run fails with %NIX_EXEC_ERROR_TIMED_OUT.
   * 0 means no limit.
   *
   * Since: 1.0
   */
  properties[PROP_TIMEOUT_SECS] =
    g_param_spec_uint ("timeout-secs", NULL, NULL,
                       0, G_MAXUINT, NIX_EXEC_DEFAULT_TIMEOUT_SECS,
                       G_PARAM_READWRITE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:max-output-bytes:
   *
   * How many bytes a stage may write to stdout. A stage that writes more is
   * killed as soon as it passes the limit and the run fails with
   * %NIX_EXEC_ERROR_OUTPUT_TOO_LARGE. At least 1.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_OUTPUT_BYTES] =
    g_param_spec_uint64 ("max-output-bytes", NULL, NULL,
                         1, G_MAXUINT64, NIX_EXEC_DEFAULT_MAX_OUTPUT_BYTES,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:max-stderr-bytes:
   *
   * How many bytes of a stage's stderr are kept for error messages; the
   * rest is read and dropped, and does not fail the run. 0 keeps none.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_STDERR_BYTES] =
    g_param_spec_uint64 ("max-stderr-bytes", NULL, NULL,
                         0, G_MAXUINT64, NIX_EXEC_DEFAULT_MAX_STDERR_BYTES,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:flake-ref:
   *
   * The flake that provides the language runtimes, such as `nixpkgs`,
   * `github:NixOS/nixpkgs/nixos-24.05` or `path:/some/dir`. Setting %NULL
   * restores the default, %NIX_EXEC_DEFAULT_FLAKE_REF.
   *
   * Since: 1.0
   */
  properties[PROP_FLAKE_REF] =
    g_param_spec_string ("flake-ref", NULL, NULL,
                         NIX_EXEC_DEFAULT_FLAKE_REF,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:cache-dir:
   *
   * The directory where wrapped scripts and runtime links are kept. The
   * default, restored by setting %NULL, is `nixexec-glib` under
   * g_get_user_cache_dir().
   *
   * Since: 1.0
   */
  properties[PROP_CACHE_DIR] =
    g_param_spec_string ("cache-dir", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:nix-path:
   *
   * The `nix` binary to run, or %NULL (the default) to search for one as
   * [func@NixExec.Executor.find_nix] does.
   *
   * Since: 1.0
   */
  properties[PROP_NIX_PATH] =
    g_param_spec_string ("nix-path", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:offline:
   *
   * Whether nix must work from the local store alone. When %TRUE, nix is
   * run with `--offline` and with substituters disabled, so it never waits
   * on the network: a runtime that is not in the store fails at once
   * instead of being downloaded.
   *
   * Since: 1.0
   */
  properties[PROP_OFFLINE] =
    g_param_spec_boolean ("offline", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE |
                          G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:nix-options:
   *
   * Extra nix settings, each a `name=value` string, passed to nix as
   * `--option name value` (split at the first `=`; the value may be
   * empty). Setting %NULL clears them.
   *
   * Since: 1.0
   */
  properties[PROP_NIX_OPTIONS] =
    g_param_spec_boxed ("nix-options", NULL, NULL,
                        G_TYPE_STRV,
                        G_PARAM_READWRITE |
                        G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:isolation:
   *
   * How stages are confined. The default, %NIX_EXEC_ISOLATION_AUTO, runs
   * each stage in a bubblewrap sandbox derived from its declared effects
   * whenever bubblewrap is installed in a system path and works on this
   * host, and runs it unconfined otherwise, with a warning (see
   * [property@NixExec.Executor:isolation-active]).
   *
   * Whether bubblewrap works is found out once per process, by running it.
   * Only a definite answer is kept: bubblewrap missing, untrusted, or
   * refused namespaces by the host. A probe that fails for a transient
   * reason — it could not fork, the host was out of memory or file
   * descriptors, bubblewrap was killed or did not finish in time — says
   * nothing about the host: building the executor then fails with
   * %NIX_EXEC_ERROR_RESOURCE_LIMIT in every mode but
   * %NIX_EXEC_ISOLATION_NONE, never falls back to running stages
   * unconfined, and the next executor built probes again.
   *
   * In the sandbox a stage has fresh user, pid, ipc, uts, mount, cgroup and
   * network namespaces; runs as uid and gid 65534 with no capabilities, in a
   * new session, killed with its caller; is called `nobody` (group
   * `nogroup`) by `USER`, `LOGNAME` and an `/etc/passwd` and `/etc/group`
   * of the sandbox's own, which hold no host account; sees `/nix/store`
   * read-only, a private empty `/work` (its working directory and `HOME`)
   * and a private `/tmp`, and of the host only what it declares — `FsRead` paths
   * read-only, `FsWrite` paths read-write — and
   * [property@NixExec.Config:extra-ro-binds]; has the network only when it
   * declares `Network`; and gets an environment cleared down to `PATH`,
   * `LANG`, `LC_*` and the certificate variables, plus `HOME`, `USER` and
   * `LOGNAME`. A declared path that leads into the host's `/proc`, `/sys`,
   * `/dev`, `/nix/var` or `/run`, through symbolic links too, is refused
   * with %NIX_EXEC_ERROR_INVALID_EFFECTS.
   *
   * Since: 1.0
   */
  properties[PROP_ISOLATION] =
    g_param_spec_enum ("isolation", NULL, NULL,
                       NIX_EXEC_TYPE_ISOLATION,
                       NIX_EXEC_ISOLATION_AUTO,
                       G_PARAM_READWRITE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:require-isolation:
   *
   * Whether an executor must confine its stages. With
   * %NIX_EXEC_ISOLATION_AUTO, setting this makes creating the executor fail
   * with %NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE where bubblewrap cannot be
   * used, instead of running stages unconfined. Set it whenever the stages
   * are code you have not reviewed. It has no effect with
   * %NIX_EXEC_ISOLATION_BWRAP (which always requires the sandbox) nor with
   * %NIX_EXEC_ISOLATION_NONE (which never sandboxes).
   *
   * Since: 1.0
   */
  properties[PROP_REQUIRE_ISOLATION] =
    g_param_spec_boolean ("require-isolation", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE |
                          G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:extra-ro-binds:
   *
   * Host paths every sandboxed stage sees read-only, at the same place, on
   * top of what its effects declare: each an absolute path. A runtime from
   * nixpkgs needs none, since its whole closure is in `/nix/store`; a
   * runtime that uses the host's own interpreters needs the host's `/usr`
   * (and, on a merged-`/usr` system, `/bin`, `/lib` and `/lib64`, which are
   * recreated as the same symbolic links: a path that is a link is never
   * followed). Paths missing on this host are skipped. A path that would expose the home directory, the script cache
   * or the nix daemon's socket (such as `/`) makes creating the executor
   * fail with %NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE. Ignored when stages
   * run unconfined. Setting %NULL clears the list.
   *
   * Since: 1.0
   */
  properties[PROP_EXTRA_RO_BINDS] =
    g_param_spec_boxed ("extra-ro-binds", NULL, NULL,
                        G_TYPE_STRV,
                        G_PARAM_READWRITE |
                        G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:runtime-source:
   *
   * Where interpreters come from. %NIX_EXEC_RUNTIME_SOURCE_NIX (the
   * default) resolves them with nix from [property@NixExec.Config:flake-ref].
   * %NIX_EXEC_RUNTIME_SOURCE_HOST is an explicit opt-in to run stages on the
   * host's own `python3`, `node` and `bash` from `PATH` when there is no
   * nix: nothing is pinned then, the executor warns when it is created, and
   * every [class@NixExec.Result] says so.
   *
   * Since: 1.0
   */
  properties[PROP_RUNTIME_SOURCE] =
    g_param_spec_enum ("runtime-source", NULL, NULL,
                       NIX_EXEC_TYPE_RUNTIME_SOURCE,
                       NIX_EXEC_RUNTIME_SOURCE_NIX,
                       G_PARAM_READWRITE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:lock-file:
   *
   * A runtime lock file to run with, as written by
   * [method@NixExec.Executor.export_lock], or %NULL. When set, the executor
   * runs the exact store paths the file names (fetching them by store path
   * if they are not on this machine) and resolves any other runtime from
   * the locked flake URL it records, so that two machines run the same
   * runtimes. Without it, the executor keeps its own lock under
   * [property@NixExec.Config:cache-dir].
   *
   * Since: 1.0
   */
  properties[PROP_LOCK_FILE] =
    g_param_spec_string ("lock-file", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:max-concurrency:
   *
   * How many stages one executor runs at once; 0 means no limit. The
   * default is the number of CPUs. Calls beyond the limit wait in a FIFO
   * queue, can be cancelled while they wait, and their
   * [property@NixExec.Config:timeout-secs] only starts counting when their
   * stage starts. The limit and the queue are shared by every call of the
   * executor, sync and async, from every thread: a blocking
   * [method@NixExec.Executor.execute] waits for its turn like any other call.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_CONCURRENCY] =
    g_param_spec_uint ("max-concurrency", NULL, NULL,
                       0, G_MAXUINT, 1,
                       G_PARAM_READWRITE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:keep-alive-secs:
   *
   * Warm workers: when greater than 0, a stage's process is not started
   * afresh for each call but stays alive and serves call after call over a
   * framed JSON protocol on its stdin and stdout, for as long as this many
   * seconds after its last call. The stage's top-level code then runs once
   * per worker, not once per call, and module-level state is kept between
   * the calls a worker serves. A worker that crashes, times out, goes over
   * a cap or is cancelled is killed and replaced by a fresh one at the next
   * call, so its state never leaks into another call.
   *
   * The default, 0, starts one process per call. While isolation is
   * active, a worker runs in the same sandbox as a one-shot call would.
   *
   * Since: 1.0
   */
  properties[PROP_KEEP_ALIVE_SECS] =
    g_param_spec_uint ("keep-alive-secs", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecConfig:max-workers:
   *
   * How many warm worker processes (see
   * [property@NixExec.Config:keep-alive-secs]) one executor keeps alive at
   * most, over all its stages. When a call finds no idle worker for its
   * stage and the cap is reached, the least recently used idle worker of
   * another stage is stopped to make room; when every worker is busy, the
   * call runs in a one-shot process instead. The default is 4.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_WORKERS] =
    g_param_spec_uint ("max-workers", NULL, NULL,
                       0, G_MAXUINT, 4,
                       G_PARAM_READWRITE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
nix_exec_config_init (NixExecConfig *self)
{
  self->timeout_secs = NIX_EXEC_DEFAULT_TIMEOUT_SECS;
  self->keep_alive_secs = 0;
  self->max_workers = 4;
  self->max_output_bytes = NIX_EXEC_DEFAULT_MAX_OUTPUT_BYTES;
  self->max_stderr_bytes = NIX_EXEC_DEFAULT_MAX_STDERR_BYTES;
  self->flake_ref = g_strdup (NIX_EXEC_DEFAULT_FLAKE_REF);
  self->cache_dir = default_cache_dir ();
  self->nix_path = NULL;
  self->offline = FALSE;
  self->nix_options = g_new0 (char *, 1);
  self->isolation = NIX_EXEC_ISOLATION_AUTO;
  self->require_isolation = FALSE;
  self->extra_ro_binds = g_new0 (char *, 1);
  self->max_concurrency = g_get_num_processors ();
}

/**
 * nix_exec_config_new:
 *
 * Creates a config with every setting at its default.
 *
 * Returns: (transfer full): a new [class@NixExec.Config]
 *
 * Since: 1.0
 */
NixExecConfig *
nix_exec_config_new (void)
{
  return g_object_new (NIX_EXEC_TYPE_CONFIG, NULL);
}

/**
 * nix_exec_config_copy:
 * @self: a [class@NixExec.Config]
 *
 * Copies @self. The copy has every setting of @self, and later changes to
 * either config do not show in the other.
 *
 * Returns: (transfer full): a new [class@NixExec.Config]
 *
 * Since: 1.0
 */
NixExecConfig *
nix_exec_config_copy (NixExecConfig *self)
{
  const char *names[N_PROPS];
  GValue values[N_PROPS] = { G_VALUE_INIT };
  guint n = 0;
  NixExecConfig *copy;

  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  /* Every property that can be read and written, so a setting added later
   * is copied without touching this function. */
  for (guint i = PROP_0 + 1; i < N_PROPS; i++)
    {
      GParamSpec *pspec = properties[i];

      if ((pspec->flags & G_PARAM_READWRITE) != G_PARAM_READWRITE)
        continue;

      names[n] = pspec->name;
      g_value_init (&values[n], pspec->value_type);
      g_object_get_property (G_OBJECT (self), pspec->name, &values[n]);
      n++;
    }

  copy = (NixExecConfig *) g_object_new_with_properties (NIX_EXEC_TYPE_CONFIG, n, names, values);

  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);

  return copy;
}

/**
 * nix_exec_config_get_timeout_secs:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:timeout-secs].
 *
 * Returns: the timeout in seconds, 0 for none
 *
 * Since: 1.0
 */
guint
nix_exec_config_get_timeout_secs (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), 0);

  return self->timeout_secs;
}

/**
 * nix_exec_config_set_timeout_secs:
 * @self: a [class@NixExec.Config]
 * @timeout_secs: the timeout in seconds, 0 for none
 *
 * Sets [property@NixExec.Config:timeout-secs].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_timeout_secs (NixExecConfig *self,
                                  guint          timeout_secs)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (self->timeout_secs == timeout_secs)
    return;

  self->timeout_secs = timeout_secs;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_SECS]);
}

/**
 * nix_exec_config_get_max_output_bytes:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:max-output-bytes].
 *
 * Returns: the stdout limit in bytes
 *
 * Since: 1.0
 */
guint64
nix_exec_config_get_max_output_bytes (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), 0);

  return self->max_output_bytes;
}

/**
 * nix_exec_config_set_max_output_bytes:
 * @self: a [class@NixExec.Config]
 * @max_output_bytes: the stdout limit in bytes, at least 1
 *
 * Sets [property@NixExec.Config:max-output-bytes].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_max_output_bytes (NixExecConfig *self,
                                      guint64        max_output_bytes)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (max_output_bytes >= 1);

  if (self->max_output_bytes == max_output_bytes)
    return;

  self->max_output_bytes = max_output_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_OUTPUT_BYTES]);
}

/**
 * nix_exec_config_get_max_stderr_bytes:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:max-stderr-bytes].
 *
 * Returns: how many bytes of stderr are kept
 *
 * Since: 1.0
 */
guint64
nix_exec_config_get_max_stderr_bytes (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), 0);

  return self->max_stderr_bytes;
}

/**
 * nix_exec_config_set_max_stderr_bytes:
 * @self: a [class@NixExec.Config]
 * @max_stderr_bytes: how many bytes of stderr to keep
 *
 * Sets [property@NixExec.Config:max-stderr-bytes].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_max_stderr_bytes (NixExecConfig *self,
                                      guint64        max_stderr_bytes)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (self->max_stderr_bytes == max_stderr_bytes)
    return;

  self->max_stderr_bytes = max_stderr_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_STDERR_BYTES]);
}

/**
 * nix_exec_config_get_flake_ref:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:flake-ref].
 *
 * Returns: (transfer none): the flake reference
 *
 * Since: 1.0
 */
const char *
nix_exec_config_get_flake_ref (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  return self->flake_ref;
}

/**
 * nix_exec_config_set_flake_ref:
 * @self: a [class@NixExec.Config]
 * @flake_ref: (nullable): a flake reference, or %NULL for the default
 *
 * Sets [property@NixExec.Config:flake-ref].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_flake_ref (NixExecConfig *self,
                               const char    *flake_ref)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (flake_ref == NULL || *flake_ref != '\0');

  if (replace_string (&self->flake_ref,
                      flake_ref != NULL ? flake_ref : NIX_EXEC_DEFAULT_FLAKE_REF))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAKE_REF]);
}

/**
 * nix_exec_config_get_cache_dir:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:cache-dir].
 *
 * Returns: (transfer none): the cache directory
 *
 * Since: 1.0
 */
const char *
nix_exec_config_get_cache_dir (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  return self->cache_dir;
}

/**
 * nix_exec_config_set_cache_dir:
 * @self: a [class@NixExec.Config]
 * @cache_dir: (nullable) (type filename): a directory, or %NULL for the
 *   default
 *
 * Sets [property@NixExec.Config:cache-dir].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_cache_dir (NixExecConfig *self,
                               const char    *cache_dir)
{
  g_autofree char *fallback = NULL;

  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (cache_dir == NULL || *cache_dir != '\0');

  if (cache_dir == NULL)
    cache_dir = fallback = default_cache_dir ();

  if (replace_string (&self->cache_dir, cache_dir))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CACHE_DIR]);
}

/**
 * nix_exec_config_get_nix_path:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:nix-path].
 *
 * Returns: (transfer none) (nullable) (type filename): the nix binary, or
 *   %NULL to search for one
 *
 * Since: 1.0
 */
const char *
nix_exec_config_get_nix_path (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  return self->nix_path;
}

/**
 * nix_exec_config_set_nix_path:
 * @self: a [class@NixExec.Config]
 * @nix_path: (nullable) (type filename): the nix binary, or %NULL to
 *   search for one
 *
 * Sets [property@NixExec.Config:nix-path].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_nix_path (NixExecConfig *self,
                              const char    *nix_path)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (nix_path == NULL || *nix_path != '\0');

  if (replace_string (&self->nix_path, nix_path))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NIX_PATH]);
}

/**
 * nix_exec_config_get_offline:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:offline].
 *
 * Returns: %TRUE if nix must not use the network
 *
 * Since: 1.0
 */
gboolean
nix_exec_config_get_offline (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), FALSE);

  return self->offline;
}

/**
 * nix_exec_config_set_offline:
 * @self: a [class@NixExec.Config]
 * @offline: whether nix must not use the network
 *
 * Sets [property@NixExec.Config:offline].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_offline (NixExecConfig *self,
                             gboolean       offline)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  offline = !!offline;
  if (self->offline == offline)
    return;

  self->offline = offline;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OFFLINE]);
}

/**
 * nix_exec_config_get_nix_options:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:nix-options].
 *
 * Returns: (transfer none) (array zero-terminated=1): the `name=value`
 *   options, possibly none
 *
 * Since: 1.0
 */
const char * const *
nix_exec_config_get_nix_options (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  return (const char * const *) self->nix_options;
}

/**
 * nix_exec_config_set_nix_options:
 * @self: a [class@NixExec.Config]
 * @nix_options: (nullable) (array zero-terminated=1): `name=value`
 *   options, or %NULL for none
 *
 * Sets [property@NixExec.Config:nix-options]. Each option must contain a
 * `=` after a non-empty name.
 *
 * Since: 1.0
 */
void
nix_exec_config_set_nix_options (NixExecConfig      *self,
                                 const char * const *nix_options)
{
  static const char * const none[] = { NULL };

  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (nix_options == NULL)
    nix_options = none;

  for (guint i = 0; nix_options[i] != NULL; i++)
    g_return_if_fail (nix_option_is_valid (nix_options[i]));

  if (g_strv_equal ((const char * const *) self->nix_options, nix_options))
    return;

  g_strfreev (self->nix_options);
  self->nix_options = g_strdupv ((char **) nix_options);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NIX_OPTIONS]);
}

/**
 * nix_exec_config_get_isolation:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:isolation].
 *
 * Returns: how stages are confined
 *
 * Since: 1.0
 */
NixExecIsolation
nix_exec_config_get_isolation (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NIX_EXEC_ISOLATION_AUTO);

  return self->isolation;
}

/**
 * nix_exec_config_set_isolation:
 * @self: a [class@NixExec.Config]
 * @isolation: how stages are confined
 *
 * Sets [property@NixExec.Config:isolation].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_isolation (NixExecConfig    *self,
                               NixExecIsolation  isolation)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (isolation == NIX_EXEC_ISOLATION_NONE ||
                    isolation == NIX_EXEC_ISOLATION_AUTO ||
                    isolation == NIX_EXEC_ISOLATION_BWRAP);

  if (self->isolation == isolation)
    return;

  self->isolation = isolation;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ISOLATION]);
}

/**
 * nix_exec_config_get_require_isolation:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:require-isolation].
 *
 * Returns: %TRUE if stages must never run unconfined
 *
 * Since: 1.0
 */
gboolean
nix_exec_config_get_require_isolation (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), FALSE);

  return self->require_isolation;
}

/**
 * nix_exec_config_set_require_isolation:
 * @self: a [class@NixExec.Config]
 * @require_isolation: whether stages must never run unconfined
 *
 * Sets [property@NixExec.Config:require-isolation].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_require_isolation (NixExecConfig *self,
                                       gboolean       require_isolation)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  require_isolation = !!require_isolation;
  if (self->require_isolation == require_isolation)
    return;

  self->require_isolation = require_isolation;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REQUIRE_ISOLATION]);
}

/**
 * nix_exec_config_get_extra_ro_binds:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:extra-ro-binds].
 *
 * Returns: (transfer none) (array zero-terminated=1) (element-type filename):
 *   the host paths every sandboxed stage sees read-only, possibly none
 *
 * Since: 1.0
 */
const char * const *
nix_exec_config_get_extra_ro_binds (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  return (const char * const *) self->extra_ro_binds;
}

/**
 * nix_exec_config_set_extra_ro_binds:
 * @self: a [class@NixExec.Config]
 * @extra_ro_binds: (nullable) (array zero-terminated=1) (element-type filename):
 *   absolute host paths, or %NULL for none
 *
 * Sets [property@NixExec.Config:extra-ro-binds]. Each path must be
 * absolute.
 *
 * Since: 1.0
 */
void
nix_exec_config_set_extra_ro_binds (NixExecConfig      *self,
                                    const char * const *extra_ro_binds)
{
  static const char * const none[] = { NULL };

  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (extra_ro_binds == NULL)
    extra_ro_binds = none;

  for (guint i = 0; extra_ro_binds[i] != NULL; i++)
    g_return_if_fail (g_path_is_absolute (extra_ro_binds[i]));

  if (g_strv_equal ((const char * const *) self->extra_ro_binds, extra_ro_binds))
    return;

  g_strfreev (self->extra_ro_binds);
  self->extra_ro_binds = g_strdupv ((char **) extra_ro_binds);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXTRA_RO_BINDS]);
}

/**
 * nix_exec_config_get_runtime_source:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:runtime-source].
 *
 * Returns: where interpreters come from
 *
 * Since: 1.0
 */
NixExecRuntimeSource
nix_exec_config_get_runtime_source (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NIX_EXEC_RUNTIME_SOURCE_NIX);

  return self->runtime_source;
}

/**
 * nix_exec_config_set_runtime_source:
 * @self: a [class@NixExec.Config]
 * @runtime_source: where interpreters come from
 *
 * Sets [property@NixExec.Config:runtime-source].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_runtime_source (NixExecConfig        *self,
                                    NixExecRuntimeSource  runtime_source)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (runtime_source == NIX_EXEC_RUNTIME_SOURCE_NIX ||
                    runtime_source == NIX_EXEC_RUNTIME_SOURCE_HOST);

  if (self->runtime_source == runtime_source)
    return;

  self->runtime_source = runtime_source;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNTIME_SOURCE]);
}

/**
 * nix_exec_config_get_lock_file:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:lock-file].
 *
 * Returns: (transfer none) (nullable) (type filename): the lock file, or
 *   %NULL
 *
 * Since: 1.0
 */
const char *
nix_exec_config_get_lock_file (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), NULL);

  return self->lock_file;
}

/**
 * nix_exec_config_set_lock_file:
 * @self: a [class@NixExec.Config]
 * @lock_file: (nullable) (type filename): a lock file, or %NULL
 *
 * Sets [property@NixExec.Config:lock-file].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_lock_file (NixExecConfig *self,
                               const char    *lock_file)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));
  g_return_if_fail (lock_file == NULL || *lock_file != '\0');

  if (replace_string (&self->lock_file, lock_file))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCK_FILE]);
}

/**
 * nix_exec_config_get_max_concurrency:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:max-concurrency].
 *
 * Returns: how many stages run at once, or 0 for no limit
 *
 * Since: 1.0
 */
guint
nix_exec_config_get_max_concurrency (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), 0);

  return self->max_concurrency;
}

/**
 * nix_exec_config_set_max_concurrency:
 * @self: a [class@NixExec.Config]
 * @max_concurrency: how many stages run at once, or 0 for no limit
 *
 * Sets [property@NixExec.Config:max-concurrency].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_max_concurrency (NixExecConfig *self,
                                     guint          max_concurrency)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (self->max_concurrency == max_concurrency)
    return;

  self->max_concurrency = max_concurrency;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENCY]);
}

/**
 * nix_exec_config_get_keep_alive_secs:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:keep-alive-secs].
 *
 * Returns: how long an idle worker stays alive, in seconds, or 0 for no
 *   warm workers
 *
 * Since: 1.0
 */
guint
nix_exec_config_get_keep_alive_secs (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), 0);

  return self->keep_alive_secs;
}

/**
 * nix_exec_config_set_keep_alive_secs:
 * @self: a [class@NixExec.Config]
 * @keep_alive_secs: how long an idle worker stays alive, in seconds, or 0
 *   for one process per call
 *
 * Sets [property@NixExec.Config:keep-alive-secs].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_keep_alive_secs (NixExecConfig *self,
                                     guint          keep_alive_secs)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (self->keep_alive_secs == keep_alive_secs)
    return;

  self->keep_alive_secs = keep_alive_secs;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEEP_ALIVE_SECS]);
}

/**
 * nix_exec_config_get_max_workers:
 * @self: a [class@NixExec.Config]
 *
 * Gets [property@NixExec.Config:max-workers].
 *
 * Returns: the most warm workers an executor keeps alive
 *
 * Since: 1.0
 */
guint
nix_exec_config_get_max_workers (NixExecConfig *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_CONFIG (self), 0);

  return self->max_workers;
}

/**
 * nix_exec_config_set_max_workers:
 * @self: a [class@NixExec.Config]
 * @max_workers: the most warm workers an executor keeps alive
 *
 * Sets [property@NixExec.Config:max-workers].
 *
 * Since: 1.0
 */
void
nix_exec_config_set_max_workers (NixExecConfig *self,
                                 guint          max_workers)
{
  g_return_if_fail (NIX_EXEC_IS_CONFIG (self));

  if (self->max_workers == max_workers)
    return;

  self->max_workers = max_workers;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_WORKERS]);
}
