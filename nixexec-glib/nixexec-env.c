/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an executor decides once: which nix runs its runtimes, whether its
 * stages run in a sandbox and with which bwrap, and the shared state of its
 * runs (the runtimes, the max-concurrency slots, the warm-worker pool).
 *
 * Isolation is decided here, when the executor is built: bwrap is found and
 * probed (once per process, nixexec-sandbox.c), and the executor either
 * confines every stage, fails to build (BWRAP, or AUTO with
 * require-isolation), or runs stages unconfined with a warning and the
 * reason kept for isolation-reason. A probe that failed for a transient
 * reason fails the build with RESOURCE_LIMIT in every mode: it is not
 * kept, and the next executor probes again. A config that could never be confined
 * safely (an extra bind exposing the home directory, say) is refused on
 * every host, whether or not bwrap works there.
 *
 * The env outlives its executor while runs are in flight: each run holds a
 * reference. Its last release kills the pool's workers.
 */
#include "config.h"

#include "nixexec-enums.h"
#include "nixexec-env-private.h"
#include "nixexec-error.h"
#include "nixexec-sandbox-private.h"

static const char * const nix_search_paths[] = {
  "/nix/var/nix/profiles/default/bin/nix",
  "/run/current-system/sw/bin/nix",
};

char *
nix_exec_run_env_find_nix (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (nix_search_paths); i++)
    {
      if (g_file_test (nix_search_paths[i], G_FILE_TEST_IS_EXECUTABLE) &&
          !g_file_test (nix_search_paths[i], G_FILE_TEST_IS_DIR))
        return g_strdup (nix_search_paths[i]);
    }

  return g_find_program_in_path ("nix");
}

/* Which nix the executor runs, and its runtimes; FALSE with an error when
 * there is no usable nix. */
static gboolean
init_runtimes (NixExecRunEnv  *env,
               GError        **error)
{
  NixExecConfig *config = env->config;
  const char *configured = nix_exec_config_get_nix_path (config);
  const char *lock_file = nix_exec_config_get_lock_file (config);

  if (nix_exec_config_get_runtime_source (config) == NIX_EXEC_RUNTIME_SOURCE_HOST)
    {
      /* An explicit opt-in, never a silent fallback: say so loudly. */
      g_warning ("runtime-source is HOST: stages run on this machine's own python3, node "
                 "and bash from PATH, not on runtimes pinned by nix");
      env->runtimes = nix_exec_runtimes_new (NULL, config);
      return TRUE;
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
      env->nix_path = g_strdup (configured);
    }
  else
    {
      env->nix_path = nix_exec_run_env_find_nix ();
      if (env->nix_path == NULL)
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND,
                       "Nix is not installed: no nix in %s, %s or PATH. Install Nix, "
                       "or set the nix-path property of the config",
                       nix_search_paths[0], nix_search_paths[1]);
          return FALSE;
        }
    }

  env->runtimes = nix_exec_runtimes_new (env->nix_path, config);
  return lock_file == NULL || nix_exec_runtimes_load_lock (env->runtimes, lock_file, error);
}

/* Decides, once, whether an executor confines its stages. */
static gboolean
init_isolation (NixExecRunEnv  *env,
                GError        **error)
{
  NixExecConfig *config = env->config;
  NixExecIsolation isolation = nix_exec_config_get_isolation (config);
  g_autoptr(GError) probe_error = NULL;

  if (isolation == NIX_EXEC_ISOLATION_NONE)
    {
      env->isolation_reason = g_strdup ("isolation is NONE in the configuration");
      return TRUE;
    }

  /* Checked whether or not bwrap works here, so that a config is refused
   * on every host or on none. */
  if (!nix_exec_sandbox_check_extra_ro_binds (nix_exec_config_get_extra_ro_binds (config),
                                              nix_exec_config_get_cache_dir (config),
                                              error))
    return FALSE;

  if (nix_exec_config_get_runtime_source (config) == NIX_EXEC_RUNTIME_SOURCE_HOST)
    {
      g_set_error_literal (&probe_error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "host interpreters (runtime-source HOST) run outside the sandbox, "
                           "which confines nix store runtimes only");
    }
  else if (nix_exec_sandbox_probe (&env->bwrap_path, &env->bwrap_disable_userns, &probe_error))
    {
      env->isolation_active = TRUE;
      return TRUE;
    }

  /* A probe that failed for now says nothing about the host: fail rather
   * than run unconfined, for whatever mode. */
  if (g_error_matches (probe_error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT))
    {
      g_propagate_error (error, g_steal_pointer (&probe_error));
      return FALSE;
    }

  env->isolation_reason = g_strdup (probe_error->message);
  if (isolation == NIX_EXEC_ISOLATION_BWRAP ||
      nix_exec_config_get_require_isolation (config))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "Stages must run isolated, but cannot: %s", probe_error->message);
      return FALSE;
    }

  if (nix_exec_config_get_runtime_source (config) == NIX_EXEC_RUNTIME_SOURCE_HOST)
    g_warning ("Stages run WITHOUT isolation, with the rights of this process: %s",
               probe_error->message);
  else if (nix_exec_sandbox_claim_warning ())
    g_warning ("Stages run WITHOUT isolation, with the rights of this process: %s. "
               "Install bubblewrap, allow user namespaces, or set require-isolation "
               "to refuse to run stages unconfined.",
               probe_error->message);
  return TRUE;
}

NixExecRunEnv *
nix_exec_run_env_new (NixExecConfig  *config,
                      GError        **error)
{
  g_autoptr(NixExecRunEnv) env = g_new0 (NixExecRunEnv, 1);

  g_atomic_ref_count_init (&env->ref_count);
  env->config = g_object_ref (config);
  env->slots = nix_exec_slots_new (nix_exec_config_get_max_concurrency (config));
  env->pool = nix_exec_pool_new (nix_exec_config_get_max_workers (config));

  if (!init_runtimes (env, error) || !init_isolation (env, error))
    return NULL;
  return g_steal_pointer (&env);
}

NixExecRunEnv *
nix_exec_run_env_ref (NixExecRunEnv *env)
{
  g_atomic_ref_count_inc (&env->ref_count);
  return env;
}

void
nix_exec_run_env_unref (NixExecRunEnv *env)
{
  if (!g_atomic_ref_count_dec (&env->ref_count))
    return;

  /* The last run is over: nothing can use a worker again. */
  nix_exec_pool_shutdown (env->pool);
  nix_exec_pool_unref (env->pool);
  nix_exec_slots_unref (env->slots);
  g_clear_object (&env->runtimes);
  g_object_unref (env->config);
  g_free (env->nix_path);
  g_free (env->isolation_reason);
  g_free (env->bwrap_path);
  g_free (env);
}
