/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bounded concurrency for stage runs.
 *
 * A slot is granted at once while fewer than max_slots are in use (0 means
 * no limit); otherwise the caller's task joins a FIFO queue and is answered
 * when a slot is released. A release hands its slot straight to the first
 * waiter, so the count never dips and a late caller cannot overtake the
 * queue.
 *
 * Cancelling a queued waiter removes it from the queue and answers it with
 * G_IO_ERROR_CANCELLED. A waiter cancelled after it was granted its slot
 * still gets the slot (the tasks do not check their cancellable), and the
 * caller, which checks, gives it back: a slot is never lost.
 */
#include "config.h"

#include "nixexec-slots-private.h"

struct _NixExecSlots
{
  gatomicrefcount  ref_count;
  GMutex           lock;
  guint            max_slots;   /* 0: unlimited */
  guint            in_use;
  GQueue           waiters;     /* GTask *, owned */
};

typedef struct
{
  NixExecSlots *slots;          /* owned */
  GSource      *cancel_source;  /* owned */
} Waiter;

NixExecSlots *
nix_exec_slots_new (guint max_slots)
{
  NixExecSlots *slots = g_new0 (NixExecSlots, 1);

  g_atomic_ref_count_init (&slots->ref_count);
  g_mutex_init (&slots->lock);
  slots->max_slots = max_slots;
  g_queue_init (&slots->waiters);
  return slots;
}

NixExecSlots *
nix_exec_slots_ref (NixExecSlots *slots)
{
  g_atomic_ref_count_inc (&slots->ref_count);
  return slots;
}

void
nix_exec_slots_unref (NixExecSlots *slots)
{
  if (!g_atomic_ref_count_dec (&slots->ref_count))
    return;

  /* Every waiter holds a reference, so none is left. */
  g_assert (g_queue_is_empty (&slots->waiters));
  g_mutex_clear (&slots->lock);
  g_free (slots);
}

static void
waiter_free (Waiter *waiter)
{
  if (waiter->cancel_source != NULL)
    {
      g_source_destroy (waiter->cancel_source);
      g_source_unref (waiter->cancel_source);
    }
  nix_exec_slots_unref (waiter->slots);
  g_free (waiter);
}

static gboolean
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;
  Waiter *waiter = g_task_get_task_data (task);
  NixExecSlots *slots = waiter->slots;
  gboolean was_queued;

  g_mutex_lock (&slots->lock);
  was_queued = g_queue_remove (&slots->waiters, task);
  g_mutex_unlock (&slots->lock);

  if (was_queued)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Operation was cancelled");
      g_object_unref (task);
    }

  return G_SOURCE_REMOVE;
}

void
nix_exec_slots_acquire_async (NixExecSlots        *slots,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Waiter *waiter;
  gboolean granted = FALSE;

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_slots_acquire_async);
  g_task_set_name (task, "[nixexec] wait for a slot");
  /* A granted slot must reach the caller even if it was cancelled meanwhile,
   * or it would be lost. */
  g_task_set_check_cancellable (task, FALSE);

  waiter = g_new0 (Waiter, 1);
  waiter->slots = nix_exec_slots_ref (slots);
  g_task_set_task_data (task, waiter, (GDestroyNotify) waiter_free);

  g_mutex_lock (&slots->lock);
  if (g_queue_is_empty (&slots->waiters) &&
      (slots->max_slots == 0 || slots->in_use < slots->max_slots))
    {
      slots->in_use++;
      granted = TRUE;
    }
  else
    {
      g_queue_push_tail (&slots->waiters, g_object_ref (task));
      if (cancellable != NULL)
        {
          waiter->cancel_source = g_cancellable_source_new (cancellable);
          g_source_set_callback (waiter->cancel_source, G_SOURCE_FUNC (on_waiter_cancelled),
                                 task, NULL);
          g_source_set_static_name (waiter->cancel_source, "[nixexec] slot cancel");
          g_source_attach (waiter->cancel_source, g_task_get_context (task));
        }
    }
  g_mutex_unlock (&slots->lock);

  if (granted)
    g_task_return_boolean (task, TRUE);
}

gboolean
nix_exec_slots_acquire_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
nix_exec_slots_release (NixExecSlots *slots)
{
  GTask *next;

  g_mutex_lock (&slots->lock);
  g_assert (slots->in_use > 0);
  next = g_queue_pop_head (&slots->waiters);
  if (next == NULL)
    slots->in_use--;
  g_mutex_unlock (&slots->lock);

  /* The slot passes to the next waiter as it is: in_use stays the same.
   * g_task_return_boolean() is safe from any thread; the waiter is answered
   * on its own context. */
  if (next != NULL)
    {
      g_task_return_boolean (next, TRUE);
      g_object_unref (next);
    }
}
