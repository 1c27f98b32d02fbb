/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "nixexec-child-private.h"

G_BEGIN_DECLS

/*
 * A warm worker: one long-lived stage process (a wrapper started with
 * NIX_EXEC_WORKER_ARG) that serves one call at a time over frames on its
 * stdin and stdout. See nixexec-worker.c.
 *
 * A worker is bound to the thread-default main context it was spawned on
 * (in the library, always the I/O thread's: nixexec-io.c): every source it
 * uses is attached there, and it must only be called from that context.
 * nix_exec_worker_kill(), nix_exec_worker_is_alive(), is_reaped, ref and
 * unref may be used from any thread.
 */
#define NIX_EXEC_WORKER_ARG "--nixexec-worker"

typedef struct _NixExecWorker NixExecWorker;

/* @envp: NULL to inherit ours. @fd3_data: when not NULL, the command is
 * bwrap (nixexec-sandbox.c): fd 3 is a file holding these bytes (its
 * options) and NIX_EXEC_CHILD_INFO_FD is /dev/null. @fd5_data: when not
 * NULL, NIX_EXEC_SECCOMP_FD is a file holding these bytes (bwrap's
 * --seccomp). */
NixExecWorker      *nix_exec_worker_spawn       (const char * const  *argv,
                                                 const char * const  *envp,
                                                 GBytes              *fd3_data,
                                                 GBytes              *fd5_data,
                                                 GError             **error);
NixExecWorker      *nix_exec_worker_ref         (NixExecWorker       *worker);
void                nix_exec_worker_unref       (NixExecWorker       *worker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecWorker, nix_exec_worker_unref)

GPid                nix_exec_worker_get_pid     (NixExecWorker       *worker);
GMainContext       *nix_exec_worker_get_context (NixExecWorker       *worker);
/* FALSE once the worker was killed or exited: it must never be called again. */
gboolean            nix_exec_worker_is_alive    (NixExecWorker       *worker);
/* TRUE once the process has been reaped and its fds closed. */
gboolean            nix_exec_worker_is_reaped   (NixExecWorker       *worker);
/* kill (-pgid, SIGKILL): no I/O, any thread. The process is reaped by the
 * child watch on the worker's context. */
void                nix_exec_worker_kill        (NixExecWorker       *worker);

/*
 * One call: @input (a JSON text) is sent as a frame and the response frame
 * is read back, as it is: the result is framed, with the payload as
 * stdout_bytes; or, when the worker died during the call, its exit status
 * or signal with empty stdout_bytes (the worker is dead). stderr_bytes holds
 * what the worker wrote on stderr during the call. nixexec-outcome.c says
 * what either means. Failures (each kills the worker):
 * NIX_EXEC_ERROR_TIMED_OUT, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE (a frame longer
 * than @max_output_bytes), NIX_EXEC_ERROR_INVALID_OUTPUT (not a frame),
 * G_IO_ERROR_CANCELLED.
 */
void                nix_exec_worker_call_async  (NixExecWorker       *worker,
                                                 GBytes              *input,
                                                 guint                timeout_ms,
                                                 guint64              max_output_bytes,
                                                 guint64              max_stderr_bytes,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
NixExecChildResult *nix_exec_worker_call_finish (GAsyncResult        *result,
                                                 GError             **error);

G_END_DECLS
