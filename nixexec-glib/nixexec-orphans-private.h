/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Reaping the processes the library starts indirectly — bwrap's pid
 * namespace init — when they are reparented to this process, which happens
 * when the host is a subreaper or PID 1. See nixexec-orphans.c.
 */

/* Reads @pid's state, parent and start time from /proc; FALSE when there
 * is no such process. Any of the out arguments may be NULL. */
gboolean nix_exec_orphans_read_stat (GPid     pid,
                                     char    *out_state,
                                     GPid    *out_ppid,
                                     guint64 *out_start_time);

/* @pid, started at @start_time (as nix_exec_orphans_read_stat() gives
 * it), is a process of the library's that may end up a child of this
 * process: reaps it once it is a zombie of ours, now or, on the I/O thread,
 * within a few seconds. Does nothing when this process adopts no orphans.
 * Any thread. */
void     nix_exec_orphans_reap      (GPid     pid,
                                     guint64  start_time);

/* Reaps, as nix_exec_orphans_reap() does, every child of this process in
 * the process group @pgid but its leader: what a stage started, orphaned
 * to this process and killed with the group. */
void     nix_exec_orphans_reap_group (GPid    pgid);

G_END_DECLS
