/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The library's one I/O thread and its main context. See nixexec-io.c.
 */

/* The context every child, worker and nix process of the library is
 * watched from; starts the thread on first use. Never NULL. */
GMainContext *nix_exec_io_get_context     (void);
/* TRUE on the I/O thread itself. */
gboolean      nix_exec_io_is_io_thread    (void);
/* Runs @func (@data) on the I/O thread, always later (never from inside
 * this call), at G_PRIORITY_DEFAULT; @notify frees @data afterwards. */
void          nix_exec_io_dispatch        (GSourceFunc     func,
                                           gpointer        data,
                                           GDestroyNotify  notify);
/* Runs @func (@data) on @context, later, at G_PRIORITY_DEFAULT. */
void          nix_exec_io_dispatch_to     (GMainContext   *context,
                                           GSourceFunc     func,
                                           gpointer        data,
                                           GDestroyNotify  notify);

G_END_DECLS
