/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "nixexec-worker-private.h"

G_BEGIN_DECLS

/*
 * The warm workers of one executor, busy and idle, keyed by what they can
 * serve. See nixexec-pool.c.
 */
typedef struct _NixExecPool NixExecPool;

NixExecPool   *nix_exec_pool_new       (guint          max_workers);
NixExecPool   *nix_exec_pool_ref       (NixExecPool   *pool);
void           nix_exec_pool_unref     (NixExecPool   *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecPool, nix_exec_pool_unref)

/* An idle, live worker for @key, now busy for a call; NULL when there is
 * none. Workers that died or outstayed their keep-alive go first. */
NixExecWorker *nix_exec_pool_take      (NixExecPool   *pool,
                                        const char    *key);
/* Whether a new worker may join: TRUE when there is room, or when the
 * least recently used idle worker was killed to make some; FALSE when the
 * pool is full of busy workers (or max_workers is 0). */
gboolean       nix_exec_pool_make_room (NixExecPool   *pool);
/* A new worker for @key joins, busy. */
void           nix_exec_pool_add       (NixExecPool   *pool,
                                        const char    *key,
                                        NixExecWorker *worker);
/* The call on @worker is over: it waits, idle, for @keep_alive_secs for
 * the next (a timer on the thread-default context reaps it then), or
 * leaves the pool when the call killed it. */
void           nix_exec_pool_release   (NixExecPool   *pool,
                                        NixExecWorker *worker,
                                        guint          keep_alive_secs);
/* How many workers the pool holds, busy and idle. */
guint          nix_exec_pool_get_size  (NixExecPool   *pool);
/* Kills every worker and forgets them. From any thread; off the workers'
 * thread, returns once they are reaped (their fds closed), or after 5 s. */
void           nix_exec_pool_shutdown  (NixExecPool   *pool);

G_END_DECLS
