/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "nixexec-env-private.h"
#include "nixexec-prepared-private.h"

G_BEGIN_DECLS

/*
 * One call of a stage, from its turn in the queue to its answer: see
 * nixexec-run.c.
 */

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

typedef void (*NixExecRunResolvedFunc) (GTask                *task,
                                        const NixExecRuntime *runtime);

/*
 * Resolves the runtimes that @stages (NixExecPrepared *) need, each once,
 * concurrently, and answers @task (taken) with TRUE or the first failure.
 * @resolved is called on @task's context for each runtime resolved, before
 * @task is answered. Stages that cannot run are left out.
 */
void           nix_exec_run_warmup    (NixExecRunEnv          *env,
                                       GPtrArray              *stages,
                                       NixExecRunResolvedFunc  resolved,
                                       GTask                  *task);

G_END_DECLS
