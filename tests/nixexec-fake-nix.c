/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A stand-in for `nix` that fails the ways real nix cannot be made to fail
 * in a test: no daemon, no network, a full disk, garbage on stdout.
 * Everything nix can do for real, the tests do with real nix.
 *
 * The mode is the name it is run under: tests make a symlink named after
 * the mode (`nix-daemon-down`, …) that points here. `--version` anywhere on
 * the command line answers like nix 2.8 in every mode.
 *
 * If NIXEXEC_FAKE_NIX_ARGV_LOG is set, every run first appends its argv to
 * that file, argv[0] included, one argument a line and a blank line after
 * the last, so tests can check what the executor passed.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

typedef struct
{
  const char *mode;
  int         status;
  const char *out; /* printed on stdout */
  const char *err; /* printed on stderr */
} FakeMode;

/* The messages are nix 2.8's own, word for word. */
static const FakeMode modes[] = {
  { "nix-daemon-down", 1, NULL,
    "error: cannot connect to socket at '/nix/var/nix/daemon-socket/socket': Connection refused\n" },
  { "nix-fetch-failed", 1, NULL,
    "error: unable to download 'https://cache.nixos.org/nar/0abc.nar.xz': Couldn't resolve host name (6)\n" },
  { "nix-store-full", 1, NULL, "error: writing to file: No space left on device\n" },
  { "nix-bad-json", 0, "not json\n", NULL },
  { "nix-no-outputs", 0, "[]\n", NULL },
};

static gboolean
log_argv (const char *path,
          int         argc,
          char      **argv)
{
  g_autoptr(GString) record = g_string_new (NULL);
  gboolean ok;
  int fd;

  for (int i = 0; i < argc; i++)
    g_string_append_printf (record, "%s\n", argv[i]);
  g_string_append_c (record, '\n');

  fd = g_open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return FALSE;

  /* One write with O_APPEND, so records of concurrent runs do not interleave. */
  ok = write (fd, record->str, record->len) == (gssize) record->len;

  return g_close (fd, NULL) && ok;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *mode = g_path_get_basename (argv[0]);
  const char *log_path = g_getenv ("NIXEXEC_FAKE_NIX_ARGV_LOG");

  if (log_path != NULL && !log_argv (log_path, argc, argv))
    {
      int saved_errno = errno;

      g_printerr ("error: fake nix: cannot append to '%s': %s\n",
                  log_path, g_strerror (saved_errno));
      return 2;
    }

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--version"))
        {
          g_print ("nix (Nix) 2.8.0\n");
          return 0;
        }
    }

  /* No handler: the tests kill our process group while we sleep. */
  if (g_str_equal (mode, "nix-slow"))
    {
      g_usleep (60 * G_USEC_PER_SEC);
      return 0;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      if (!g_str_equal (mode, modes[i].mode))
        continue;

      if (modes[i].out != NULL)
        g_print ("%s", modes[i].out);
      if (modes[i].err != NULL)
        g_printerr ("%s", modes[i].err);
      return modes[i].status;
    }

  g_printerr ("error: fake nix: unknown mode '%s'\n", mode);
  return 2;
}
