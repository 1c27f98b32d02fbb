/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The warm-worker pool of one executor.
 *
 * Entries are keyed by what a worker can serve (the run pipeline builds the
 * key: interpreter, script and, sandboxed, effects; see nixexec-run.c). A
 * worker is busy from take (or add) to release. Released, it stays idle for
 * its keep-alive, and a timer then reaps it; idle workers that died or
 * outstayed their keep-alive are also dropped at every take, so an expired
 * worker is never handed out even if its timer has not run yet. Over
 * max_workers, the least recently used idle worker makes room; when every
 * worker is busy, the caller runs its call one-shot instead.
 *
 * In the library every worker lives on the I/O thread (nixexec-io.c), and
 * so does every call here but shutdown, which may come from any thread:
 * the entries are behind a mutex for it. Dropping an entry kills its worker
 * (kill (-pgid), no I/O, any thread); the worker's own child watch reaps
 * the process and closes its fds.
 */
#include "config.h"

#include "nixexec-pool-private.h"

#define SHUTDOWN_WAIT_USEC (5 * G_USEC_PER_SEC)

struct _NixExecPool
{
  gatomicrefcount  ref_count;
  guint            max_workers;
  GMutex           lock;      /* guards entries */
  GPtrArray       *entries;   /* Entry *, owned */
};

typedef struct
{
  NixExecWorker *worker;          /* owned */
  char          *key;             /* owned */
  gboolean       busy;
  gint64         last_used;       /* monotonic µs, when it last became idle */
  guint          keep_alive_secs; /* how long it may stay idle */
  GSource       *reap_source;     /* owned, attached while idle */
} Entry;

static void
entry_free (Entry *entry)
{
  if (entry->reap_source != NULL)
    {
      g_source_destroy (entry->reap_source);
      g_source_unref (entry->reap_source);
    }
  nix_exec_worker_kill (entry->worker);
  nix_exec_worker_unref (entry->worker);
  g_free (entry->key);
  g_free (entry);
}

NixExecPool *
nix_exec_pool_new (guint max_workers)
{
  NixExecPool *pool = g_new0 (NixExecPool, 1);

  g_atomic_ref_count_init (&pool->ref_count);
  g_mutex_init (&pool->lock);
  pool->max_workers = max_workers;
  pool->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  return pool;
}

NixExecPool *
nix_exec_pool_ref (NixExecPool *pool)
{
  g_atomic_ref_count_inc (&pool->ref_count);
  return pool;
}

void
nix_exec_pool_unref (NixExecPool *pool)
{
  if (!g_atomic_ref_count_dec (&pool->ref_count))
    return;

  /* Idle entries' timers hold a reference: none is left. */
  g_ptr_array_unref (pool->entries);
  g_mutex_clear (&pool->lock);
  g_free (pool);
}

/* Drops dead workers and idle ones past their keep-alive. */
static void
reap_locked (NixExecPool *pool,
             gint64       now)
{
  for (guint i = pool->entries->len; i-- > 0;)
    {
      Entry *entry = g_ptr_array_index (pool->entries, i);

      if (entry->busy)
        continue;
      if (!nix_exec_worker_is_alive (entry->worker) ||
          now - entry->last_used >= (gint64) entry->keep_alive_secs * G_USEC_PER_SEC)
        g_ptr_array_remove_index_fast (pool->entries, i);
    }
}

NixExecWorker *
nix_exec_pool_take (NixExecPool *pool,
                    const char  *key)
{
  NixExecWorker *worker = NULL;

  g_mutex_lock (&pool->lock);
  reap_locked (pool, g_get_monotonic_time ());
  for (guint i = 0; i < pool->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (pool->entries, i);

      if (entry->busy || !g_str_equal (entry->key, key))
        continue;
      entry->busy = TRUE;
      if (entry->reap_source != NULL)
        {
          g_source_destroy (entry->reap_source);
          g_clear_pointer (&entry->reap_source, g_source_unref);
        }
      worker = nix_exec_worker_ref (entry->worker);
      break;
    }
  g_mutex_unlock (&pool->lock);

  return worker;
}

gboolean
nix_exec_pool_make_room (NixExecPool *pool)
{
  gboolean room = TRUE;
  guint lru = G_MAXUINT;

  g_mutex_lock (&pool->lock);
  if (pool->max_workers == 0)
    room = FALSE;
  else if (pool->entries->len >= pool->max_workers)
    {
      for (guint i = 0; i < pool->entries->len; i++)
        {
          Entry *entry = g_ptr_array_index (pool->entries, i);

          if (!entry->busy &&
              (lru == G_MAXUINT ||
               entry->last_used < ((Entry *) g_ptr_array_index (pool->entries, lru))->last_used))
            lru = i;
        }
      if (lru != G_MAXUINT)
        g_ptr_array_remove_index_fast (pool->entries, lru);
      else
        room = FALSE;
    }
  g_mutex_unlock (&pool->lock);

  return room;
}

void
nix_exec_pool_add (NixExecPool   *pool,
                   const char    *key,
                   NixExecWorker *worker)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->worker = nix_exec_worker_ref (worker);
  entry->key = g_strdup (key);
  entry->busy = TRUE;

  g_mutex_lock (&pool->lock);
  g_ptr_array_add (pool->entries, entry);
  g_mutex_unlock (&pool->lock);
}

static gboolean
on_reap_timeout (gpointer user_data)
{
  NixExecPool *pool = user_data;

  g_mutex_lock (&pool->lock);
  /* The entry that owns this source may be freed right here: touch only
   * the pool, never the source. */
  reap_locked (pool, g_get_monotonic_time ());
  g_mutex_unlock (&pool->lock);
  return G_SOURCE_REMOVE;
}

void
nix_exec_pool_release (NixExecPool   *pool,
                       NixExecWorker *worker,
                       guint          keep_alive_secs)
{
  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < pool->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (pool->entries, i);

      if (entry->worker != worker)
        continue;

      if (!nix_exec_worker_is_alive (worker))
        {
          g_ptr_array_remove_index_fast (pool->entries, i);
          break;
        }

      entry->busy = FALSE;
      entry->last_used = g_get_monotonic_time ();
      entry->keep_alive_secs = keep_alive_secs;
      /* Not g_timeout_source_new_seconds(): it may fire up to a second
       * early, before the worker counts as expired. */
      entry->reap_source =
        g_timeout_source_new (MIN (keep_alive_secs, G_MAXUINT / 1000 - 1) * 1000 + 1);
      g_source_set_callback (entry->reap_source, on_reap_timeout, nix_exec_pool_ref (pool),
                             (GDestroyNotify) nix_exec_pool_unref);
      g_source_set_static_name (entry->reap_source, "[nixexec] worker keep-alive");
      g_source_attach (entry->reap_source, g_main_context_get_thread_default ());
      break;
    }
  g_mutex_unlock (&pool->lock);
}

guint
nix_exec_pool_get_size (NixExecPool *pool)
{
  guint size;

  g_mutex_lock (&pool->lock);
  size = pool->entries->len;
  g_mutex_unlock (&pool->lock);
  return size;
}

/* Waits for @worker to be reaped, until @deadline: by iterating its
 * context when this thread may, by polling while its own thread does. */
static void
wait_reaped (NixExecWorker *worker,
             gint64         deadline)
{
  GMainContext *context = nix_exec_worker_get_context (worker);

  /* Inside one of the context's own callbacks: the reap comes after. */
  if (g_main_context_is_owner (context))
    return;

  if (g_main_context_acquire (context))
    {
      while (!nix_exec_worker_is_reaped (worker) && g_get_monotonic_time () < deadline)
        if (!g_main_context_iteration (context, FALSE))
          g_usleep (1000);
      g_main_context_release (context);
      return;
    }

  while (!nix_exec_worker_is_reaped (worker) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
}

void
nix_exec_pool_shutdown (NixExecPool *pool)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) workers = g_ptr_array_new_with_free_func ((GDestroyNotify) nix_exec_worker_unref);
  gint64 deadline = g_get_monotonic_time () + SHUTDOWN_WAIT_USEC;

  g_mutex_lock (&pool->lock);
  entries = g_steal_pointer (&pool->entries);
  pool->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  g_mutex_unlock (&pool->lock);

  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (workers, nix_exec_worker_ref (((Entry *) g_ptr_array_index (entries, i))->worker));
  /* Kills them all at once, before waiting for any. */
  g_clear_pointer (&entries, g_ptr_array_unref);

  for (guint i = 0; i < workers->len; i++)
    wait_reaped (g_ptr_array_index (workers, i), deadline);
}
