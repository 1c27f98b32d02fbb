/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Orphans that are ours to reap.
 *
 * A sandboxed stage runs under bwrap's pid namespace init, a child of
 * bwrap's outer process, which is our child. bwrap's outer process exits
 * as soon as the stage's first process does, and is reaped by the
 * GSubprocess or child watch that started it; its orphaned init is then
 * reparented to the nearest subreaper. On most hosts that is the system's
 * init, which reaps it. But when the host process is itself a subreaper (a
 * session manager, a supervisor) or PID 1 of its namespace (a container's
 * entrypoint), the init becomes our child, and nobody else will ever wait
 * for it: each sandboxed call would leave a zombie, until the pid limit
 * makes every fork fail.
 *
 * So each such init is handed here with the start time it had while it
 * was known to be ours. It is reaped (waitpid on that one pid, never -1:
 * the host's own children are the host's) once it is a zombie whose parent
 * is this process and whose start time is that one — a pid that is still
 * a zombie cannot have been reused. One still alive, or still bwrap's, is
 * polled from the I/O thread for a few seconds: --die-with-parent kills it
 * within milliseconds of bwrap's outer process. A host that adopts no
 * orphans never has anything here.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nixexec-io-private.h"
#include "nixexec-orphans-private.h"

#define POLL_MS     10
#define GIVE_UP_US  (10 * G_USEC_PER_SEC)

typedef struct
{
  GPid    pid;
  guint64 start_time;
  gint64  give_up_at;
} Orphan;

G_LOCK_DEFINE_STATIC (orphans);
static GArray  *pending;        /* of Orphan; guarded by the lock */
static GSource *poll_source;    /* on the I/O context, while pending is not empty */

static gboolean
read_stat (GPid     pid,
           char    *out_state,
           GPid    *out_ppid,
           GPid    *out_pgrp,
           guint64 *out_start_time)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *close_paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  /* "pid (comm) state ppid ...": comm may hold anything, spaces and
   * parentheses included. The start time is field 22, the 20th after comm. */
  close_paren = strrchr (stat, ')');
  if (close_paren == NULL || close_paren[1] != ' ')
    return FALSE;
  fields = g_strsplit (close_paren + 2, " ", 21);
  if (g_strv_length (fields) < 20)
    return FALSE;
  if (out_state != NULL)
    *out_state = fields[0][0];
  if (out_ppid != NULL)
    *out_ppid = (GPid) g_ascii_strtoll (fields[1], NULL, 10);
  if (out_pgrp != NULL)
    *out_pgrp = (GPid) g_ascii_strtoll (fields[2], NULL, 10);
  if (out_start_time != NULL)
    *out_start_time = g_ascii_strtoull (fields[19], NULL, 10);
  return TRUE;
}

gboolean
nix_exec_orphans_read_stat (GPid     pid,
                            char    *out_state,
                            GPid    *out_ppid,
                            guint64 *out_start_time)
{
  return read_stat (pid, out_state, out_ppid, NULL, out_start_time);
}

/* Whether orphans are reparented to this process. Asked at each call: a
 * host may become a subreaper at any time. */
static gboolean
adopts_orphans (void)
{
  int subreaper = 0;

  return getpid () == 1 ||
         (prctl (PR_GET_CHILD_SUBREAPER, &subreaper, 0, 0, 0) == 0 && subreaper != 0);
}

/* TRUE when @orphan needs no more watching: reaped now, or gone, or its
 * pid is another process's. */
static gboolean
try_reap (const Orphan *orphan)
{
  guint64 start_time = 0;
  GPid ppid = 0;
  char state = '?';

  if (!nix_exec_orphans_read_stat (orphan->pid, &state, &ppid, &start_time) ||
      start_time != orphan->start_time)
    return TRUE;
  if (ppid != getpid () || state != 'Z')
    return FALSE;
  /* Ours, and a zombie: its pid cannot have been reused. */
  waitpid (orphan->pid, NULL, WNOHANG);
  return TRUE;
}

static gboolean
on_poll (gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();
  gboolean again;

  G_LOCK (orphans);
  for (guint i = pending->len; i > 0; i--)
    {
      const Orphan *orphan = &g_array_index (pending, Orphan, i - 1);

      if (try_reap (orphan) || now > orphan->give_up_at)
        g_array_remove_index_fast (pending, i - 1);
    }
  again = pending->len > 0;
  if (!again)
    g_clear_pointer (&poll_source, g_source_unref);
  G_UNLOCK (orphans);

  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void
nix_exec_orphans_reap (GPid    pid,
                       guint64 start_time)
{
  Orphan orphan = { pid, start_time, g_get_monotonic_time () + GIVE_UP_US };

  if (pid <= 0 || !adopts_orphans () || try_reap (&orphan))
    return;

  G_LOCK (orphans);
  if (pending == NULL)
    pending = g_array_new (FALSE, FALSE, sizeof (Orphan));
  g_array_append_val (pending, orphan);
  if (poll_source == NULL)
    {
      poll_source = g_timeout_source_new (POLL_MS);
      g_source_set_callback (poll_source, on_poll, NULL, NULL);
      g_source_set_static_name (poll_source, "[nixexec] orphans");
      g_source_attach (poll_source, nix_exec_io_get_context ());
    }
  G_UNLOCK (orphans);
}

void
nix_exec_orphans_reap_group (GPid pgid)
{
  g_autofree char *tasks_path = NULL;
  g_autoptr(GDir) tasks = NULL;
  const char *task;

  if (pgid <= 0 || !adopts_orphans ())
    return;

  /* Orphans are reparented to one of this process's threads: read the
   * children of each. */
  tasks_path = g_strdup_printf ("/proc/%d/task", (int) getpid ());
  tasks = g_dir_open (tasks_path, 0, NULL);
  while (tasks != NULL && (task = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/children", tasks_path, task);
      g_autofree char *children = NULL;
      g_auto(GStrv) pids = NULL;

      if (!g_file_get_contents (path, &children, NULL, NULL))
        continue;
      pids = g_strsplit (g_strstrip (children), " ", -1);
      for (guint i = 0; pids[i] != NULL; i++)
        {
          GPid pid = (GPid) g_ascii_strtoll (pids[i], NULL, 10);
          guint64 start_time = 0;
          GPid pgrp = 0;

          /* The group's leader is the caller's to reap. */
          if (pid > 0 && pid != pgid &&
              read_stat (pid, NULL, NULL, &pgrp, &start_time) && pgrp == pgid)
            nix_exec_orphans_reap (pid, start_time);
        }
    }
}
