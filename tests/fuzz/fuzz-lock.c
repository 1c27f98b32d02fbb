/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The runtime lock-file reader, nix_exec_runtimes_load_lock()
 * (nixexec-runtimes.c): the input is written to a lock file and loaded; a
 * lock that loads is written back with nix_exec_runtimes_write_lock(), and
 * what was written loads again, pins the same flake and writes the same
 * text.
 *
 * Input: the file's bytes.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-util.h"
#include "nixexec-error.h"
#include "nixexec-runtimes-private.h"

static NixExecConfig *config;

/* Writes the lock of @runtimes to @path, and returns its text. */
static char *
write_lock (NixExecRuntimes *runtimes,
            const char      *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  /* A file that is there would be synced before it is replaced. */
  g_unlink (path);
  g_assert_true (nix_exec_runtimes_write_lock (runtimes, path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *path = nix_exec_fuzz_path ("lock.json");
  const char *written_path = nix_exec_fuzz_path ("written.json");
  g_autoptr(NixExecRuntimes) runtimes = NULL;
  g_autoptr(NixExecRuntimes) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *url_again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  if (config == NULL)
    config = nix_exec_config_new ();
  nix_exec_fuzz_write (path, data, size);

  /* Host runtimes: no nix, no lock of its own to read or write. */
  runtimes = nix_exec_runtimes_new (NULL, config);
  if (!nix_exec_runtimes_load_lock (runtimes, path, &error))
    {
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_null (nix_exec_runtimes_dup_locked_url (runtimes));
      return 0;
    }
  g_assert_no_error (error);

  url = nix_exec_runtimes_dup_locked_url (runtimes);
  g_assert_nonnull (url);
  g_assert_cmpstr (url, !=, "");
  g_assert_cmpint (url[0], !=, '-');

  text = write_lock (runtimes, written_path);
  again = nix_exec_runtimes_new (NULL, config);
  g_assert_true (nix_exec_runtimes_load_lock (again, written_path, &error));
  g_assert_no_error (error);
  url_again = nix_exec_runtimes_dup_locked_url (again);
  g_assert_cmpstr (url_again, ==, url);
  text_again = write_lock (again, written_path);
  g_assert_cmpstr (text_again, ==, text);
  return 0;
}
