/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "nixexec-config.h"
#include "nixexec-pool-private.h"
#include "nixexec-prepared-private.h"
#include "nixexec-runtimes-private.h"
#include "nixexec-slots-private.h"

G_BEGIN_DECLS

/*
 * One call of a stage, from its turn in the queue to its answer: see
 * nixexec-run.c.
 */

/* What every run of one executor shares; refcounted, so that runs in flight
 * keep it whatever happens to the executor. Set once, then immutable. */
typedef struct
{
  gatomicrefcount  ref_count;
  NixExecConfig   *config;            /* owned */
  NixExecRuntimes *runtimes;          /* owned */
  NixExecSlots    *slots;             /* owned */
  NixExecPool     *pool;              /* owned */
  gboolean         isolation_active;
  char            *bwrap_path;        /* owned; NULL unless isolation is active */
  gboolean         bwrap_disable_userns;
} NixExecRunEnv;

/* Takes @config, @runtimes and @bwrap_path. */
NixExecRunEnv *nix_exec_run_env_new   (NixExecConfig    *config,
                                       NixExecRuntimes  *runtimes,
                                       gboolean          isolation_active,
                                       char             *bwrap_path,
                                       gboolean          bwrap_disable_userns);
NixExecRunEnv *nix_exec_run_env_ref   (NixExecRunEnv    *env);
void           nix_exec_run_env_unref (NixExecRunEnv    *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecRunEnv, nix_exec_run_env_unref)

/*
 * Runs @prepared on @input (its JSON text) and answers @task (taken) with a
 * NixExecResult (g_task_propagate_pointer) or an error, on @task's context.
 * May be called from any thread: the run itself happens on the library's
 * I/O thread. @task's cancellable cancels it.
 */
void           nix_exec_run_start     (NixExecRunEnv    *env,
                                       NixExecPrepared  *prepared,
                                       GBytes           *input,
                                       GTask            *task);

G_END_DECLS
