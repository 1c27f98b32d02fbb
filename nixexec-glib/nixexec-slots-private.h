/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A counting semaphore for stage runs, with a FIFO queue: callers acquire a
 * slot asynchronously, in the order they asked, and may cancel while they
 * wait. Thread-safe; each waiter is answered on its own main context.
 */
typedef struct _NixExecSlots NixExecSlots;

NixExecSlots *nix_exec_slots_new            (guint                max_slots);
NixExecSlots *nix_exec_slots_ref            (NixExecSlots        *slots);
void          nix_exec_slots_unref          (NixExecSlots        *slots);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecSlots, nix_exec_slots_unref)

void          nix_exec_slots_acquire_async  (NixExecSlots        *slots,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gboolean      nix_exec_slots_acquire_finish (GAsyncResult        *result,
                                             GError             **error);
void          nix_exec_slots_release        (NixExecSlots        *slots);

G_END_DECLS
