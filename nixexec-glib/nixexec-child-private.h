/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * One child process, run to the end under a deadline and output caps.
 *
 * The child gets its own session and process group, SIGKILL when this
 * process dies, the input on stdin (a sealed memfd, so there is no pipe to
 * block on and no SIGPIPE), and two pipes that are read by bounded readers.
 * When the child exits, when the deadline passes, when stdout goes over its
 * cap or when the caller cancels, the whole process group is killed.
 */

typedef enum {
  NIX_EXEC_CHILD_FLAGS_NONE = 0,
  /* argv[0] is bwrap with --unshare-pid and --info-fd
   * NIX_EXEC_CHILD_INFO_FD: the run ends only once the pid namespace is
   * gone, and everything the stage started with it; killing kills the
   * namespace's init along with the process group. */
  NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE = 1 << 0,
} NixExecChildFlags;

/* With NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE, the child's fd on which bwrap
 * says which process is the namespace's init. */
#define NIX_EXEC_CHILD_INFO_FD 4

/* Reads bwrap's info, {"child-pid": N, "pid-namespace": M, ...}: the host
 * pid of the namespace's init, and the inode of the namespace (0 when not
 * said). FALSE when @data (possibly empty or cut short) says no pid. */
gboolean            nix_exec_child_parse_bwrap_info (const guint8 *data,
                                                     gsize         length,
                                                     GPid         *out_pid,
                                                     guint64      *out_pid_ns);

/* What a stage process gave back, before it is understood (see
 * nixexec-outcome.c). A warm worker's call gives the same: framed, when the
 * worker answered, with the payload of its response frame as stdout_bytes
 * and nothing to say of its exit (it lives on); otherwise how it died. */
typedef struct
{
  GBytes   *stdout_bytes;
  GBytes   *stderr_bytes;
  gboolean  stderr_truncated;
  gboolean  framed;          /* TRUE: a worker's response; no exit below */
  gboolean  answered_before; /* a worker that had answered a call: its stage ran */
  gboolean  exited;          /* TRUE: exit_status is valid; FALSE: term_signal is */
  int       exit_status;
  int       term_signal;
  gint64    duration;        /* microseconds from spawn to reap */
} NixExecChildResult;

void                nix_exec_child_result_free (NixExecChildResult *result);

/*
 * The child-setup function of every stage process (one-shot and warm
 * worker): a session and process group of its own, and SIGKILL when this
 * process dies. @user_data is GINT_TO_POINTER (getpid ()) of the parent.
 * Runs between fork and exec: async-signal-safe calls only.
 */
void                nix_exec_child_setup       (gpointer            user_data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecChildResult, nix_exec_child_result_free)

/*
 * @fd3_data: when not NULL, the child's fd 3 is a file holding these bytes,
 * read from the start (bwrap's --args).
 * @fd5_data: likewise for fd 5 (NIX_EXEC_SECCOMP_FD, bwrap's --seccomp).
 * @timeout_ms: 0 for no deadline. Failures: G_SPAWN_ERROR / G_IO_ERROR from
 * spawning, NIX_EXEC_ERROR_TIMED_OUT, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
 * G_IO_ERROR_CANCELLED. A non-zero exit is not an error here.
 */
void                nix_exec_child_run_async   (const char * const  *argv,
                                                const char * const  *envp,
                                                NixExecChildFlags    flags,
                                                GBytes              *input,
                                                GBytes              *fd3_data,
                                                GBytes              *fd5_data,
                                                guint64              max_stdout_bytes,
                                                guint64              max_stderr_bytes,
                                                guint                timeout_ms,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
NixExecChildResult *nix_exec_child_run_finish  (GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
