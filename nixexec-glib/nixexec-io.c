/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One library thread per process, never a thread per call.
 *
 * Every process the library starts — stages, warm workers, bwrap, nix — is
 * spawned, read, timed and reaped from one GMainContext, iterated by one
 * thread, "nixexec-io", started the first time anything needs it and shared
 * by every executor of the process (as GLib's own worker thread serves the
 * child watches of GSubprocess). The callers' threads only hand work over
 * (nix_exec_io_dispatch()) and hear back through their GTasks, on their own
 * thread-default contexts. So:
 *
 *  - no I/O source lives on a caller's context: an _async call completes
 *    whether or not anything else runs there, a sync call waits on a private
 *    context that only receives its answer, and sync and async calls share
 *    the same queue (max-concurrency), the same runtimes being resolved and
 *    the same warm workers;
 *  - a thread that calls and exits leaves nothing behind: no context, no
 *    worker, no fd;
 *  - PR_SET_PDEATHSIG, which the kernel ties to the thread that forked, is
 *    tied to a thread that lives as long as the process.
 *
 * The thread never ends: it holds no resource of its own besides its stack
 * and the context, and a library cannot know when its last user is gone.
 * Like GLib's own worker thread (which reaps children for every child watch)
 * it does not survive fork(): a process forked from one that used the
 * library must exec before it uses the library.
 * Code on it must never block: everything it runs is a source callback that
 * does a bounded amount of work.
 */
#include "config.h"

#include "nixexec-io-private.h"

static GMainContext *io_context;  /* owned by the thread, for ever */
static GThread      *io_thread;

static gpointer
io_thread_main (gpointer data)
{
  GMainContext *context = data;

  /* Tasks and sources made on this thread default to its context. */
  g_main_context_push_thread_default (context);
  for (;;)
    g_main_context_iteration (context, TRUE);

  return NULL;
}

GMainContext *
nix_exec_io_get_context (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      io_context = g_main_context_new ();
      g_atomic_pointer_set (&io_thread, g_thread_new ("nixexec-io", io_thread_main, io_context));
      g_once_init_leave (&initialized, 1);
    }

  return io_context;
}

gboolean
nix_exec_io_is_io_thread (void)
{
  GThread *thread = g_atomic_pointer_get (&io_thread);

  return thread != NULL && g_thread_self () == thread;
}

void
nix_exec_io_dispatch_to (GMainContext   *context,
                         GSourceFunc     func,
                         gpointer        data,
                         GDestroyNotify  notify)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[nixexec] dispatch");
  g_source_attach (source, context);
}

void
nix_exec_io_dispatch (GSourceFunc     func,
                      gpointer        data,
                      GDestroyNotify  notify)
{
  nix_exec_io_dispatch_to (nix_exec_io_get_context (), func, data, notify);
}
