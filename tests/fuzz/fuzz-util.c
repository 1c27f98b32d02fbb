/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "fuzz-util.h"

static char *private_dir;
static GHashTable *paths; /* name → path, owned */

static void
remove_private_dir (void)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (private_dir == NULL)
    return;
  /* Flat: the targets make no directories, and the library only writes
   * files beside the ones they name (temporary files, locks). */
  dir = g_dir_open (private_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (private_dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (private_dir);
  g_clear_pointer (&private_dir, g_free);
  g_clear_pointer (&paths, g_hash_table_unref);
}

/* Aborts on errors, criticals and warnings: GLib's own fatal path raises
 * SIGTRAP, which libFuzzer does not catch, so the input would be lost. */
static GLogWriterOutput
abort_on_warnings (GLogLevelFlags   log_level,
                   const GLogField *fields,
                   gsize            n_fields,
                   gpointer         user_data)
{
  /* Without the fatal flag, or the default writer would trap itself. */
  GLogWriterOutput output = g_log_writer_default (log_level & ~G_LOG_FLAG_FATAL, fields, n_fields,
                                                  user_data);

  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
  return output;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_writer_func (abort_on_warnings, NULL, NULL);
  return 0;
}

const char *
nix_exec_fuzz_path (const char *name)
{
  const char *path;

  if (private_dir == NULL)
    {
      g_autoptr(GError) error = NULL;

      private_dir = g_dir_make_tmp ("nixexec-fuzz-XXXXXX", &error);
      if (private_dir == NULL)
        g_error ("No private directory for the fuzz target: %s", error->message);
      paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      atexit (remove_private_dir);
    }

  path = g_hash_table_lookup (paths, name);
  if (path == NULL)
    {
      char *built = g_build_filename (private_dir, name, NULL);

      g_hash_table_insert (paths, g_strdup (name), built);
      path = built;
    }
  return path;
}

void
nix_exec_fuzz_write (const char    *path,
                     const uint8_t *data,
                     size_t         size)
{
  /* Not g_file_set_contents_full (…, G_FILE_SET_CONTENTS_NONE, …): GLib
   * 2.74 writes over the file there without truncating it, so a shorter
   * input kept the end of the one before. */
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  size_t written = 0;

  if (fd < 0)
    g_error ("Could not open %s: %s", path, g_strerror (errno));
  while (written < size)
    {
      ssize_t n = write (fd, data + written, size - written);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("Could not write %s: %s", path, g_strerror (errno));
      written += n;
    }
  close (fd);
}
