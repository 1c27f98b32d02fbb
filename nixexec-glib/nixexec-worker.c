/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Warm workers: one stage process serving many calls.
 *
 * The wrapper script is started with one extra argument,
 * NIX_EXEC_WORKER_ARG. It loads the stage once, then reads request frames on
 * stdin and writes one response frame per request on its result channel
 * (the original stdout). A frame is the length of its payload in bytes, in
 * ASCII decimal, a '\n', then the payload (docs/protocol.md). Request
 * payload: the input JSON. Response payload: `{"ok": <value>}`, or the
 * wrapper's report object (`{"kind": …}`) as in one-shot mode. End of file on
 * stdin tells the worker to exit.
 *
 * Process control is the one-shot child's (nixexec-child.c): the same
 * child-setup function (own session and process group, PR_SET_PDEATHSIG),
 * and kill (-pgid, SIGKILL) for every way a call can go wrong. What differs:
 *
 *  - stdin is one end of a socketpair, written with send (MSG_NOSIGNAL): a
 *    worker that died never raises SIGPIPE in this process.
 *  - Every descriptor is non-blocking and watched by a GSource attached to
 *    the main context the worker was spawned on; the child watch too. So a
 *    worker belongs to one context, and nothing here needs a lock: only
 *    kill, is_alive, ref and unref are used from other threads.
 *  - stdout is read boundedly: a frame longer than the output cap kills the
 *    worker (OUTPUT_TOO_LARGE); anything on stdout that is not a frame, or
 *    comes outside a call, kills it as well.
 *  - stderr is drained all the time; what arrives during a call (up to the
 *    stderr cap) is that call's log, the rest is dropped. When a response
 *    arrives, stderr is first drained to what is already there, so that the
 *    lines the stage wrote before returning belong to its call.
 *  - A call that is aborted (deadline, cancel, cap) kills the worker and
 *    completes once the process has been reaped, so that the caller never
 *    sees a killed worker still alive. A worker that dies on its own during
 *    a call completes the call with its exit status or signal, which the
 *    executor turns into the one-shot error messages.
 *  - Unlike nixexec-child.c, no GSubprocess and no GIO streams: the worker
 *    is spawned with g_spawn_async_with_pipes_and_fds() and watched by a
 *    child-watch GSource, and its descriptors are read and written directly
 *    from GUnixFDSources. That puts every source explicitly on the worker's
 *    context (GIO async calls pick up whatever context is thread-default at
 *    each call), and lets stderr be drained synchronously when a response
 *    arrives, which an outstanding async read would forbid.
 *  - Sandboxed (isolation active), the command is the same bwrap one as a
 *    one-shot call's, with the worker argument at the end. bwrap puts the
 *    stage in a pid namespace and a session of its own, out of reach of
 *    the group kill; but bwrap's outer process, our child, is in the
 *    group and lives as long as the stage, and its --die-with-parent
 *    kills the namespace's init, hence the whole namespace, when it dies.
 *    So killing the group kills the sandbox too, without bwrap's info fd
 *    (which goes to /dev/null). Unlike a one-shot run, the end of a call is
 *    not made to wait until the namespace is gone: a killed worker is never
 *    called again, and the next call gets a new worker and namespace.
 *  - On reap, the rest of the process group is killed, both pipes are read
 *    to what is buffered, every descriptor is closed and every source
 *    destroyed: the sources hold references to the worker, and this is what
 *    breaks that cycle. A worker whose context is never iterated again stays
 *    referenced by that context's sources and is freed with the context.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "nixexec-child-private.h"
#include "nixexec-error.h"
#include "nixexec-frame-private.h"
#include "nixexec-orphans-private.h"
#include "nixexec-seccomp-private.h"
#include "nixexec-worker-private.h"

#define READ_CHUNK_SIZE  (64 * 1024)
#define HEADER_MAX       NIX_EXEC_FRAME_HEADER_MAX  /* digits of a frame length */

struct _NixExecWorker
{
  gatomicrefcount  ref_count;
  GMainContext    *context;   /* owned */
  GPid             pid;
  gint             dead;      /* atomic: killed, exited or unusable */
  gint             reaped;    /* atomic: waited for, its pid no longer ours */
  gint             finished;  /* atomic: reaped, and every fd and source gone */
  int              wait_status;

  int              in_fd;     /* our end of the stdin socketpair, or -1 */
  int              out_fd;    /* or -1 */
  int              err_fd;    /* or -1 */
  int              info_fd;   /* sandboxed: bwrap's info pipe until init is known, or -1 */
  gboolean         answered;  /* it has answered a call */
  GPid             init_pid;  /* sandboxed: the namespace's init, 0 when unknown */
  guint64          init_start_time;
  GSource         *watch_source; /* owned, attached; each source holds a ref */
  GSource         *out_source;
  GSource         *err_source;
  GSource         *in_source;

  GByteArray      *out;       /* stdout read and not consumed yet */
  GByteArray      *err;       /* stderr of the current call */
  gboolean         err_truncated;

  /* The current call; all NULL/0 between calls. */
  GTask           *call;      /* owned */
  GBytes          *frame;     /* owned: the request being sent */
  gsize            frame_sent;
  guint64          max_out;
  guint64          max_err;
  GSource         *deadline_source; /* owned, attached */
  GSource         *cancel_source;   /* owned, attached */
  GError          *call_error;      /* owned: why the call was aborted */
  gint64           started_at;
};

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    {
      close (*fd);
      *fd = -1;
    }
}

NixExecWorker *
nix_exec_worker_ref (NixExecWorker *worker)
{
  g_atomic_ref_count_inc (&worker->ref_count);
  return worker;
}

void
nix_exec_worker_unref (NixExecWorker *worker)
{
  if (!g_atomic_ref_count_dec (&worker->ref_count))
    return;

  /* Every attached source holds a reference, so none is left here but
   * (possibly) the source pointers of a worker that was never attached. */
  g_assert (worker->call == NULL);
  destroy_source (&worker->watch_source);
  destroy_source (&worker->out_source);
  destroy_source (&worker->err_source);
  destroy_source (&worker->in_source);
  close_fd (&worker->in_fd);
  close_fd (&worker->out_fd);
  close_fd (&worker->err_fd);
  close_fd (&worker->info_fd);
  g_clear_pointer (&worker->out, g_byte_array_unref);
  g_clear_pointer (&worker->err, g_byte_array_unref);
  g_clear_pointer (&worker->context, g_main_context_unref);
  g_free (worker);
}

GPid
nix_exec_worker_get_pid (NixExecWorker *worker)
{
  return worker->pid;
}

GMainContext *
nix_exec_worker_get_context (NixExecWorker *worker)
{
  return worker->context;
}

gboolean
nix_exec_worker_is_alive (NixExecWorker *worker)
{
  return !g_atomic_int_get (&worker->dead);
}

gboolean
nix_exec_worker_is_reaped (NixExecWorker *worker)
{
  return g_atomic_int_get (&worker->finished);
}

void
nix_exec_worker_kill (NixExecWorker *worker)
{
  g_atomic_int_set (&worker->dead, TRUE);
  /* Until the leader is reaped its pid cannot be reused as a group id. */
  if (!g_atomic_int_get (&worker->reaped))
    kill (-worker->pid, SIGKILL);
}

/* ------------------------------------------------------------------------ */

static void
finish_call (NixExecWorker      *worker,
             NixExecChildResult *result)
{
  g_autoptr(GTask) task = g_steal_pointer (&worker->call);

  g_assert (task != NULL);
  destroy_source (&worker->deadline_source);
  destroy_source (&worker->cancel_source);
  destroy_source (&worker->in_source);
  g_clear_pointer (&worker->frame, g_bytes_unref);
  worker->frame_sent = 0;

  /* The call is over before the caller hears of it: its callback may start
   * the next call on this worker. */
  if (result != NULL && result->framed)
    worker->answered = TRUE;
  if (result == NULL)
    g_task_return_error (task, g_steal_pointer (&worker->call_error));
  else
    g_task_return_pointer (task, result, (GDestroyNotify) nix_exec_child_result_free);
}

static NixExecChildResult *
call_result_new (NixExecWorker *worker)
{
  NixExecChildResult *result = g_new0 (NixExecChildResult, 1);

  result->duration = g_get_monotonic_time () - worker->started_at;
  result->stderr_bytes = g_bytes_new (worker->err->data, worker->err->len);
  result->stderr_truncated = worker->err_truncated;
  return result;
}

/* Kill the worker and fail the current call with @error (taken) once the
 * worker has been reaped; the first reason wins. */
static void
abort_call (NixExecWorker *worker,
            GError        *error)
{
  if (worker->call != NULL && worker->call_error == NULL)
    worker->call_error = error;
  else
    g_error_free (error);

  nix_exec_worker_kill (worker);
  destroy_source (&worker->deadline_source);
  destroy_source (&worker->cancel_source);
}

static void
drain_stderr (NixExecWorker *worker)
{
  guint8 buffer[READ_CHUNK_SIZE];

  while (worker->err_fd >= 0)
    {
      ssize_t n = read (worker->err_fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n <= 0)
        {
          destroy_source (&worker->err_source);
          close_fd (&worker->err_fd);
          return;
        }
      if (worker->call != NULL)
        {
          guint64 room = worker->max_err - MIN (worker->max_err, worker->err->len);

          if ((guint64) n > room)
            worker->err_truncated = TRUE;
          g_byte_array_append (worker->err, buffer, MIN ((guint64) n, room));
        }
    }
}

/* Looks for a complete response frame in worker->out. */
static void
process_output (NixExecWorker *worker)
{
  const guint8 *data = worker->out->data;
  gsize len = worker->out->len;
  g_autoptr(GError) error = NULL;
  NixExecFrame frame;
  NixExecChildResult *result;

  if (len == 0)
    return;

  if (worker->call == NULL || worker->call_error != NULL)
    {
      if (worker->call == NULL)
        {
          /* Nothing may come outside a call: the worker is out of step. */
          g_debug ("Worker %d wrote on stdout between calls; killing it", (int) worker->pid);
          nix_exec_worker_kill (worker);
        }
      g_byte_array_set_size (worker->out, 0);
      return;
    }

  switch (nix_exec_frame_parse (data, len, worker->max_out, &frame, &error))
    {
    case NIX_EXEC_FRAME_INCOMPLETE:
      return;
    case NIX_EXEC_FRAME_INVALID:
      abort_call (worker, g_steal_pointer (&error));
      g_byte_array_set_size (worker->out, 0);
      return;
    case NIX_EXEC_FRAME_COMPLETE:
    default:
      break;
    }
  /* One response per request: nothing may follow it. */
  if (frame.consumed < len)
    {
      abort_call (worker, nix_exec_frame_invalid_error_new (data, len));
      g_byte_array_set_size (worker->out, 0);
      return;
    }

  /* The log lines the stage wrote before answering are its call's. */
  drain_stderr (worker);

  /* What the payload says is not this module's business: the caller
   * decodes it (nixexec-outcome.c). */
  result = call_result_new (worker);
  result->framed = TRUE;
  result->stdout_bytes = g_bytes_new (data + frame.payload_offset, frame.payload_length);
  g_byte_array_set_size (worker->out, 0);
  finish_call (worker, result);
}

/* Reads stdout to what is there now; FALSE at end of file. */
/* Sandboxed: learns which process is the namespace's init from bwrap's
 * info, once the worker has written something. It is taken for the init
 * only while its parent is still bwrap's outer process, our child: then its
 * pid cannot have been reused. */
static void
note_init (NixExecWorker *worker)
{
  guint8 info[4096];
  gsize length = 0;
  guint64 pid_ns = 0;
  GPid pid = 0, ppid = 0;
  guint64 start_time = 0;

  if (worker->info_fd < 0)
    return;
  while (length < sizeof info)
    {
      ssize_t n = read (worker->info_fd, info + length, sizeof info - length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      length += n;
    }
  close_fd (&worker->info_fd);

  if (nix_exec_child_parse_bwrap_info (info, length, &pid, &pid_ns) &&
      nix_exec_orphans_read_stat (pid, NULL, &ppid, &start_time) && ppid == worker->pid)
    {
      worker->init_pid = pid;
      worker->init_start_time = start_time;
    }
}

static gboolean
read_output (NixExecWorker *worker)
{
  guint8 buffer[READ_CHUNK_SIZE];

  while (worker->out_fd >= 0)
    {
      /* At most the cap, a header and one byte to notice going over. */
      guint64 limit = worker->max_out + HEADER_MAX + 1;
      gsize count = sizeof buffer;
      ssize_t n;

      if (worker->call != NULL && worker->call_error == NULL)
        count = MIN (count, limit - MIN (limit, worker->out->len) + 1);

      n = read (worker->out_fd, buffer, count);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      if (n <= 0)
        {
          /* The worker is going away; its call ends when it is reaped. */
          close_fd (&worker->out_fd);
          return FALSE;
        }

      note_init (worker);
      g_byte_array_append (worker->out, buffer, n);
      if (worker->call != NULL && worker->call_error == NULL && worker->out->len > limit)
        {
          abort_call (worker, g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
                                           "The output went over the limit of %" G_GUINT64_FORMAT
                                           " bytes", worker->max_out));
          g_byte_array_set_size (worker->out, 0);
          continue;
        }
      process_output (worker);
    }
  return FALSE;
}

static gboolean
on_output_ready (int           fd,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  NixExecWorker *worker = user_data;

  if (read_output (worker))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&worker->out_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stderr_ready (int           fd,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  NixExecWorker *worker = user_data;

  drain_stderr (worker);
  if (worker->err_fd >= 0)
    return G_SOURCE_CONTINUE;
  /* drain_stderr destroyed the source (this one): keep returning REMOVE. */
  return G_SOURCE_REMOVE;
}

static void
on_child_exited (GPid     pid,
                 gint     wait_status,
                 gpointer user_data)
{
  NixExecWorker *worker = user_data;

  g_atomic_int_set (&worker->dead, TRUE);
  g_atomic_int_set (&worker->reaped, TRUE);
  worker->wait_status = wait_status;
  g_clear_pointer (&worker->watch_source, g_source_unref);

  /* Whatever the worker left in its group goes with it; it is dead, so
   * what it wrote is all in the pipes now. A response that made it out
   * before the exit still answers the call. */
  kill (-pid, SIGKILL);
  drain_stderr (worker);
  read_output (worker);
  /* A worker that wrote nothing has not read bwrap's info yet. */
  note_init (worker);
  /* On a host that adopts orphans, what the worker left is ours to reap. */
  nix_exec_orphans_reap (worker->init_pid, worker->init_start_time);
  nix_exec_orphans_reap_group (pid);

  if (worker->call != NULL)
    {
      if (worker->call_error != NULL)
        {
          finish_call (worker, NULL);
        }
      else
        {
          NixExecChildResult *result = call_result_new (worker);

          result->stdout_bytes = g_bytes_new (NULL, 0);
          result->answered_before = worker->answered;
          if (WIFEXITED (wait_status))
            {
              result->exited = TRUE;
              result->exit_status = WEXITSTATUS (wait_status);
            }
          else if (WIFSIGNALED (wait_status))
            {
              result->term_signal = WTERMSIG (wait_status);
            }
          finish_call (worker, result);
        }
    }

  /* Breaks the worker ↔ source reference cycle. */
  destroy_source (&worker->out_source);
  destroy_source (&worker->err_source);
  destroy_source (&worker->in_source);
  close_fd (&worker->in_fd);
  close_fd (&worker->out_fd);
  close_fd (&worker->err_fd);
  g_atomic_int_set (&worker->finished, TRUE);
}

static GSource *
attach_fd_source (NixExecWorker   *worker,
                  int              fd,
                  GIOCondition     condition,
                  GUnixFDSourceFunc func,
                  const char      *name)
{
  GSource *source = g_unix_fd_source_new (fd, condition);

  g_source_set_callback (source, G_SOURCE_FUNC (func), nix_exec_worker_ref (worker),
                         (GDestroyNotify) nix_exec_worker_unref);
  g_source_set_static_name (source, name);
  g_source_attach (source, worker->context);
  return source;
}

/* A file holding @data, read from its start. */
static int
data_memfd_new (GBytes  *data,
                GError **error)
{
  gsize length;
  const guint8 *bytes = g_bytes_get_data (data, &length);
  int fd = memfd_create ("nixexec-worker-options", MFD_CLOEXEC);

  if (fd < 0)
    goto fail;
  while (length > 0)
    {
      ssize_t written = write (fd, bytes, length);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0)
        goto fail;
      bytes += written;
      length -= written;
    }
  if (lseek (fd, 0, SEEK_SET) < 0)
    goto fail;
  return fd;

fail:
  {
    int saved_errno = errno;

    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "Could not pass the sandbox options to a worker: %s", g_strerror (saved_errno));
    return -1;
  }
}

NixExecWorker *
nix_exec_worker_spawn (const char * const  *argv,
                       const char * const  *envp,
                       GBytes              *fd3_data,
                       GBytes              *fd5_data,
                       GError             **error)
{
  g_autoptr(NixExecWorker) worker = NULL;
  int sv[2];
  int source_fds[3] = { -1, -1, -1 };
  int target_fds[3] = { 3, NIX_EXEC_CHILD_INFO_FD, NIX_EXEC_SECCOMP_FD };
  int info_pipe[2] = { -1, -1 };
  gsize n_fds = 0;
  gboolean spawned;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  if (fd3_data != NULL)
    {
      /* bwrap's options on fd 3. A worker is killed through bwrap itself,
       * whose --die-with-parent takes the namespace with it (see the top
       * of this file); its --info-fd only says which process is the
       * namespace's init, to be reaped on a host that adopts orphans. */
      source_fds[0] = data_memfd_new (fd3_data, error);
      if (source_fds[0] < 0)
        return NULL;
      if (!g_unix_open_pipe (info_pipe, FD_CLOEXEC, error) ||
          !g_unix_set_fd_nonblocking (info_pipe[0], TRUE, error))
        {
          close (source_fds[0]);
          for (gsize i = 0; i < 2; i++)
            if (info_pipe[i] >= 0)
              close (info_pipe[i]);
          g_prefix_error (error, "Could not create the info pipe of a worker: ");
          return NULL;
        }
      source_fds[1] = info_pipe[1];
      n_fds = 2;
    }

  if (fd5_data != NULL)
    {
      /* The fd arrays are paired by index: fd 5 comes after 3 and 4. */
      g_return_val_if_fail (n_fds == 2, NULL);
      source_fds[2] = data_memfd_new (fd5_data, error);
      if (source_fds[2] < 0)
        {
          for (gsize i = 0; i < n_fds; i++)
            close (source_fds[i]);
          close (info_pipe[0]);
          return NULL;
        }
      n_fds = 3;
    }

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int saved_errno = errno;
      for (gsize i = 0; i < n_fds; i++)
        close (source_fds[i]);
      if (info_pipe[0] >= 0)
        close (info_pipe[0]);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not create the input channel of a worker: %s",
                   g_strerror (saved_errno));
      return NULL;
    }

  worker = g_new0 (NixExecWorker, 1);
  g_atomic_ref_count_init (&worker->ref_count);
  worker->context = g_main_context_ref_thread_default ();
  worker->in_fd = sv[0];
  worker->out_fd = -1;
  worker->err_fd = -1;
  worker->info_fd = info_pipe[0];
  worker->out = g_byte_array_new ();
  worker->err = g_byte_array_new ();

  spawned = g_spawn_async_with_pipes_and_fds (NULL, argv, envp,
                                               G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                               G_SPAWN_CLOEXEC_PIPES,
                                               nix_exec_child_setup, GINT_TO_POINTER (getpid ()),
                                               sv[1], -1, -1,
                                               n_fds > 0 ? source_fds : NULL,
                                               n_fds > 0 ? target_fds : NULL, n_fds,
                                               &worker->pid, NULL, &worker->out_fd,
                                               &worker->err_fd, error);
  for (gsize i = 0; i < n_fds; i++)
    close (source_fds[i]);
  if (!spawned)
    {
      close (sv[1]);
      g_atomic_int_set (&worker->dead, TRUE);
      g_atomic_int_set (&worker->reaped, TRUE);
      g_atomic_int_set (&worker->finished, TRUE);
      return NULL;
    }
  close (sv[1]);

  g_unix_set_fd_nonblocking (worker->in_fd, TRUE, NULL);
  g_unix_set_fd_nonblocking (worker->out_fd, TRUE, NULL);
  g_unix_set_fd_nonblocking (worker->err_fd, TRUE, NULL);

  worker->watch_source = g_child_watch_source_new (worker->pid);
  g_source_set_callback (worker->watch_source, G_SOURCE_FUNC (on_child_exited),
                         nix_exec_worker_ref (worker), (GDestroyNotify) nix_exec_worker_unref);
  g_source_set_static_name (worker->watch_source, "[nixexec] worker exit");
  g_source_attach (worker->watch_source, worker->context);

  worker->out_source = attach_fd_source (worker, worker->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                         on_output_ready, "[nixexec] worker stdout");
  worker->err_source = attach_fd_source (worker, worker->err_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                         on_stderr_ready, "[nixexec] worker stderr");

  return g_steal_pointer (&worker);
}

/* ------------------------------------------------------------------------ */

static gboolean on_input_writable (int fd, GIOCondition condition, gpointer user_data);

/* Sends what the socket takes now; arranges for the rest. */
static void
send_frame (NixExecWorker *worker)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (worker->frame, &length);

  while (worker->frame_sent < length && worker->in_fd >= 0)
    {
      ssize_t n = send (worker->in_fd, data + worker->frame_sent, length - worker->frame_sent,
                        MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (worker->in_source == NULL)
            worker->in_source = attach_fd_source (worker, worker->in_fd, G_IO_OUT | G_IO_ERR,
                                                  on_input_writable, "[nixexec] worker stdin");
          return;
        }
      if (n < 0)
        {
          /* The worker closed its input: it is exiting, and the call ends
           * with its exit status when it is reaped. */
          g_debug ("Worker %d does not take input: %s", (int) worker->pid, g_strerror (errno));
          break;
        }
      worker->frame_sent += n;
    }
  destroy_source (&worker->in_source);
}

static gboolean
on_input_writable (int           fd,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  NixExecWorker *worker = user_data;

  if (worker->frame == NULL)
    {
      g_clear_pointer (&worker->in_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  /* send_frame destroys this source when the frame is out. */
  send_frame (worker);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  NixExecWorker *worker = user_data;

  g_clear_pointer (&worker->deadline_source, g_source_unref);
  abort_call (worker, g_error_new_literal (NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT,
                                           "The time limit was reached"));
  return G_SOURCE_REMOVE;
}

static gboolean
on_caller_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  NixExecWorker *worker = user_data;

  g_clear_pointer (&worker->cancel_source, g_source_unref);
  abort_call (worker, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                           "Operation was cancelled"));
  return G_SOURCE_REMOVE;
}

void
nix_exec_worker_call_async (NixExecWorker       *worker,
                            GBytes              *input,
                            guint                timeout_ms,
                            guint64              max_output_bytes,
                            guint64              max_stderr_bytes,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *header = NULL;
  GByteArray *frame;
  gsize length = 0;
  const guint8 *data;

  g_return_if_fail (worker != NULL);
  g_return_if_fail (max_output_bytes > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_worker_call_async);
  g_task_set_name (task, "[nixexec] worker call");
  /* The call keeps the worker; finish_call breaks the worker → call link. */
  g_task_set_task_data (task, nix_exec_worker_ref (worker), (GDestroyNotify) nix_exec_worker_unref);

  g_assert (worker->call == NULL);
  g_assert (g_task_get_context (task) == worker->context);

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!nix_exec_worker_is_alive (worker))
    {
      /* The pool checks before handing a worker out; a worker that died
       * since is reported like one that dies during the call. */
      g_task_return_new_error (task, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                               "The worker process %d has exited", (int) worker->pid);
      return;
    }

  worker->call = g_steal_pointer (&task);
  worker->max_out = max_output_bytes;
  worker->max_err = max_stderr_bytes;
  worker->err_truncated = FALSE;
  g_byte_array_set_size (worker->err, 0);
  worker->started_at = g_get_monotonic_time ();

  data = input != NULL ? g_bytes_get_data (input, &length) : NULL;
  header = g_strdup_printf ("%" G_GSIZE_FORMAT "\n", length);
  frame = g_byte_array_sized_new (strlen (header) + length);
  g_byte_array_append (frame, (const guint8 *) header, strlen (header));
  if (length > 0)
    g_byte_array_append (frame, data, length);
  worker->frame = g_byte_array_free_to_bytes (frame);
  worker->frame_sent = 0;

  if (timeout_ms > 0)
    {
      worker->deadline_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (worker->deadline_source, on_deadline, worker, NULL);
      g_source_set_static_name (worker->deadline_source, "[nixexec] worker deadline");
      g_source_attach (worker->deadline_source, worker->context);
    }

  if (cancellable != NULL)
    {
      worker->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (worker->cancel_source, G_SOURCE_FUNC (on_caller_cancelled),
                             worker, NULL);
      g_source_set_static_name (worker->cancel_source, "[nixexec] worker cancel");
      g_source_attach (worker->cancel_source, worker->context);
    }

  send_frame (worker);
}

NixExecChildResult *
nix_exec_worker_call_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
