/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Odd children for the process-control tests, one mode an invocation, as
 * GLib's gio/tests/gsubprocess-testprog.c:
 *
 *   nixexec-testprog MODE [ARGS...]
 *
 * Child modes:
 *   sleep SECS                  sleep, then exit 0
 *   exit N                      exit with status N
 *   crash                       die of SIGSEGV
 *   write-stdout N              write exactly N bytes on stdout, exit 0
 *   write-stderr N              write exactly N bytes on stderr, exit 0
 *   flood-stdout, flood-stderr  write on stdout / stderr until killed
 *   echo-stdin                  copy stdin to stdout until end of file
 *   fork-grandchild SECS [--parent-sleeps]
 *   setsid-grandchild SECS [--parent-sleeps]
 *                               fork a grandchild that sleeps SECS holding
 *                               stdout and stderr (after setsid(), in the
 *                               second mode), print its pid and a newline on
 *                               stdout, then exit 0, or sleep SECS too
 *
 * Warm-worker modes read request frames on stdin and answer on stdout (see
 * docs/protocol.md: a frame is the payload's length in ASCII decimal, '\n',
 * then the payload); end of file before a frame ends them with status 0, a
 * malformed request with status 2:
 *   worker                      answer {"ok": <request payload>}
 *   worker-report               answer a report of a ValueError
 *   worker-crash-after N        answer N requests, exit 3 on the next one
 *   worker-hang-mid-frame [SECS]
 *                               on the first request, write a frame's header
 *                               and half its payload, then sleep SECS (300)
 *                               and exit 0
 *   worker-garbage              answer every request with a line that is not
 *                               a frame
 *   worker-print-pid            answer {"ok": <its pid>}
 *
 * A SECS argument may have a fractional part: the tests pass a marker such as
 * "300.123450001" to find their processes in /proc.
 *
 * The modes allocate nothing, so that a sanitizer build's leak check at exit
 * has nothing to say about them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#define CHUNK_SIZE   (64 * 1024)
/* The digits of a frame's length and its newline. */
#define HEADER_MAX   24
#define REQUEST_MAX  (16 * 1024 * 1024)

#define EXIT_USAGE     64
#define EXIT_PROTOCOL  2
#define EXIT_IO        1

static const char *mode;

static void G_GNUC_NORETURN
usage (void)
{
  fprintf (stderr, "nixexec-testprog: bad arguments for mode “%s”\n", mode != NULL ? mode : "");
  exit (EXIT_USAGE);
}

static guint64
parse_count (const char *text)
{
  guint64 value = 0;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &value, NULL))
    usage ();
  return value;
}

static double
parse_secs (const char *text)
{
  char *end = NULL;
  double secs;

  if (text == NULL)
    usage ();
  secs = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || secs < 0)
    usage ();
  return secs;
}

static void
sleep_secs (double secs)
{
  gint64 end = g_get_monotonic_time () + (gint64) (secs * G_USEC_PER_SEC);
  gint64 now;

  /* g_usleep() may return early on a signal; sleep the rest. */
  while ((now = g_get_monotonic_time ()) < end)
    g_usleep (end - now);
}

/* Writes all of @data or exits: a reader that went away ends the mode. */
static void
write_all (int         fd,
           const void *data,
           size_t      length)
{
  const char *p = data;

  while (length > 0)
    {
      ssize_t n = write (fd, p, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        exit (EXIT_IO);
      p += n;
      length -= (size_t) n;
    }
}

/* Reads exactly @length bytes; how many there were before end of file. */
static size_t
read_exact (int    fd,
            void  *buffer,
            size_t length)
{
  char *p = buffer;
  size_t done = 0;

  while (done < length)
    {
      ssize_t n = read (fd, p + done, length - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        exit (EXIT_IO);
      if (n == 0)
        break;
      done += (size_t) n;
    }
  return done;
}

/* The same bytes every time: a, b, ... z, a, ... */
static void
fill_pattern (char  *buffer,
              size_t length)
{
  for (size_t i = 0; i < length; i++)
    buffer[i] = (char) ('a' + i % 26);
}

static int
write_count (int      fd,
             guint64  count)
{
  static char chunk[CHUNK_SIZE];

  fill_pattern (chunk, sizeof chunk);
  while (count > 0)
    {
      size_t n = (size_t) MIN (count, sizeof chunk);

      write_all (fd, chunk, n);
      count -= n;
    }
  return 0;
}

static void G_GNUC_NORETURN
flood (int fd)
{
  static char chunk[CHUNK_SIZE];

  fill_pattern (chunk, sizeof chunk);
  for (;;)
    write_all (fd, chunk, sizeof chunk);
}

static int
echo_stdin (void)
{
  static char chunk[CHUNK_SIZE];

  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return EXIT_IO;
      if (n == 0)
        return 0;
      write_all (STDOUT_FILENO, chunk, (size_t) n);
    }
}

static int
crash (void)
{
  /* A sanitizer's handler would turn the signal into an exit status. */
  signal (SIGSEGV, SIG_DFL);
  raise (SIGSEGV);
  return EXIT_IO;
}

static int
spawn_grandchild (int       argc,
                  char    **argv,
                  gboolean  new_session)
{
  gboolean parent_sleeps = FALSE;
  char line[32];
  double secs;
  pid_t pid;
  int length;

  if (argc < 3 || argc > 4)
    usage ();
  secs = parse_secs (argv[2]);
  if (argc == 4)
    {
      if (strcmp (argv[3], "--parent-sleeps") != 0)
        usage ();
      parent_sleeps = TRUE;
    }

  pid = fork ();
  if (pid < 0)
    return EXIT_IO;
  if (pid == 0)
    {
      if (new_session && setsid () < 0)
        _exit (EXIT_IO);
      sleep_secs (secs);
      _exit (0);
    }

  length = g_snprintf (line, sizeof line, "%d\n", (int) pid);
  write_all (STDOUT_FILENO, line, (size_t) length);
  if (parent_sleeps)
    sleep_secs (secs);
  return 0;
}

/* Worker modes */

/* Reads one request frame into @buffer (@size bytes at most); its length,
 * or -1 at a clean end of file. Anything malformed exits. */
static gssize
read_request (char  *buffer,
              gsize  size)
{
  char header[HEADER_MAX + 1];
  gsize used = 0;
  guint64 length = 0;

  for (;;)
    {
      size_t n = read_exact (STDIN_FILENO, header + used, 1);

      if (n == 0)
        {
          if (used == 0)
            return -1;
          exit (EXIT_PROTOCOL);
        }
      if (header[used] == '\n')
        break;
      if (!g_ascii_isdigit (header[used]) || ++used == HEADER_MAX)
        exit (EXIT_PROTOCOL);
    }
  header[used] = '\0';
  if (used == 0 || !g_ascii_string_to_unsigned (header, 10, 0, size, &length, NULL))
    exit (EXIT_PROTOCOL);
  if (read_exact (STDIN_FILENO, buffer, (size_t) length) != length)
    exit (EXIT_PROTOCOL);
  return (gssize) length;
}

/* Writes one frame whose payload is @prefix, @middle (@middle_length bytes)
 * and @suffix. */
static void
write_response (const char *prefix,
                const char *middle,
                gsize       middle_length,
                const char *suffix)
{
  char header[HEADER_MAX + 1];
  gsize length = strlen (prefix) + middle_length + strlen (suffix);
  int header_length = g_snprintf (header, sizeof header, "%" G_GSIZE_FORMAT "\n", length);

  write_all (STDOUT_FILENO, header, (size_t) header_length);
  write_all (STDOUT_FILENO, prefix, strlen (prefix));
  write_all (STDOUT_FILENO, middle, middle_length);
  write_all (STDOUT_FILENO, suffix, strlen (suffix));
}

static const char report[] = "{\"kind\":\"exception\",\"type\":\"ValueError\",\"message\":\"boom\"}";

static int
worker (int    argc,
        char **argv)
{
  static char request[REQUEST_MAX];
  guint64 answers_left = G_MAXUINT64;
  double hang_secs = 300;
  gssize length;

  if (strcmp (mode, "worker-crash-after") == 0)
    {
      if (argc != 3)
        usage ();
      answers_left = parse_count (argv[2]);
    }
  else if (strcmp (mode, "worker-hang-mid-frame") == 0)
    {
      if (argc > 3)
        usage ();
      if (argc == 3)
        hang_secs = parse_secs (argv[2]);
    }
  else if (argc != 2)
    usage ();

  while ((length = read_request (request, sizeof request)) >= 0)
    {
      if (answers_left-- == 0)
        exit (3);

      if (strcmp (mode, "worker-report") == 0)
        write_response (report, "", 0, "");
      else if (strcmp (mode, "worker-print-pid") == 0)
        {
          char pid[16];
          int pid_length = g_snprintf (pid, sizeof pid, "%d", (int) getpid ());

          write_response ("{\"ok\": ", pid, (gsize) pid_length, "}");
        }
      else if (strcmp (mode, "worker-garbage") == 0)
        {
          static const char garbage[] = "this is not a frame\n";

          write_all (STDOUT_FILENO, garbage, strlen (garbage));
        }
      else if (strcmp (mode, "worker-hang-mid-frame") == 0)
        {
          static const char payload[] = "{\"ok\": \"never finished\"}";
          char header[HEADER_MAX + 1];
          int header_length = g_snprintf (header, sizeof header, "%d\n",
                                          (int) strlen (payload));

          write_all (STDOUT_FILENO, header, (size_t) header_length);
          write_all (STDOUT_FILENO, payload, strlen (payload) / 2);
          sleep_secs (hang_secs);
          return 0;
        }
      else
        write_response ("{\"ok\": ", request, (gsize) length, "}");
    }
  return 0;
}

int
main (int    argc,
      char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "Usage: nixexec-testprog MODE [ARGS...]\n");
      return EXIT_USAGE;
    }
  mode = argv[1];

  if (strcmp (mode, "sleep") == 0 && argc == 3)
    {
      sleep_secs (parse_secs (argv[2]));
      return 0;
    }
  if (strcmp (mode, "exit") == 0 && argc == 3)
    return (int) MIN (parse_count (argv[2]), 255);
  if (strcmp (mode, "crash") == 0 && argc == 2)
    return crash ();
  if (strcmp (mode, "write-stdout") == 0 && argc == 3)
    return write_count (STDOUT_FILENO, parse_count (argv[2]));
  if (strcmp (mode, "write-stderr") == 0 && argc == 3)
    return write_count (STDERR_FILENO, parse_count (argv[2]));
  if (strcmp (mode, "flood-stdout") == 0 && argc == 2)
    flood (STDOUT_FILENO);
  if (strcmp (mode, "flood-stderr") == 0 && argc == 2)
    flood (STDERR_FILENO);
  if (strcmp (mode, "echo-stdin") == 0 && argc == 2)
    return echo_stdin ();
  if (strcmp (mode, "fork-grandchild") == 0)
    return spawn_grandchild (argc, argv, FALSE);
  if (strcmp (mode, "setsid-grandchild") == 0)
    return spawn_grandchild (argc, argv, TRUE);
  if (g_str_has_prefix (mode, "worker") &&
      (strcmp (mode, "worker") == 0 ||
       strcmp (mode, "worker-report") == 0 ||
       strcmp (mode, "worker-crash-after") == 0 ||
       strcmp (mode, "worker-hang-mid-frame") == 0 ||
       strcmp (mode, "worker-garbage") == 0 ||
       strcmp (mode, "worker-print-pid") == 0))
    return worker (argc, argv);

  usage ();
}
