/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running one child process to the end, boundedly.
 *
 * g_subprocess_communicate() is not enough for untrusted children: it keeps
 * everything the child writes in memory, and when a grandchild inherits
 * stdout it never finishes, even after g_subprocess_force_exit(). So:
 *
 *  - The child calls setsid() before exec, so its pid is also the id of a
 *    fresh process group holding it and everything it forks (unless one of
 *    those calls setsid() itself). Killing means kill (-pid, SIGKILL).
 *  - PR_SET_PDEATHSIG makes the kernel kill the child if we die first.
 *  - stdin is a memfd holding the whole input: the child reads it at its own
 *    pace, we never block on a pipe and never get SIGPIPE.
 *  - stdout and stderr are pipes read in chunks no larger than what the cap
 *    still allows, so at most cap + 1 bytes are ever held. Going over the
 *    stdout cap kills the group; stderr past its cap is read and dropped.
 *  - The operation ends when the child has been reaped and both pipes are
 *    done. When the child exits, the rest of its group is killed, which
 *    closes the pipes; a pipe still open a grace period later (a grandchild
 *    that escaped the group) is abandoned rather than waited on.
 *  - The deadline and the caller's cancellable are GSources on the caller's
 *    main context, so every callback here runs on that one context: in the
 *    library, always the I/O thread's (nixexec-io.c).
 *  - A child that is bwrap with a pid namespace (NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE)
 *    puts the stage in a session of its own, out of reach of the group
 *    kill; and bwrap's outer process, our child, exits as soon as the
 *    stage's first process does, while the namespace's init, and whatever
 *    the stage left running, lives on until --die-with-parent kills it. So
 *    the namespace is watched through its init, whose host pid bwrap writes
 *    on its --info-fd (our fd 4) as soon as it has cloned it. The kernel
 *    makes init a zombie only after it has killed and reaped every other
 *    process of the namespace, so the run ends once that init is a zombie
 *    or gone; closing its files comes earlier in its exit, so the end of a
 *    pipe it holds would not do. Killing kills that init, which takes the
 *    whole namespace with it, as well as the group. Its start time and its
 *    pid namespace, read when its pid is, tell it from a later process that
 *    got the same pid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>

#include "nixexec-child-private.h"
#include "nixexec-error.h"
#include "nixexec-json-private.h"
#include "nixexec-orphans-private.h"
#include "nixexec-seccomp-private.h"

#define READ_CHUNK_SIZE  (64 * 1024)
#define PIPE_GRACE_MS    1000
/* A GByteArray holds at most G_MAXUINT bytes; larger caps mean "this much". */
#define MAX_CAP          ((guint64) G_MAXUINT - READ_CHUNK_SIZE - 1)
/* How long a reaped bwrap's namespace may take to go; it takes milliseconds
 * unless something is badly wrong. */
#define NAMESPACE_GRACE_MS 10000
#define NAMESPACE_POLL_MS  2
#define INFO_MAX_BYTES     4096
/* What one run may hold at once, at most (see check_descriptors). */
#define DESCRIPTORS_PER_RUN 17

typedef struct
{
  GSubprocess  *subprocess;
  GPid          pid;
  GCancellable *io_cancellable;  /* owned; cancels the pipe reads */
  GSource      *deadline_source; /* owned, attached */
  GSource      *cancel_source;   /* owned, attached; watches the caller's cancellable */
  GSource      *grace_source;    /* owned, attached */
  NixExecChildFlags flags;
  /* NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE only. */
  GCancellable *info_cancellable;  /* owned; gives up on bwrap's info */
  GByteArray   *info;            /* what bwrap wrote on its info fd */
  gboolean      info_done;
  GPid          init_pid;        /* the namespace's init, 0 when unknown or gone */
  guint64       init_start_time; /* its start time, 0 when unknown */
  guint64       init_pid_ns;     /* the inode of its pid namespace, 0 when unknown */
  gboolean      watch_started;
  GSource      *watch_source;    /* owned, attached; polls for init's end */
  GSource      *info_grace_source; /* owned, attached */
  gint64        watch_deadline;
  GByteArray   *out;
  GByteArray   *err;
  guint64       max_out;
  guint64       max_err;
  gboolean      err_truncated;
  /* The wait and the two readers; with a pid namespace, also bwrap's info
   * and the namespace's end. */
  guint         pending;
  GError       *error;           /* the first reason the child was killed */
  gboolean      reaped;
  int           wait_status;
  gint64        started_at;
  gint64        reaped_at;
} ChildRun;

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
child_run_free (ChildRun *run)
{
  destroy_source (&run->deadline_source);
  destroy_source (&run->cancel_source);
  destroy_source (&run->grace_source);
  destroy_source (&run->watch_source);
  destroy_source (&run->info_grace_source);
  g_clear_object (&run->subprocess);
  g_clear_object (&run->io_cancellable);
  g_clear_object (&run->info_cancellable);
  g_clear_pointer (&run->info, g_byte_array_unref);
  g_clear_pointer (&run->out, g_byte_array_unref);
  g_clear_pointer (&run->err, g_byte_array_unref);
  g_clear_error (&run->error);
  g_free (run);
}

void
nix_exec_child_result_free (NixExecChildResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->stdout_bytes, g_bytes_unref);
  g_clear_pointer (&result->stderr_bytes, g_bytes_unref);
  g_free (result);
}

void
nix_exec_child_setup (gpointer user_data)
{
  pid_t parent = GPOINTER_TO_INT (user_data);

  /* Only async-signal-safe calls here: we are between fork and exec. */
  setsid ();
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died before prctl took effect. */
  if (getppid () != parent)
    _exit (127);
}

static void
kill_group (ChildRun *run)
{
  /* The group outlives its leader while any member is alive, and the kernel
   * does not hand out a pid still in use as a process group id, so this is
   * safe before and after the leader has been reaped. */
  if (run->pid > 0)
    kill (-run->pid, SIGKILL);
}

/* SIGKILLs the children of @pid; how many were found. */
static guint
kill_children_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/children", (int) pid, (int) pid);
  g_autofree char *contents = NULL;
  guint killed = 0;

  /* The children file needs CONFIG_PROC_CHILDREN; without it, every
   * process's parent is read instead. Either way the pids are those of
   * children the unreaped bwrap has not reaped either, so they are still
   * its own. */
  if (g_file_get_contents (path, &contents, NULL, NULL))
    {
      g_auto(GStrv) pids = g_strsplit (g_strstrip (contents), " ", -1);

      for (guint i = 0; pids[i] != NULL; i++)
        {
          GPid child = (GPid) g_ascii_strtoll (pids[i], NULL, 10);

          if (child > 0 && kill (child, SIGKILL) == 0)
            killed++;
        }
      return killed;
    }
  else
    {
      g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
      const char *name;

      while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
        {
          g_autofree char *stat_path = NULL;
          g_autofree char *stat = NULL;
          const char *close_paren;
          int ppid = 0;

          if (!g_ascii_isdigit (name[0]))
            continue;
          stat_path = g_build_filename ("/proc", name, "stat", NULL);
          if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
            continue;
          /* "pid (comm) state ppid ...", comm may hold anything. */
          close_paren = strrchr (stat, ')');
          if (close_paren == NULL || sscanf (close_paren + 1, " %*c %d", &ppid) != 1)
            continue;
          if (ppid == pid && kill ((pid_t) g_ascii_strtoll (name, NULL, 10), SIGKILL) == 0)
            killed++;
        }
    }

  return killed;
}

/* The inode of @pid's pid namespace, 0 when it cannot be read. */
static guint64
read_pid_namespace (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/pid", (int) pid);
  g_autofree char *target = g_file_read_link (path, NULL);
  const char *bracket = target != NULL ? strchr (target, '[') : NULL;

  return bracket != NULL ? g_ascii_strtoull (bracket + 1, NULL, 10) : 0;
}

/* Whether the namespace's init has died, and with it everything else in
 * the namespace. */
static gboolean
namespace_gone (ChildRun *run)
{
  guint64 start_time = 0;
  guint64 pid_ns;
  char state = '?';

  if (run->init_pid <= 0)
    return TRUE;
  if (!nix_exec_orphans_read_stat (run->init_pid, &state, NULL, &start_time) ||
      state == 'Z' || state == 'X' ||
      (run->init_start_time != 0 && start_time != run->init_start_time))
    return TRUE;
  pid_ns = read_pid_namespace (run->init_pid);
  return run->init_pid_ns != 0 && pid_ns != 0 && pid_ns != run->init_pid_ns;
}

gboolean
nix_exec_child_parse_bwrap_info (const guint8 *data,
                                 gsize         length,
                                 GPid         *out_pid,
                                 guint64      *out_pid_ns)
{
  g_autoptr(JsonNode) root = nix_exec_json_read ((const char *) data, length, NULL);
  JsonObject *object;
  JsonNode *member;

  *out_pid = 0;
  *out_pid_ns = 0;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  object = json_node_get_object (root);
  member = json_object_get_member (object, "pid-namespace");
  if (member != NULL && json_node_get_value_type (member) == G_TYPE_INT64)
    *out_pid_ns = (guint64) MAX (json_node_get_int (member), 0);
  member = json_object_get_member (object, "child-pid");
  if (member == NULL || json_node_get_value_type (member) != G_TYPE_INT64 ||
      json_node_get_int (member) <= 0 || json_node_get_int (member) > G_MAXINT)
    return FALSE;
  *out_pid = (GPid) json_node_get_int (member);
  return TRUE;
}

/* Reads the namespace's init from bwrap's info, and what tells it apart
 * later. The info is empty or cut short when bwrap failed or was killed
 * before it wrote it all: then init stays unknown. */
static void
parse_info (ChildRun *run)
{
  guint64 start_time = 0;
  char state = '?';

  if (!nix_exec_child_parse_bwrap_info (run->info->data, run->info->len,
                                        &run->init_pid, &run->init_pid_ns) ||
      !nix_exec_orphans_read_stat (run->init_pid, &state, NULL, &start_time))
    {
      run->init_pid = 0;
      return;
    }
  if (state == 'Z' || state == 'X')
    {
      nix_exec_orphans_reap (run->init_pid, start_time);
      run->init_pid = 0;
      return;
    }
  run->init_start_time = start_time;
  if (run->init_pid_ns != 0 && read_pid_namespace (run->init_pid) != run->init_pid_ns)
    run->init_pid = 0;   /* already gone, and its pid taken */
}

static void
kill_child (ChildRun *run)
{
  if ((run->flags & NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE) != 0)
    {
      /* The namespace's init: its death takes everything in the namespace,
       * sessions of their own included. Before bwrap has said which it is,
       * bwrap's children are the candidates. */
      if (run->init_pid > 0 && !namespace_gone (run))
        kill (run->init_pid, SIGKILL);
      else if (!run->info_done && !run->reaped && run->pid > 0)
        kill_children_of (run->pid);
    }
  kill_group (run);
}

/* Kill the child for @error (taken), unless it was already killed. */
static void
child_run_abort (GTask  *task,
                 GError *error)
{
  ChildRun *run = g_task_get_task_data (task);

  if (run->error == NULL)
    run->error = error;
  else
    g_error_free (error);

  kill_child (run);
  g_cancellable_cancel (run->io_cancellable);
  destroy_source (&run->deadline_source);
  destroy_source (&run->cancel_source);
}

static void
child_run_maybe_complete (GTask *task)
{
  ChildRun *run = g_task_get_task_data (task);
  NixExecChildResult *result;

  g_assert (run->pending > 0);
  if (--run->pending > 0)
    return;

  destroy_source (&run->grace_source);
  destroy_source (&run->watch_source);
  destroy_source (&run->info_grace_source);
  destroy_source (&run->deadline_source);
  destroy_source (&run->cancel_source);

  /* The namespace is gone; on a host that adopts orphans its init is now
   * our zombie. */
  if (run->init_pid > 0)
    nix_exec_orphans_reap (run->init_pid, run->init_start_time);

  if (run->error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&run->error));
      g_object_unref (task);
      return;
    }

  result = g_new0 (NixExecChildResult, 1);
  result->duration = run->reaped_at - run->started_at;
  result->stdout_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&run->out));
  result->stderr_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&run->err));
  result->stderr_truncated = run->err_truncated;
  if (WIFEXITED (run->wait_status))
    {
      result->exited = TRUE;
      result->exit_status = WEXITSTATUS (run->wait_status);
    }
  else if (WIFSIGNALED (run->wait_status))
    {
      result->term_signal = WTERMSIG (run->wait_status);
    }

  g_task_return_pointer (task, result, (GDestroyNotify) nix_exec_child_result_free);
  g_object_unref (task);
}

static gboolean
on_pipe_grace_expired (gpointer user_data)
{
  GTask *task = user_data;
  ChildRun *run = g_task_get_task_data (task);

  /* Something outside the process group still holds a pipe open; what was
   * read so far is all the child itself wrote before it exited. */
  g_cancellable_cancel (run->io_cancellable);
  g_clear_pointer (&run->grace_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
on_watch_poll (gpointer user_data)
{
  GTask *task = user_data;
  ChildRun *run = g_task_get_task_data (task);

  if (!namespace_gone (run))
    {
      if (g_get_monotonic_time () < run->watch_deadline)
        return G_SOURCE_CONTINUE;
      g_warning ("The sandbox of child %d was still alive %d ms after it exited; "
                 "no longer waiting for it", (int) run->pid, NAMESPACE_GRACE_MS);
    }

  g_clear_pointer (&run->watch_source, g_source_unref);
  child_run_maybe_complete (task);
  return G_SOURCE_REMOVE;
}

/* Once bwrap is reaped and has said which process is the namespace's init,
 * waits for that init to be gone. */
static void
maybe_watch_namespace (GTask *task)
{
  ChildRun *run = g_task_get_task_data (task);

  if ((run->flags & NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE) == 0 || run->watch_started ||
      !run->reaped || !run->info_done)
    return;
  run->watch_started = TRUE;

  if (namespace_gone (run))
    {
      child_run_maybe_complete (task);
      return;
    }

  /* --die-with-parent is on its way; do not wait for it. */
  kill (run->init_pid, SIGKILL);
  run->watch_deadline = g_get_monotonic_time () + NAMESPACE_GRACE_MS * G_TIME_SPAN_MILLISECOND;
  run->watch_source = g_timeout_source_new (NAMESPACE_POLL_MS);
  g_source_set_callback (run->watch_source, on_watch_poll, task, NULL);
  g_source_set_static_name (run->watch_source, "[nixexec] namespace end");
  g_source_attach (run->watch_source, g_task_get_context (task));
}

static gboolean
on_info_grace_expired (gpointer user_data)
{
  ChildRun *run = user_data;

  g_cancellable_cancel (run->info_cancellable);
  g_clear_pointer (&run->info_grace_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
on_wait_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  ChildRun *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  /* Without a cancellable, waiting fails only on programming errors. */
  if (!g_subprocess_wait_finish (G_SUBPROCESS (object), result, &error))
    g_warning ("Waiting for child %d failed: %s", (int) run->pid, error->message);

  run->reaped = TRUE;
  run->reaped_at = g_get_monotonic_time ();
  run->wait_status = g_subprocess_get_status (G_SUBPROCESS (object));

  /* bwrap's info pipe reaches its end now that bwrap is gone: nothing
   * else holds it. Should it not, stop waiting on it eventually. */
  if (run->info_cancellable != NULL && !run->info_done && run->info_grace_source == NULL)
    {
      run->info_grace_source = g_timeout_source_new (NAMESPACE_GRACE_MS);
      g_source_set_callback (run->info_grace_source, on_info_grace_expired, run, NULL);
      g_source_set_static_name (run->info_grace_source, "[nixexec] sandbox info grace");
      g_source_attach (run->info_grace_source, g_task_get_context (task));
    }

  /* Whatever the child left behind in its group goes with it; this is also
   * what lets the pipes reach end-of-file. */
  kill_group (run);
  /* On a host that adopts orphans, what the stage left is now ours. */
  nix_exec_orphans_reap_group (run->pid);
  /* The child is gone: a deadline or a cancel during the pipe grace period
   * must not turn its finished run into a failure, nor signal a process
   * group that no longer is its. */
  run->pid = 0;
  destroy_source (&run->deadline_source);
  destroy_source (&run->cancel_source);

  if (run->pending > 1 && run->grace_source == NULL)
    {
      run->grace_source = g_timeout_source_new (PIPE_GRACE_MS);
      g_source_set_callback (run->grace_source, on_pipe_grace_expired, task, NULL);
      g_source_set_static_name (run->grace_source, "[nixexec] child pipe grace");
      g_source_attach (run->grace_source, g_task_get_context (task));
    }

  maybe_watch_namespace (task);
  child_run_maybe_complete (task);
}

typedef enum {
  PIPE_STDOUT,
  PIPE_STDERR,
  PIPE_INFO,       /* bwrap's --info-fd */
} PipeKind;

typedef struct
{
  GTask        *task;   /* borrowed: the task outlives its readers */
  GInputStream *stream; /* owned */
  PipeKind      kind;
} PipeReader;

static void read_next_chunk (PipeReader *reader);

static void
pipe_reader_finish (PipeReader *reader)
{
  GTask *task = reader->task;
  ChildRun *run = g_task_get_task_data (task);

  if (reader->kind == PIPE_INFO)
    {
      parse_info (run);
      run->info_done = TRUE;
      /* Killed before bwrap said which process is init: kill it now. */
      if (run->error != NULL)
        kill_child (run);
      maybe_watch_namespace (task);
    }

  g_input_stream_close (reader->stream, NULL, NULL);
  g_object_unref (reader->stream);
  g_free (reader);
  child_run_maybe_complete (task);
}

static void
on_chunk_read (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  PipeReader *reader = user_data;
  ChildRun *run = g_task_get_task_data (reader->task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gsize size;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, &error);
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      /* End of file, or the read was cancelled because the run is over. */
      pipe_reader_finish (reader);
      return;
    }

  size = g_bytes_get_size (bytes);
  if (reader->kind == PIPE_INFO)
    {
      if (run->info->len + size > INFO_MAX_BYTES)
        {
          pipe_reader_finish (reader);
          return;
        }
      g_byte_array_append (run->info, g_bytes_get_data (bytes, NULL), size);
    }
  else if (reader->kind == PIPE_STDOUT)
    {
      if (run->out->len + size > run->max_out)
        {
          child_run_abort (reader->task,
                           g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
                                        "The output went over the limit of %" G_GUINT64_FORMAT " bytes",
                                        run->max_out));
          pipe_reader_finish (reader);
          return;
        }
      g_byte_array_append (run->out, g_bytes_get_data (bytes, NULL), size);
    }
  else
    {
      guint64 room = run->max_err - MIN (run->max_err, run->err->len);

      if (size > room)
        run->err_truncated = TRUE;
      g_byte_array_append (run->err, g_bytes_get_data (bytes, NULL), MIN (size, room));
    }

  read_next_chunk (reader);
}

static void
read_next_chunk (PipeReader *reader)
{
  ChildRun *run = g_task_get_task_data (reader->task);
  gsize count = READ_CHUNK_SIZE;
  GCancellable *cancellable = run->io_cancellable;

  /* Ask for no more than the cap still allows, plus one byte to notice
   * going over it: stdout never holds more than cap + 1 bytes. */
  if (reader->kind == PIPE_STDOUT)
    count = MIN (count, run->max_out - run->out->len + 1);
  else if (reader->kind == PIPE_INFO)
    {
      /* Killing the child does not stop this one: it says what else to
       * kill, and what to wait for. */
      count = INFO_MAX_BYTES;
      cancellable = run->info_cancellable;
    }

  g_input_stream_read_bytes_async (reader->stream, count, G_PRIORITY_DEFAULT,
                                   cancellable, on_chunk_read, reader);
}

static void
start_reader (GTask        *task,
              GInputStream *stream,
              PipeKind      kind)
{
  PipeReader *reader = g_new0 (PipeReader, 1);

  reader->task = task;
  reader->stream = g_object_ref (stream);
  reader->kind = kind;
  read_next_chunk (reader);
}

static gboolean
on_deadline (gpointer user_data)
{
  GTask *task = user_data;
  ChildRun *run = g_task_get_task_data (task);

  g_clear_pointer (&run->deadline_source, g_source_unref);
  child_run_abort (task, g_error_new_literal (NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT,
                                              "The time limit was reached"));
  return G_SOURCE_REMOVE;
}

static gboolean
on_caller_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;
  ChildRun *run = g_task_get_task_data (task);

  g_clear_pointer (&run->cancel_source, g_source_unref);
  child_run_abort (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                              "Operation was cancelled"));
  return G_SOURCE_REMOVE;
}

static int
input_memfd_new (GBytes  *input,
                 GError **error)
{
  gsize length = 0;
  const guint8 *data = input != NULL ? g_bytes_get_data (input, &length) : NULL;
  int fd;

  fd = memfd_create ("nixexec-input", MFD_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not create the input file for the child: %s",
                   g_strerror (saved_errno));
      return -1;
    }

  while (length > 0)
    {
      ssize_t written = write (fd, data, length);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0)
        {
          int saved_errno = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Could not write the input for the child: %s",
                       g_strerror (saved_errno));
          close (fd);
          return -1;
        }
      data += written;
      length -= written;
    }

  if (lseek (fd, 0, SEEK_SET) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not rewind the input for the child: %s",
                   g_strerror (saved_errno));
      close (fd);
      return -1;
    }

  return fd;
}

/* Whether there are descriptors enough for a run: its memfds and pipes,
 * GLib's own pipes for the spawn, and the epoll descriptor GIO makes for a
 * moment for each pipe stream — and aborts the process on failing to
 * make. So a run that could not have them all fails here, cleanly. Other
 * threads of the host may take some in the meantime; this is headroom, not
 * a reservation. */
static gboolean
check_descriptors (GError **error)
{
  int fds[DESCRIPTORS_PER_RUN];
  gsize n = 0;
  int saved_errno = 0;

  for (; n < G_N_ELEMENTS (fds); n++)
    {
      fds[n] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fds[n] < 0)
        {
          saved_errno = errno;
          break;
        }
    }
  for (gsize i = 0; i < n; i++)
    close (fds[i]);

  if (saved_errno == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "A run needs %u file descriptors, and this process cannot open them: %s",
               (guint) DESCRIPTORS_PER_RUN, g_strerror (saved_errno));
  return FALSE;
}

void
nix_exec_child_run_async (const char * const  *argv,
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
                          gpointer             user_data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  GTask *task;
  ChildRun *run;
  const char *identifier;
  int input_fd;
  int fd3 = -1;
  int fd5 = -1;
  int info_pipe[2] = { -1, -1 };
  g_autoptr(GInputStream) info_stream = NULL;

  g_return_if_fail (argv != NULL && argv[0] != NULL);
  g_return_if_fail (max_stdout_bytes > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_child_run_async);
  g_task_set_name (task, "[nixexec] child run");

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  if (!check_descriptors (&error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  run = g_new0 (ChildRun, 1);
  run->out = g_byte_array_new ();
  run->err = g_byte_array_new ();
  run->max_out = MIN (max_stdout_bytes, MAX_CAP);
  run->max_err = MIN (max_stderr_bytes, MAX_CAP);
  run->flags = flags;
  run->io_cancellable = g_cancellable_new ();
  g_task_set_task_data (task, run, (GDestroyNotify) child_run_free);

  input_fd = input_memfd_new (input, &error);
  if (input_fd < 0)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  if (fd3_data != NULL)
    {
      fd3 = input_memfd_new (fd3_data, &error);
      if (fd3 < 0)
        {
          close (input_fd);
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
    }

  if (fd5_data != NULL)
    {
      fd5 = input_memfd_new (fd5_data, &error);
      if (fd5 < 0)
        {
          close (input_fd);
          if (fd3 >= 0)
            close (fd3);
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_take_stdin_fd (launcher, input_fd);
  if (fd3 >= 0)
    g_subprocess_launcher_take_fd (launcher, fd3, 3);
  if (fd5 >= 0)
    g_subprocess_launcher_take_fd (launcher, fd5, NIX_EXEC_SECCOMP_FD);

  if ((flags & NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE) != 0)
    {
      /* Close-on-exec here, so that no other child of this process holds
       * the write end; the launcher puts it on fd 4 of this child only,
       * and closes our copy when it is freed. */
      if (!g_unix_open_pipe (info_pipe, FD_CLOEXEC, &error))
        {
          g_prefix_error (&error, "Could not create the sandbox's info pipe: ");
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
      info_stream = g_unix_input_stream_new (info_pipe[0], TRUE);
      g_subprocess_launcher_take_fd (launcher, info_pipe[1], NIX_EXEC_CHILD_INFO_FD);
      run->info_cancellable = g_cancellable_new ();
      run->info = g_byte_array_new ();
    }
  if (envp != NULL)
    g_subprocess_launcher_set_environ (launcher, (char **) envp);
  g_subprocess_launcher_set_child_setup (launcher, nix_exec_child_setup,
                                         GINT_TO_POINTER (getpid ()), NULL);

  run->started_at = g_get_monotonic_time ();
  run->subprocess = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (run->subprocess == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  /* The identifier is gone once the child is reaped; an interpreter cannot
   * start and exit in the moment since spawnv returned. */
  identifier = g_subprocess_get_identifier (run->subprocess);
  run->pid = identifier != NULL ? (GPid) g_ascii_strtoll (identifier, NULL, 10) : 0;

  /* The task holds itself until the wait and both readers are done; the
   * wait has no cancellable because the child is always reaped. */
  run->pending = info_stream != NULL ? 5 : 3;
  g_subprocess_wait_async (run->subprocess, NULL, on_wait_done, task);
  start_reader (task, g_subprocess_get_stdout_pipe (run->subprocess), PIPE_STDOUT);
  start_reader (task, g_subprocess_get_stderr_pipe (run->subprocess), PIPE_STDERR);
  if (info_stream != NULL)
    start_reader (task, info_stream, PIPE_INFO);

  if (timeout_ms > 0)
    {
      run->deadline_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (run->deadline_source, on_deadline, task, NULL);
      g_source_set_static_name (run->deadline_source, "[nixexec] child deadline");
      g_source_attach (run->deadline_source, g_task_get_context (task));
    }

  if (cancellable != NULL)
    {
      run->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (run->cancel_source, G_SOURCE_FUNC (on_caller_cancelled), task, NULL);
      g_source_set_static_name (run->cancel_source, "[nixexec] child cancel");
      g_source_attach (run->cancel_source, g_task_get_context (task));
    }
}

NixExecChildResult *
nix_exec_child_run_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
