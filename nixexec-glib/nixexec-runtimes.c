/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The runtimes of one executor: which interpreter each stage runs on.
 *
 * Pinning. The configured flake reference may move (`nixpkgs` follows the
 * registry). The first resolution asks `nix flake metadata` for the locked
 * URL of what the reference points at now, and every runtime is then built
 * from that locked URL, so all of them come from one revision. The locked
 * URL and the store paths are written to a lock under the cache directory
 * and used again by later executors and processes, until the user refreshes
 * (nix_exec_runtimes_reset()). A lock file can also be exported and loaded
 * explicitly, so that two machines run the same store paths.
 *
 * Sharing. Resolving takes a nix process; concurrent callers that need the
 * same thing (the locked URL, or one runtime) share one operation, whatever
 * thread they call from. The nix process is killed when its last waiter is
 * cancelled.
 *
 * Threads. nix_exec_runtimes_resolve_async() may be called from any thread
 * and answers on the caller's thread-default context. What is known already
 * is answered at once; everything else — the operations, their nix
 * processes, the waiters' cancellation — lives on the library's I/O thread
 * (nixexec-io.c), and the tables behind the lock are the only state shared
 * with the callers' threads.
 *
 * Host runtimes. With no nix (runtime-source HOST), the interpreters are
 * looked up on PATH instead, and every runtime says so.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "nixexec-child-private.h"
#include "nixexec-enums.h"
#include "nixexec-error.h"
#include "nixexec-io-private.h"
#include "nixexec-json-private.h"
#include "nixexec-nix-private.h"
#include "nixexec-pydeps-private.h"
#include "nixexec-runtimes-private.h"

/* Enough for any answer of nix build or nix flake metadata; nix's own logs
 * beyond this are only kept for the error message. */
#define NIX_MAX_STDOUT_BYTES (1024 * 1024)
#define NIX_MAX_STDERR_BYTES (256 * 1024)
#define LOCK_VERSION 1
#define LOCK_KEY "@lock"

struct _NixExecRuntimes
{
  GObject        parent_instance;

  char          *nix_path;    /* owned; NULL for host runtimes */
  NixExecConfig *config;      /* owned, never changed */
  char          *lock_path;   /* owned; where the lock is kept, NULL for host */

  GMutex         lock;        /* guards every field below */
  guint          generation;  /* bumped by reset: older answers are stale */
  char          *locked_url;  /* owned */
  GHashTable    *resolved;    /* key → NixExecRuntime, owned */
  GHashTable    *pinned;      /* key → store path from a loaded lock, owned */
  GPtrArray     *operations;  /* in-flight Operation *, borrowed */
};

G_DEFINE_FINAL_TYPE (NixExecRuntimes, nix_exec_runtimes, G_TYPE_OBJECT)

NixExecRuntime *
nix_exec_runtime_copy (const NixExecRuntime *runtime)
{
  NixExecRuntime *copy = g_new0 (NixExecRuntime, 1);

  copy->key = g_strdup (runtime->key);
  copy->interpreter = g_strdup (runtime->interpreter);
  copy->store_path = g_strdup (runtime->store_path);
  copy->flake_url = g_strdup (runtime->flake_url);
  copy->host = runtime->host;
  return copy;
}

void
nix_exec_runtime_free (NixExecRuntime *runtime)
{
  if (runtime == NULL)
    return;
  g_free (runtime->key);
  g_free (runtime->interpreter);
  g_free (runtime->store_path);
  g_free (runtime->flake_url);
  g_free (runtime);
}

const char *
nix_exec_runtimes_get_system (void)
{
#if defined(__x86_64__)
  return "x86_64-linux";
#elif defined(__aarch64__)
  return "aarch64-linux";
#elif defined(__i386__)
  return "i686-linux";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64-linux";
#else
# error "Unknown system for nix"
#endif
}

char *
nix_exec_runtimes_key (NixExecLanguage     language,
                       const char * const *python_packages)
{
  g_autofree char *packages = NULL;

  if (python_packages == NULL || python_packages[0] == NULL)
    return g_strdup (nix_exec_language_runtime_attr (language));

  packages = g_strjoinv (",", (char **) python_packages);
  return g_strdup_printf ("%s.withPackages(%s)", nix_exec_language_runtime_attr (language),
                          packages);
}

static void
nix_exec_runtimes_finalize (GObject *object)
{
  NixExecRuntimes *self = NIX_EXEC_RUNTIMES (object);

  /* In-flight operations hold a reference to us. */
  g_assert (self->operations->len == 0);
  g_ptr_array_unref (self->operations);
  g_hash_table_unref (self->resolved);
  g_hash_table_unref (self->pinned);
  g_free (self->locked_url);
  g_free (self->lock_path);
  g_free (self->nix_path);
  g_clear_object (&self->config);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (nix_exec_runtimes_parent_class)->finalize (object);
}

static void
nix_exec_runtimes_class_init (NixExecRuntimesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nix_exec_runtimes_finalize;
}

static void
nix_exec_runtimes_init (NixExecRuntimes *self)
{
  g_mutex_init (&self->lock);
  self->resolved = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) nix_exec_runtime_free);
  self->pinned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->operations = g_ptr_array_new ();
}

static char *
short_digest (const char *text)
{
  char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);

  digest[16] = '\0';
  return digest;
}

/* Where runtimes resolved from @flake_ref are remembered between processes.
 * The key covers the reference and the options nix is run with. */
static char *
default_lock_path (NixExecConfig *config)
{
  const char * const *options = nix_exec_config_get_nix_options (config);
  g_autoptr(GString) identity = g_string_new (nix_exec_config_get_flake_ref (config));
  g_autofree char *digest = NULL;
  g_autofree char *name = NULL;

  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    g_string_append_printf (identity, "\n%s", options[i]);
  digest = short_digest (identity->str);
  name = g_strdup_printf ("%s-%s.json", digest, nix_exec_runtimes_get_system ());
  return g_build_filename (nix_exec_config_get_cache_dir (config), "locks", name, NULL);
}

static gboolean
lock_is_private (const char  *path,
                 GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  struct stat st;

  if (!nix_exec_ensure_private_dir (dir, "runtime lock", error))
    return FALSE;

  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid () ||
      (st.st_mode & 022) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "it is not a regular file of this user that only this user can write");
      return FALSE;
    }
  return TRUE;
}

NixExecRuntimes *
nix_exec_runtimes_new (const char    *nix_path,
                       NixExecConfig *config)
{
  NixExecRuntimes *self = g_object_new (NIX_EXEC_TYPE_RUNTIMES, NULL);

  self->nix_path = g_strdup (nix_path);
  self->config = g_object_ref (config);

  if (nix_path != NULL)
    {
      g_autoptr(GError) error = NULL;

      self->lock_path = default_lock_path (config);
      /* A lock left by an earlier executor is reused; a broken one is only
       * a cache miss. It decides which programs run, so it is only trusted
       * in a private directory, as a file of ours nobody else can write. */
      if (g_file_test (self->lock_path, G_FILE_TEST_EXISTS) &&
          (!lock_is_private (self->lock_path, &error) ||
           !nix_exec_runtimes_load_lock (self, self->lock_path, &error)))
        g_debug ("Ignoring the runtime lock %s: %s", self->lock_path, error->message);
    }

  return self;
}

char *
nix_exec_runtimes_dup_locked_url (NixExecRuntimes *self)
{
  char *url;

  g_mutex_lock (&self->lock);
  url = g_strdup (self->locked_url);
  g_mutex_unlock (&self->lock);
  return url;
}

void
nix_exec_runtimes_forget (NixExecRuntimes *self,
                          const char      *key)
{
  /* A pinned path stays pinned: it is realised again by store path. */
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->resolved, key);
  g_mutex_unlock (&self->lock);
}

void
nix_exec_runtimes_reset (NixExecRuntimes *self)
{
  g_mutex_lock (&self->lock);
  /* Operations in flight finish for their own waiters, but neither record
   * what they found nor take new waiters. */
  self->generation++;
  g_clear_pointer (&self->locked_url, g_free);
  g_hash_table_remove_all (self->resolved);
  g_hash_table_remove_all (self->pinned);
  g_mutex_unlock (&self->lock);

  if (self->lock_path != NULL)
    g_unlink (self->lock_path);
}

/* ------------------------------------------------------------------------ */
/* Lock files                                                               */
/* ------------------------------------------------------------------------ */

static gboolean
invalid_lock (GError     **error,
              const char  *path,
              const char  *what)
{
  g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE,
               "The runtime lock file “%s” is not valid: %s", path, what);
  return FALSE;
}

/* @name of @object when it is a value: json-glib's
 * json_object_get_*_member_with_default() are critical about the others. */
static JsonNode *
value_member (JsonObject *object,
              const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? node : NULL;
}

gboolean
nix_exec_runtimes_load_lock (NixExecRuntimes  *self,
                             const char       *path,
                             GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GList) members = NULL;
  g_autoptr(GHashTable) pinned = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  JsonObject *root, *runtimes;
  JsonNode *runtimes_node;  /* borrowed from root; node owns the document */
  JsonNode *version_node, *flake_node, *system_node;
  const char *flake, *system;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Could not read the runtime lock file “%s”: ", path);
      return FALSE;
    }
  node = nix_exec_json_read (contents, length, &local_error);
  if (node == NULL)
    return invalid_lock (error, path, local_error->message);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return invalid_lock (error, path, "it is not a JSON object");
  root = json_node_get_object (node);

  version_node = value_member (root, "version");
  if (version_node == NULL || json_node_get_int (version_node) != LOCK_VERSION)
    return invalid_lock (error, path, "“version” is not 1");

  flake_node = value_member (root, "flake");
  system_node = value_member (root, "system");
  flake = flake_node != NULL ? json_node_get_string (flake_node) : NULL;
  system = system_node != NULL ? json_node_get_string (system_node) : NULL;
  if (flake == NULL || *flake == '\0')
    return invalid_lock (error, path, "“flake” (the locked flake URL) is missing");
  if (*flake == '-')
    return invalid_lock (error, path, "“flake” is not a flake URL");
  if (system == NULL)
    return invalid_lock (error, path, "“system” is missing");
  if (!g_str_equal (system, nix_exec_runtimes_get_system ()))
    {
      g_autofree char *what = g_strdup_printf ("it pins runtimes for %s, and this machine is %s",
                                               system, nix_exec_runtimes_get_system ());
      return invalid_lock (error, path, what);
    }

  runtimes_node = json_object_get_member (root, "runtimes");
  if (runtimes_node == NULL || !JSON_NODE_HOLDS_OBJECT (runtimes_node))
    return invalid_lock (error, path, "“runtimes” is not an object");
  runtimes = json_node_get_object (runtimes_node);

  pinned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  members = json_object_get_members (runtimes);
  for (const GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (runtimes, l->data);
      const char *store_path;

      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING ||
          !g_str_has_prefix ((store_path = json_node_get_string (value)), "/nix/store/") ||
          strstr (store_path, "/..") != NULL)
        {
          g_autofree char *what = g_strdup_printf ("runtime “%s” is not a /nix/store path",
                                                   (const char *) l->data);
          return invalid_lock (error, path, what);
        }
      g_hash_table_replace (pinned, g_strdup (l->data), g_strdup (store_path));
    }

  g_mutex_lock (&self->lock);
  g_free (self->locked_url);
  self->locked_url = g_strdup (flake);
  g_hash_table_remove_all (self->resolved);
  g_hash_table_remove_all (self->pinned);
  {
    GHashTableIter iter;
    gpointer key, value;

    /* The pinned paths are built (or fetched) on first use, by store path,
     * never from the flake again. */
    g_hash_table_iter_init (&iter, pinned);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_hash_table_replace (self->pinned, g_strdup (key), g_strdup (value));
  }
  g_mutex_unlock (&self->lock);

  return TRUE;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

gboolean
nix_exec_runtimes_write_lock (NixExecRuntimes  *self,
                              const char       *path,
                              GError          **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *text = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *flake = NULL;
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&self->lock);
  flake = g_strdup (self->locked_url);
  g_hash_table_iter_init (&iter, self->pinned);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_replace (paths, g_strdup (key), g_strdup (value));
  g_hash_table_iter_init (&iter, self->resolved);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      NixExecRuntime *runtime = value;

      if (runtime->store_path != NULL)
        g_hash_table_replace (paths, g_strdup (key), g_strdup (runtime->store_path));
    }
  g_mutex_unlock (&self->lock);

  if (flake == NULL)
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE,
                           "No runtime has been resolved from nix yet: there is nothing to lock "
                           "(run a stage or warm up first)");
      return FALSE;
    }

  g_hash_table_iter_init (&iter, paths);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, g_strdup (key));
  g_ptr_array_sort (keys, compare_strings);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, LOCK_VERSION);
  json_builder_set_member_name (builder, "flake");
  json_builder_add_string_value (builder, flake);
  json_builder_set_member_name (builder, "system");
  json_builder_add_string_value (builder, nix_exec_runtimes_get_system ());
  json_builder_set_member_name (builder, "runtimes");
  json_builder_begin_object (builder);
  for (guint i = 0; i < keys->len; i++)
    {
      json_builder_set_member_name (builder, g_ptr_array_index (keys, i));
      json_builder_add_string_value (builder, g_hash_table_lookup (paths, g_ptr_array_index (keys, i)));
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = nix_exec_json_write (root, TRUE, error);
  if (text == NULL)
    return FALSE;

  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Could not create the directory “%s”: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }

  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

/* ------------------------------------------------------------------------ */
/* Shared operations                                                        */
/* ------------------------------------------------------------------------ */

typedef enum {
  OPERATION_LOCK,   /* answers the locked flake URL (char *) */
  OPERATION_BUILD,  /* answers a NixExecRuntime * */
} OperationKind;

typedef struct
{
  NixExecRuntimes  *self;         /* owned */
  OperationKind     kind;
  guint             generation;   /* of self, when the operation began */
  char             *key;          /* owned */
  NixExecLanguage   language;
  GStrv             python_packages; /* owned, may be NULL */
  char             *pinned_path;  /* owned: realise this store path, not the flake */
  char             *flake_url;    /* owned: the locked URL a build used */
  char             *what;         /* owned: what nix works on, for messages */
  GCancellable     *cancellable;  /* owned; kills the nix process */
  GPtrArray        *waiters;      /* GTask *, owned */
} Operation;

typedef struct
{
  Operation *operation;  /* borrowed, NULL once answered */
  GSource   *cancel_source; /* owned */
} Waiter;

static void
waiter_free (Waiter *waiter)
{
  if (waiter->cancel_source != NULL)
    {
      g_source_destroy (waiter->cancel_source);
      g_source_unref (waiter->cancel_source);
    }
  g_free (waiter);
}

static void
operation_free (Operation *operation)
{
  g_assert (operation->waiters->len == 0);
  g_ptr_array_unref (operation->waiters);
  g_clear_object (&operation->cancellable);
  g_strfreev (operation->python_packages);
  g_free (operation->pinned_path);
  g_free (operation->flake_url);
  g_free (operation->what);
  g_free (operation->key);
  g_object_unref (operation->self);
  g_free (operation);
}

/* Answers every waiter with @value (copied for each) or @error, and frees
 * the operation. */
static void
operation_answer (Operation      *operation,
                  gconstpointer   value,
                  GBoxedCopyFunc  copy,
                  GDestroyNotify  destroy,
                  const GError   *error)
{
  NixExecRuntimes *self = operation->self;
  g_autoptr(GPtrArray) waiters = NULL;

  g_mutex_lock (&self->lock);
  g_ptr_array_remove (self->operations, operation);
  waiters = g_steal_pointer (&operation->waiters);
  operation->waiters = g_ptr_array_new ();
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (waiters, i);
      Waiter *waiter = g_task_get_task_data (task);

      waiter->operation = NULL;
      if (value != NULL)
        g_task_return_pointer (task, copy ((gpointer) value), destroy);
      else
        g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }

  operation_free (operation);
}

static gboolean
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;
  Waiter *waiter = g_task_get_task_data (task);
  Operation *operation = waiter->operation;
  NixExecRuntimes *self;
  gboolean last;

  g_clear_pointer (&waiter->cancel_source, g_source_unref);
  if (operation == NULL)
    return G_SOURCE_REMOVE;

  self = operation->self;
  g_mutex_lock (&self->lock);
  last = operation->waiters->len == 1;
  if (!last)
    g_ptr_array_remove (operation->waiters, task);
  g_mutex_unlock (&self->lock);

  if (last)
    {
      /* Nobody else waits: kill nix. This waiter is answered once nix has
       * been reaped, so that no call returns with its nix still running. */
      g_cancellable_cancel (operation->cancellable);
      return G_SOURCE_REMOVE;
    }

  waiter->operation = NULL;
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void operation_start (Operation *operation);

/* Joins (or starts) the operation for @key, on the I/O thread; @task is
 * answered when it completes. @setup fills in a new operation. */
static void
operation_join (NixExecRuntimes *self,
                OperationKind    kind,
                const char      *key,
                GTask           *task,
                void           (*setup) (Operation *operation, gpointer data),
                gpointer         setup_data)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  Operation *operation = NULL;
  gboolean created = FALSE;
  Waiter *waiter;

  g_assert (nix_exec_io_is_io_thread ());

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->operations->len; i++)
    {
      Operation *candidate = g_ptr_array_index (self->operations, i);

      /* Never join an operation that is being killed (its last waiter left)
       * or that began before a reset. */
      if (candidate->kind == kind && g_str_equal (candidate->key, key) &&
          candidate->generation == self->generation &&
          !g_cancellable_is_cancelled (candidate->cancellable))
        {
          operation = candidate;
          break;
        }
    }
  if (operation == NULL)
    {
      operation = g_new0 (Operation, 1);
      operation->self = g_object_ref (self);
      operation->kind = kind;
      operation->generation = self->generation;
      operation->key = g_strdup (key);
      operation->cancellable = g_cancellable_new ();
      operation->waiters = g_ptr_array_new ();
      g_ptr_array_add (self->operations, operation);
      created = TRUE;
    }
  g_mutex_unlock (&self->lock);

  waiter = g_new0 (Waiter, 1);
  waiter->operation = operation;
  g_task_set_task_data (task, waiter, (GDestroyNotify) waiter_free);
  if (cancellable != NULL)
    {
      waiter->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (waiter->cancel_source, G_SOURCE_FUNC (on_waiter_cancelled),
                             task, NULL);
      g_source_set_static_name (waiter->cancel_source, "[nixexec] runtime cancel");
      g_source_attach (waiter->cancel_source, nix_exec_io_get_context ());
    }
  /* The operation owns the waiting task until it answers it. */
  g_mutex_lock (&self->lock);
  g_ptr_array_add (operation->waiters, g_object_ref (task));
  g_mutex_unlock (&self->lock);

  /* May answer at once (and free the operation): the last thing here. */
  if (created)
    {
      if (setup != NULL)
        setup (operation, setup_data);
      operation_start (operation);
    }
}

/* The error for a nix process that failed to run or finish. */
static GError *
nix_failure (Operation          *operation,
             NixExecChildResult *child,
             GError             *run_error)
{
  if (child == NULL)
    {
      if (g_error_matches (run_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ||
          g_error_matches (run_error, G_SPAWN_ERROR, G_SPAWN_ERROR_ACCES) ||
          g_error_matches (run_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOEXEC) ||
          g_error_matches (run_error, G_SPAWN_ERROR, G_SPAWN_ERROR_PERM))
        return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_NOT_FOUND,
                            "Could not run nix (%s): %s",
                            operation->self->nix_path, run_error->message);
      if (g_error_matches (run_error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE))
        return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                            "nix printed more than %d bytes of results for “%s”",
                            NIX_MAX_STDOUT_BYTES, operation->what);
      return g_error_copy (run_error);
    }

  if (child->exited)
    {
      g_autofree char *text = g_strndup (g_bytes_get_data (child->stderr_bytes, NULL),
                                         g_bytes_get_size (child->stderr_bytes));

      return nix_exec_nix_classify_failure (operation->what, text, child->exit_status);
    }

  return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                      "nix was killed by signal %d while working on “%s”",
                      child->term_signal, operation->what);
}

static void
on_metadata_done (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Operation *operation = user_data;
  NixExecRuntimes *self = operation->self;
  g_autoptr(NixExecChildResult) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  child = nix_exec_child_run_finish (result, &error);
  if (child != NULL && child->exited && child->exit_status == 0)
    {
      gsize length;
      const char *json = g_bytes_get_data (child->stdout_bytes, &length);

      url = nix_exec_nix_parse_metadata_output (json, length, &error);
    }
  else
    {
      GError *failure = nix_failure (operation, child, error);

      g_clear_error (&error);
      error = failure;
    }

  if (url != NULL)
    {
      g_mutex_lock (&self->lock);
      /* Several resolutions may race to lock; the first answer wins, so
       * every runtime of this executor comes from one revision. An answer
       * from before a reset is only its own waiters'. */
      if (operation->generation == self->generation)
        {
          if (self->locked_url == NULL)
            self->locked_url = g_strdup (url);
          g_free (url);
          url = g_strdup (self->locked_url);
        }
      g_mutex_unlock (&self->lock);
    }

  operation_answer (operation, url, (GBoxedCopyFunc) g_strdup, g_free, error);
}

static char *
gcroot_path (NixExecRuntimes *self,
             const char      *key)
{
  g_autofree char *digest = short_digest (nix_exec_config_get_flake_ref (self->config));
  g_autofree char *key_digest = short_digest (key);
  g_autofree char *name = g_strdup_printf ("%s-%s", key_digest, digest);

  return g_build_filename (nix_exec_config_get_cache_dir (self->config), "gcroots", name, NULL);
}

static void
on_build_done (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Operation *operation = user_data;
  NixExecRuntimes *self = operation->self;
  g_autoptr(NixExecChildResult) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecRuntime) runtime = NULL;
  g_autofree char *store_path = NULL;

  child = nix_exec_child_run_finish (result, &error);
  if (child != NULL && child->exited && child->exit_status == 0)
    {
      gsize length;
      const char *json = g_bytes_get_data (child->stdout_bytes, &length);

      store_path = nix_exec_nix_parse_build_output (json, length, &error);
    }
  else
    {
      GError *failure = nix_failure (operation, child, error);

      g_clear_error (&error);
      error = failure;
    }

  if (store_path != NULL)
    {
      const char *interpreter = nix_exec_language_interpreter (operation->language);
      g_autofree char *program = g_build_filename (store_path, "bin", interpreter, NULL);

      if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
        {
          g_set_error (&error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                       "The runtime “%s” (%s) has no bin/%s",
                       operation->what, store_path, interpreter);
        }
      else
        {
          runtime = g_new0 (NixExecRuntime, 1);
          runtime->key = g_strdup (operation->key);
          runtime->interpreter = g_steal_pointer (&program);
          runtime->store_path = g_steal_pointer (&store_path);
          runtime->flake_url = g_strdup (operation->flake_url);

          gboolean current;

          g_mutex_lock (&self->lock);
          current = operation->generation == self->generation;
          if (current)
            g_hash_table_replace (self->resolved, g_strdup (runtime->key),
                                  nix_exec_runtime_copy (runtime));
          g_mutex_unlock (&self->lock);

          if (current && self->lock_path != NULL)
            {
              g_autoptr(GError) lock_error = NULL;
              g_autofree char *lock_dir = g_path_get_dirname (self->lock_path);

              if (!nix_exec_ensure_private_dir (lock_dir, "runtime lock", &lock_error) ||
                  !nix_exec_runtimes_write_lock (self, self->lock_path, &lock_error))
                g_debug ("Could not record the runtime lock: %s", lock_error->message);
            }
        }
    }

  operation_answer (operation, runtime, (GBoxedCopyFunc) nix_exec_runtime_copy,
                    (GDestroyNotify) nix_exec_runtime_free, error);
}

static void
operation_run_nix (Operation    *operation,
                   char * const *argv)
{
  g_debug ("Running %s for %s", argv[0], operation->what);
  nix_exec_child_run_async ((const char * const *) argv, NULL, NIX_EXEC_CHILD_FLAGS_NONE,
                            NULL, NULL, NULL,
                            NIX_MAX_STDOUT_BYTES, NIX_MAX_STDERR_BYTES, 0,
                            operation->cancellable,
                            operation->kind == OPERATION_LOCK ? on_metadata_done : on_build_done,
                            operation);
}

static void
build_with_url (Operation  *operation,
                const char *flake_url)
{
  NixExecRuntimes *self = operation->self;
  g_autofree char *root = gcroot_path (self, operation->key);
  g_autofree char *root_dir = g_path_get_dirname (root);
  g_autofree char *installable = NULL;
  g_autofree char *expression = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;

  if (!nix_exec_ensure_private_dir (root_dir, "runtime GC root", &error))
    {
      operation_answer (operation, NULL, NULL, NULL, error);
      return;
    }

  if (operation->pinned_path != NULL)
    {
      /* A lock file named this exact path: realise it (from the store or
       * a substituter), never re-evaluate. */
      installable = g_strdup (operation->pinned_path);
    }
  else if (operation->python_packages != NULL && operation->python_packages[0] != NULL)
    {
      expression = nix_exec_pydeps_nix_expression (flake_url, nix_exec_runtimes_get_system (),
                                                   (const char * const *) operation->python_packages);
    }
  else
    {
      installable = g_strdup_printf ("%s#%s", flake_url,
                                     nix_exec_language_runtime_attr (operation->language));
    }

  operation->flake_url = g_strdup (flake_url);
  argv = nix_exec_nix_build_argv (self->nix_path, self->config, installable, expression, root);
  operation_run_nix (operation, argv);
}

static void
on_locked_for_build (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Operation *operation = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = g_task_propagate_pointer (G_TASK (result), &error);

  if (url == NULL)
    {
      operation_answer (operation, NULL, NULL, NULL, error);
      return;
    }
  build_with_url (operation, url);
}

static void
operation_start (Operation *operation)
{
  NixExecRuntimes *self = operation->self;

  if (operation->kind == OPERATION_LOCK)
    {
      const char *flake_ref = nix_exec_config_get_flake_ref (self->config);
      g_auto(GStrv) argv = NULL;

      operation->what = g_strdup (flake_ref);
      /* Arguments, not a shell: but nix would read a leading '-' as an
       * option. */
      if (*flake_ref == '-')
        {
          g_autoptr(GError) error = g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                                                 "“%s” is not a flake reference", flake_ref);
          operation_answer (operation, NULL, NULL, NULL, error);
          return;
        }
      argv = nix_exec_nix_metadata_argv (self->nix_path, self->config, flake_ref);
      operation_run_nix (operation, argv);
    }
  else
    {
      g_autofree char *url = nix_exec_runtimes_dup_locked_url (self);

      operation->what = g_strdup_printf ("%s#%s", nix_exec_config_get_flake_ref (self->config),
                                         operation->key);
      if (url != NULL)
        {
          build_with_url (operation, url);
        }
      else
        {
          /* Lock the flake first; this build waits with its own cancellable,
           * so cancelling the build also gives up on the lock. */
          g_autoptr(GTask) lock_task = g_task_new (self, operation->cancellable,
                                                   on_locked_for_build, operation);

          g_task_set_name (lock_task, "[nixexec] lock flake");
          operation_join (self, OPERATION_LOCK, LOCK_KEY, lock_task, NULL, NULL);
        }
    }
}

/* A build a caller asked for, on its way to the I/O thread. */
typedef struct
{
  NixExecRuntimes *self;            /* owned */
  GTask           *task;            /* owned */
  char            *key;             /* owned */
  NixExecLanguage  language;
  GStrv            python_packages; /* owned, may be NULL */
  char            *pinned_path;     /* owned, may be NULL */
} BuildRequest;

static void
build_request_free (BuildRequest *request)
{
  g_object_unref (request->self);
  g_clear_object (&request->task);
  g_free (request->key);
  g_strfreev (request->python_packages);
  g_free (request->pinned_path);
  g_free (request);
}

static void
setup_build (Operation *operation,
             gpointer   data)
{
  BuildRequest *request = data;

  operation->language = request->language;
  operation->python_packages = g_steal_pointer (&request->python_packages);
  operation->pinned_path = g_steal_pointer (&request->pinned_path);
}

static gboolean
join_build (gpointer data)
{
  BuildRequest *request = data;

  operation_join (request->self, OPERATION_BUILD, request->key, request->task,
                  setup_build, request);
  return G_SOURCE_REMOVE;
}

static NixExecRuntime *
host_runtime (NixExecLanguage   language,
              GError          **error)
{
  const char *interpreter = nix_exec_language_interpreter (language);
  g_autofree char *program = g_find_program_in_path (interpreter);
  NixExecRuntime *runtime;

  if (program == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RUNTIME_UNAVAILABLE,
                   "runtime-source is HOST, and there is no %s on PATH", interpreter);
      return NULL;
    }

  runtime = g_new0 (NixExecRuntime, 1);
  runtime->key = g_strdup (nix_exec_language_runtime_attr (language));
  runtime->interpreter = g_steal_pointer (&program);
  runtime->host = TRUE;
  return runtime;
}

void
nix_exec_runtimes_resolve_async (NixExecRuntimes     *self,
                                 NixExecLanguage      language,
                                 const char * const  *python_packages,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *pinned = NULL;
  NixExecRuntime *known = NULL;
  BuildRequest *request;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nix_exec_runtimes_resolve_async);
  g_task_set_name (task, "[nixexec] resolve runtime");

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (self->nix_path == NULL)
    {
      known = host_runtime (language, &error);
      if (known == NULL)
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_pointer (task, known, (GDestroyNotify) nix_exec_runtime_free);
      return;
    }

  key = nix_exec_runtimes_key (language, python_packages);

  g_mutex_lock (&self->lock);
  known = g_hash_table_lookup (self->resolved, key);
  if (known != NULL)
    known = nix_exec_runtime_copy (known);
  pinned = g_strdup (g_hash_table_lookup (self->pinned, key));
  g_mutex_unlock (&self->lock);

  /* A pinned path already in the store needs no nix at all. */
  if (known == NULL && pinned != NULL)
    {
      g_autofree char *program =
        g_build_filename (pinned, "bin", nix_exec_language_interpreter (language), NULL);

      if (g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
        {
          known = g_new0 (NixExecRuntime, 1);
          known->key = g_strdup (key);
          known->interpreter = g_steal_pointer (&program);
          known->store_path = g_strdup (pinned);
          known->flake_url = nix_exec_runtimes_dup_locked_url (self);

          g_mutex_lock (&self->lock);
          g_hash_table_replace (self->resolved, g_strdup (key), nix_exec_runtime_copy (known));
          g_mutex_unlock (&self->lock);
        }
    }

  if (known != NULL)
    {
      g_task_return_pointer (task, known, (GDestroyNotify) nix_exec_runtime_free);
      return;
    }

  request = g_new0 (BuildRequest, 1);
  request->self = g_object_ref (self);
  request->task = g_steal_pointer (&task);
  request->key = g_steal_pointer (&key);
  request->language = language;
  request->python_packages = g_strdupv ((char **) python_packages);
  request->pinned_path = g_steal_pointer (&pinned);
  nix_exec_io_dispatch (join_build, request, (GDestroyNotify) build_request_free);
}

NixExecRuntime *
nix_exec_runtimes_resolve_finish (NixExecRuntimes  *self,
                                  GAsyncResult     *result,
                                  GError          **error)
{
  g_assert (g_task_is_valid (result, self));

  return g_task_propagate_pointer (G_TASK (result), error);
}
