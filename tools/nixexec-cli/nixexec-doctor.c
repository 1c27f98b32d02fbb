/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `nixexec doctor`: what this machine offers nixexec-glib. Each check runs
 * what the library would run (nix with the same offline setting and
 * options), looks at what it would use (the store, the cache directory) or
 * asks it (whether stages run in a sandbox: the executor's own decision),
 * and says OK, FAIL or WARN with nix's, or the library's, own reason.
 *
 * The external commands run asynchronously on the default main context
 * with a time limit each, so that a hung nix cannot hang the doctor, and
 * SIGINT stops them. The library's bubblewrap probe runs inside
 * nix_exec_executor_new(), under the library's own time limit.
 *
 * The details quote nix's output, the flake, paths and the library's
 * messages: print_check() escapes them for the terminal, and nix's JSON is
 * read by the strict reader.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "nixexec-cli.h"

#define NIX_TIMEOUT_SECS 120
#define DAEMON_SOCKET "/nix/var/nix/daemon-socket/socket"
#define NIX_STORE "/nix/store"

typedef struct
{
  CliCommon    *common;
  GCancellable *cancellable;  /* owned: SIGINT, SIGTERM */
  JsonObject   *report;       /* owned */
  int           exit_code;    /* CLI_EXIT_OK while every check that matters passed */
} Doctor;

/* ------------------------------------------------------------------------ */
/* Running commands                                                         */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GAsyncResult *result;     /* owned */
  GSubprocess  *process;    /* borrowed */
  GCancellable *cancellable; /* borrowed */
  gboolean      timed_out;
} Command;

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Command *command = user_data;

  command->result = g_object_ref (result);
}

static gboolean
on_command_timeout (gpointer user_data)
{
  Command *command = user_data;

  command->timed_out = TRUE;
  g_subprocess_force_exit (command->process);
  g_cancellable_cancel (command->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_doctor_cancelled (GCancellable *doctor_cancellable,
                     gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* The line of a command's error output that says what went wrong: nix's
 * `error:` line, else the last line, without colours. */
static char *
reason_from_output (const char *text)
{
  g_autoptr(GRegex) colours = g_regex_new ("\\x1b\\[[0-9;]*[A-Za-z]", 0, 0, NULL);
  g_autofree char *plain = NULL;
  g_auto(GStrv) lines = NULL;
  const char *last = NULL;

  if (text == NULL)
    return NULL;
  plain = g_regex_replace_literal (colours, text, -1, 0, "", 0, NULL);
  lines = g_strsplit (plain != NULL ? plain : text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);

      if (g_str_has_prefix (line, "error:"))
        return g_strdup (line);
      if (*line != '\0')
        last = line;
    }
  return g_strdup (last);
}

/* Runs @argv, with @timeout_secs to finish; TRUE when it ran and exited 0.
 * Otherwise @reason says why, from the command's own error output. */
static gboolean
run_command (Doctor             *doctor,
             const char * const *argv,
             guint               timeout_secs,
             char              **out_stdout,
             char              **reason)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;
  Command command = { NULL, NULL, cancellable, FALSE };
  gulong forward;
  guint timeout;

  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_INHERIT |
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                               G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  if (process == NULL)
    {
      *reason = g_strdup (error->message);
      return FALSE;
    }

  command.process = process;
  /* Our own cancellable, so that a timeout can stop the read as well as
   * the process; a signal cancels it too. */
  forward = g_cancellable_connect (doctor->cancellable, G_CALLBACK (on_doctor_cancelled),
                                   g_object_ref (cancellable), g_object_unref);
  timeout = g_timeout_add_seconds (timeout_secs, on_command_timeout, &command);
  g_subprocess_communicate_utf8_async (process, NULL, cancellable, on_communicated, &command);
  while (command.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  if (!command.timed_out)
    g_source_remove (timeout);
  g_cancellable_disconnect (doctor->cancellable, forward);

  if (!g_subprocess_communicate_utf8_finish (process, command.result, &stdout_text,
                                             &stderr_text, &error))
    {
      g_object_unref (command.result);
      g_subprocess_force_exit (process);
      if (command.timed_out)
        *reason = g_strdup_printf ("%s did not finish within %u s", argv[0], timeout_secs);
      else
        *reason = g_strdup (error->message);
      return FALSE;
    }
  g_object_unref (command.result);

  if (!g_subprocess_get_successful (process))
    {
      g_autofree char *line = reason_from_output (stderr_text);

      if (line != NULL)
        *reason = g_steal_pointer (&line);
      else if (g_subprocess_get_if_signaled (process))
        *reason = g_strdup_printf ("%s was killed by signal %d", argv[0],
                                   g_subprocess_get_term_sig (process));
      else
        *reason = g_strdup_printf ("%s exited with status %d", argv[0],
                                   g_subprocess_get_exit_status (process));
      return FALSE;
    }

  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&stdout_text);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */
/* ------------------------------------------------------------------------ */

/* One line of the report: `name   OK    detail`. @status is "OK", "FAIL",
 * "WARN" or "-" (information only). */
static void
print_check (Doctor     *doctor,
             const char *name,
             const char *status,
             const char *detail)
{
  g_autofree char *shown = NULL;

  if (doctor->common->json)
    return;
  shown = cli_escape_text (detail, -1, TRUE);
  g_print ("%-10s %-5s %s\n", name, status, shown);
}

/* A check that matters failed: stages cannot run here, for a nix reason
 * (CLI_EXIT_NIX) or because they must run in a sandbox and cannot
 * (CLI_EXIT_ISOLATION). A nix reason wins: it is the one to fix first. */
static void
doctor_fail (Doctor *doctor,
             int     exit_code)
{
  if (doctor->exit_code != CLI_EXIT_NIX)
    doctor->exit_code = exit_code;
}

/* A check in the report, FAIL when it failed and @fails_with is the exit
 * status that gives, WARN when it failed and that is CLI_EXIT_OK. */
static JsonObject *
add_check (Doctor     *doctor,
           const char *name,
           gboolean    ok,
           int         fails_with,
           const char *detail)
{
  JsonObject *check = json_object_new ();

  json_object_set_boolean_member (check, "ok", ok);
  json_object_set_string_member (check, ok ? "detail" : "reason", detail);
  json_object_set_object_member (doctor->report, name, check);
  if (!ok && fails_with != CLI_EXIT_OK)
    doctor_fail (doctor, fails_with);
  print_check (doctor, name, ok ? "OK" : fails_with != CLI_EXIT_OK ? "FAIL" : "WARN", detail);
  return check;
}

static void
set_nullable_string (JsonObject *object,
                     const char *member,
                     const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, member, value);
  else
    json_object_set_null_member (object, member);
}

/* ------------------------------------------------------------------------ */
/* The checks                                                               */
/* ------------------------------------------------------------------------ */

/* The start of a nix command line as the library builds it: flakes on for
 * this call, offline if asked, the config's options. */
static GStrvBuilder *
nix_argv (const char    *nix,
          NixExecConfig *config)
{
  GStrvBuilder *argv = g_strv_builder_new ();
  const char * const *options = nix_exec_config_get_nix_options (config);

  g_strv_builder_add_many (argv, nix, "--extra-experimental-features", "nix-command flakes",
                           NULL);
  if (nix_exec_config_get_offline (config))
    g_strv_builder_add_many (argv, "--offline", "--option", "substituters", "", NULL);
  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    {
      const char *eq = strchr (options[i], '=');
      g_autofree char *name = NULL;

      if (eq == NULL)
        continue;
      name = g_strndup (options[i], eq - options[i]);
      g_strv_builder_add_many (argv, "--option", name, eq + 1, NULL);
    }
  return argv;
}

static char *
check_nix (Doctor        *doctor,
           NixExecConfig *config)
{
  g_autofree char *nix = NULL;
  g_autofree char *version = NULL;
  g_autofree char *reason = NULL;
  const char *configured = nix_exec_config_get_nix_path (config);
  JsonObject *check;

  if (configured != NULL)
    {
      if (!g_file_test (configured, G_FILE_TEST_IS_EXECUTABLE) ||
          g_file_test (configured, G_FILE_TEST_IS_DIR))
        {
          g_autofree char *detail = g_strdup_printf ("%s is not an executable file", configured);

          check = add_check (doctor, "nix", FALSE, CLI_EXIT_NIX, detail);
          json_object_set_string_member (check, "path", configured);
          json_object_set_null_member (check, "version");
          return NULL;
        }
      nix = g_strdup (configured);
    }
  else
    {
      nix = nix_exec_executor_find_nix ();
      if (nix == NULL)
        {
          check = add_check (doctor, "nix", FALSE, CLI_EXIT_NIX,
                             "not found in /nix/var/nix/profiles/default/bin, "
                             "/run/current-system/sw/bin or PATH: install Nix, or give --nix");
          json_object_set_null_member (check, "path");
          json_object_set_null_member (check, "version");
          return NULL;
        }
    }

  if (!run_command (doctor, (const char * const []) { nix, "--version", NULL },
                    NIX_TIMEOUT_SECS, &version, &reason))
    {
      g_autofree char *detail = g_strdup_printf ("%s: `nix --version` failed: %s", nix, reason);

      check = add_check (doctor, "nix", FALSE, CLI_EXIT_NIX, detail);
      json_object_set_string_member (check, "path", nix);
      json_object_set_null_member (check, "version");
      return NULL;
    }

  g_strstrip (version);
  {
    g_autofree char *detail = g_strdup_printf ("%s (%s)", nix, version);

    check = add_check (doctor, "nix", TRUE, CLI_EXIT_NIX, detail);
    json_object_set_string_member (check, "path", nix);
    json_object_set_string_member (check, "version", version);
  }
  return g_steal_pointer (&nix);
}

static void
check_flakes (Doctor        *doctor,
              NixExecConfig *config,
              const char    *nix)
{
  g_autoptr(GStrvBuilder) builder = nix_argv (nix, config);
  g_auto(GStrv) argv = NULL;
  g_autofree char *output = NULL;
  g_autofree char *reason = NULL;

  g_strv_builder_add_many (builder, "eval", "--expr", "1", NULL);
  argv = g_strv_builder_end (builder);
  if (run_command (doctor, (const char * const *) argv, NIX_TIMEOUT_SECS, &output, &reason))
    add_check (doctor, "flakes", TRUE, CLI_EXIT_NIX,
               "nix-command and flakes usable (`nix eval` works)");
  else
    add_check (doctor, "flakes", FALSE, CLI_EXIT_NIX, reason);
}

static void
check_flake (Doctor        *doctor,
             NixExecConfig *config,
             const char    *nix)
{
  g_autoptr(GStrvBuilder) builder = nix_argv (nix, config);
  g_autoptr(JsonNode) metadata = NULL;
  g_autoptr(GError) json_error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *output = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *detail = NULL;
  const char *flake = nix_exec_config_get_flake_ref (config);
  const char *url = NULL;
  JsonObject *check;

  g_strv_builder_add_many (builder, "flake", "metadata", "--json", "--no-write-lock-file",
                           flake, NULL);
  argv = g_strv_builder_end (builder);
  if (!run_command (doctor, (const char * const *) argv, NIX_TIMEOUT_SECS, &output, &reason))
    {
      detail = g_strdup_printf ("%s: %s", flake, reason);
    }
  else if ((metadata = nix_exec_json_read (output, strlen (output), &json_error)) == NULL)
    {
      detail = g_strdup_printf ("%s: nix flake metadata printed no valid JSON: %s", flake,
                                json_error->message);
    }
  else if (JSON_NODE_HOLDS_OBJECT (metadata))
    {
      url = cli_json_get_string (json_node_get_object (metadata), "url");
    }
  if (detail == NULL && url == NULL)
    detail = g_strdup_printf ("%s: nix flake metadata gave no locked URL", flake);

  if (url != NULL)
    {
      g_autofree char *ok_detail = g_strdup_printf ("%s locks to %s%s", flake, url,
                                                    nix_exec_config_get_offline (config)
                                                    ? " (offline)" : "");

      check = add_check (doctor, "flake", TRUE, CLI_EXIT_NIX, ok_detail);
    }
  else
    {
      check = add_check (doctor, "flake", FALSE, CLI_EXIT_NIX, detail);
    }
  json_object_set_string_member (check, "ref", flake);
  set_nullable_string (check, "locked_url", url);
  json_object_set_boolean_member (check, "offline", nix_exec_config_get_offline (config));
}

static void
check_store (Doctor *doctor)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (DAEMON_SOCKET);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *detail = NULL;
  const char *nix_remote = g_getenv ("NIX_REMOTE");
  const char *mode;
  gboolean ok = TRUE;
  JsonObject *check;

  if (g_file_test (DAEMON_SOCKET, G_FILE_TEST_EXISTS))
    connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                          doctor->cancellable, &error);

  if (connection != NULL)
    {
      mode = "daemon";
      detail = g_strdup ("daemon: " DAEMON_SOCKET " accepts connections");
    }
  else if (g_access (NIX_STORE, W_OK) == 0)
    {
      mode = "single-user";
      detail = g_strdup_printf ("single-user (local store): " NIX_STORE " is writable by this "
                                "user%s%s", error != NULL ? "; the daemon socket refused: " : "",
                                error != NULL ? error->message : "");
    }
  else
    {
      int saved_errno = errno;

      mode = "no-access";
      ok = FALSE;
      detail = g_strdup_printf ("no access: no nix daemon at " DAEMON_SOCKET "%s%s, and "
                                NIX_STORE " is not writable (%s)",
                                error != NULL ? ": " : "", error != NULL ? error->message : "",
                                g_strerror (saved_errno));
    }

  check = add_check (doctor, "store", ok, CLI_EXIT_NIX, detail);
  json_object_set_string_member (check, "mode", mode);
  set_nullable_string (check, "nix_remote", nix_remote);
  if (nix_remote != NULL && *nix_remote != '\0')
    print_check (doctor, "", "-", "NIX_REMOTE is set; nix uses that store, whatever is above");
}

/* Whether stages run in a sandbox is the executor's decision, made when it
 * is built (@executor, else the @error of building it): isolation-active
 * and isolation-reason, or the ISOLATION_UNAVAILABLE error of a config that
 * requires isolation. Which bwrap it runs is not public, so "path" stays
 * null. */
static void
check_bwrap (Doctor          *doctor,
             NixExecConfig   *config,
             NixExecExecutor *executor,
             const GError    *error)
{
  g_autofree char *detail = NULL;
  const char *reason;
  gboolean active = FALSE;
  JsonObject *check;

  if (executor != NULL && nix_exec_executor_get_isolation_active (executor))
    {
      active = TRUE;
      reason = NULL;
      check = add_check (doctor, "bwrap", TRUE, CLI_EXIT_OK, "stages run in a bubblewrap sandbox");
    }
  else if (executor != NULL)
    {
      reason = nix_exec_executor_get_isolation_reason (executor);
      detail = g_strdup_printf ("stages run unconfined: %s", reason);
      check = add_check (doctor, "bwrap", FALSE, CLI_EXIT_OK, detail);
    }
  else if (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE))
    {
      reason = error->message;
      check = add_check (doctor, "bwrap", FALSE, CLI_EXIT_ISOLATION, reason);
    }
  else
    {
      /* Nix, or the lock file, stopped the executor before it decided;
       * their own checks say so. */
      reason = NULL;
      detail = g_strdup_printf ("not known: no executor (%s)", error->message);
      check = add_check (doctor, "bwrap", FALSE, CLI_EXIT_OK, detail);
    }

  json_object_set_null_member (check, "path");
  json_object_set_boolean_member (check, "isolation_active", active);
  set_nullable_string (check, "isolation_reason", reason);
  json_object_set_boolean_member (check, "required",
                                  nix_exec_config_get_isolation (config) ==
                                  NIX_EXEC_ISOLATION_BWRAP ||
                                  nix_exec_config_get_require_isolation (config));
}

/* The library creates the cache directory on first use; the doctor does
 * the same and writes a file in it, which is the only reliable test (as
 * root, access(2) says yes to almost anything). */
static void
check_cache_dir (Doctor        *doctor,
                 NixExecConfig *config)
{
  const char *dir = nix_exec_config_get_cache_dir (config);
  g_autofree char *probe = g_build_filename (dir, ".nixexec-doctor-XXXXXX", NULL);
  g_autofree char *detail = NULL;
  gboolean existed = g_file_test (dir, G_FILE_TEST_IS_DIR);
  gboolean writable = FALSE;
  JsonObject *check;
  int fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      detail = g_strdup_printf ("%s cannot be created: %s", dir, g_strerror (saved_errno));
    }
  else if ((fd = g_mkstemp (probe)) < 0)
    {
      int saved_errno = errno;

      detail = g_strdup_printf ("%s is not writable: %s", dir, g_strerror (saved_errno));
    }
  else
    {
      close (fd);
      g_unlink (probe);
      writable = TRUE;
      detail = g_strdup_printf ("%s (writable%s)", dir, existed ? "" : "; created now");
    }

  check = add_check (doctor, "cache-dir", writable, CLI_EXIT_NIX, detail);
  json_object_set_string_member (check, "path", dir);
  json_object_set_boolean_member (check, "writable", writable);
}

/* What the lock of @executor knows, read through export_lock(): the lock
 * kept in the cache directory, or --lock's; with --resolve, after a
 * warmup of every language. @build_error says why there is no executor. */
static void
check_runtimes (Doctor          *doctor,
                NixExecExecutor *executor,
                const GError    *build_error,
                gboolean         resolve)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = executor == NULL ? g_error_copy (build_error) : NULL;
  g_autofree char *path = NULL;
  JsonObject *runtimes = json_object_new ();
  JsonObject *check = json_object_new ();
  JsonNode *member;
  int fd;

  json_object_set_object_member (doctor->report, "runtimes", check);
  json_object_set_object_member (check, "paths", runtimes);
  json_object_set_null_member (check, "flake_url");

  if (executor != NULL && resolve &&
      (!cli_register_all_languages (executor, &error) ||
       !cli_warmup (doctor->common, executor, NULL, &error)))
    executor = NULL;  /* borrowed: what it knows is not the whole picture */
  if (executor == NULL)
    {
      json_object_set_boolean_member (check, "ok", FALSE);
      json_object_set_string_member (check, "reason", error->message);
      if (resolve)
        doctor_fail (doctor, g_error_matches (error, NIX_EXEC_ERROR,
                                              NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE)
                             ? CLI_EXIT_ISOLATION : CLI_EXIT_NIX);
      print_check (doctor, "runtimes", resolve ? "FAIL" : "-", error->message);
      return;
    }

  fd = g_file_open_tmp ("nixexec-doctor-XXXXXX.json", &path, &error);
  if (fd >= 0)
    close (fd);
  if (fd < 0 ||
      !nix_exec_executor_export_lock (executor, path, &error) ||
      (root = cli_read_json_file (path, &error)) == NULL)
    {
      gboolean nothing = g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_LOCK_FILE);

      json_object_set_boolean_member (check, "ok", nothing);
      json_object_set_string_member (check, nothing ? "detail" : "reason",
                                     nothing ? "none yet" : error->message);
      print_check (doctor, "runtimes", "-",
                   nothing ? "none yet (run `nixexec warmup`)" : error->message);
      if (path != NULL)
        g_unlink (path);
      return;
    }
  g_unlink (path);

  {
    /* Written by the library a moment ago, but a file all the same. */
    JsonObject *lock = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
    const char *url = lock != NULL ? cli_json_get_string (lock, "flake") : NULL;
    g_autofree char *detail = g_strdup_printf ("locked to %s", url != NULL ? url : "?");
    g_autoptr(GList) names = NULL;

    json_object_set_boolean_member (check, "ok", TRUE);
    json_object_set_string_member (check, "detail", detail);
    set_nullable_string (check, "flake_url", url);
    print_check (doctor, "runtimes", "-", detail);

    member = lock != NULL ? json_object_get_member (lock, "runtimes") : NULL;
    if (member != NULL && JSON_NODE_HOLDS_OBJECT (member))
      names = json_object_get_members (json_node_get_object (member));
    for (const GList *l = names; l != NULL; l = l->next)
      {
        const char *store_path = cli_json_get_string (json_node_get_object (member), l->data);
        g_autofree char *line = NULL;

        if (store_path == NULL)
          store_path = "?";
        line = g_strdup_printf ("  %-8s %s", (const char *) l->data, store_path);
        json_object_set_string_member (runtimes, l->data, store_path);
        print_check (doctor, "", "", line);
      }
  }
}

int
cli_command_doctor (CliCommon  *common,
                    int         argc,
                    char      **argv)
{
  gboolean resolve = FALSE;
  g_autofree char *lock_file = NULL;
  const GOptionEntry entries[] = {
    { "resolve", 0, 0, G_OPTION_ARG_NONE, &resolve,
      "Also resolve the runtimes of every language (a warmup)", NULL },
    { "lock", 0, 0, G_OPTION_ARG_FILENAME, &lock_file,
      "Report the runtimes of this lock file", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) executor_error = NULL;
  g_autoptr(CliSignals) signals = NULL;
  g_autofree char *nix = NULL;
  Doctor doctor = { common, NULL, NULL, CLI_EXIT_OK };
  int exit_code;

  if (!cli_parse_command_options (common, "doctor", "",
                                  "Checks what nixexec needs: nix and its version, whether flakes\n"
                                  "work and the flake locks, the nix store (daemon or single-user),\n"
                                  "whether stages run in a bubblewrap sandbox, the cache directory\n"
                                  "(creating it), and the runtimes resolved so far. Exits 0 when\n"
                                  "stages can run, 5 when they cannot, 6 when they must run in a\n"
                                  "sandbox (--isolate bwrap, --require-isolation) and cannot.",
                                  entries, &argc, &argv, &error))
    return cli_report_error (common, error);
  if (argc > 1)
    {
      cli_usage_error (&error, "doctor takes no arguments");
      return cli_report_error (common, error);
    }

  config = cli_common_make_config (common);
  if (lock_file != NULL)
    {
      g_autofree char *path = g_canonicalize_filename (lock_file, NULL);

      nix_exec_config_set_lock_file (config, path);
    }

  doctor.cancellable = g_cancellable_new ();
  doctor.report = json_object_new ();
  signals = cli_signals_install (doctor.cancellable);

  nix = check_nix (&doctor, config);
  if (nix != NULL && !g_cancellable_is_cancelled (doctor.cancellable))
    {
      /* The executor uses the same nix as the checks. */
      nix_exec_config_set_nix_path (config, nix);
      check_flakes (&doctor, config, nix);
      if (!g_cancellable_is_cancelled (doctor.cancellable))
        check_flake (&doctor, config, nix);
    }
  else if (nix == NULL && !g_cancellable_is_cancelled (doctor.cancellable))
    {
      add_check (&doctor, "flakes", FALSE, CLI_EXIT_NIX, "not checked: no nix");
      add_check (&doctor, "flake", FALSE, CLI_EXIT_NIX, "not checked: no nix");
    }
  if (!g_cancellable_is_cancelled (doctor.cancellable))
    check_store (&doctor);
  if (!g_cancellable_is_cancelled (doctor.cancellable))
    {
      /* One executor, built from the options as `nixexec run` builds its
       * own: for the isolation it decides and the runtimes it knows. */
      executor = nix_exec_executor_new (config, &executor_error);
      check_bwrap (&doctor, config, executor, executor_error);
    }
  if (!g_cancellable_is_cancelled (doctor.cancellable))
    check_cache_dir (&doctor, config);
  if (nix != NULL && !g_cancellable_is_cancelled (doctor.cancellable))
    check_runtimes (&doctor, executor, executor_error, resolve);

  if (cli_signals_caught (signals))
    {
      /* What was checked before the signal is not the whole picture. */
      g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                         "The checks were cancelled");

      exit_code = cli_report_error (common, cancelled);
    }
  else
    {
      exit_code = doctor.exit_code;
      json_object_set_boolean_member (doctor.report, "ok", exit_code == CLI_EXIT_OK);
      if (common->json)
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

          json_node_set_object (node, doctor.report);
          if (!cli_print_json (node, &error))
            exit_code = cli_report_error (common, error);
        }
      else if (exit_code != CLI_EXIT_OK)
        {
          g_printerr ("nixexec: stages cannot run here: see the FAIL lines above\n");
        }
    }

  json_object_unref (doctor.report);
  g_object_unref (doctor.cancellable);
  return exit_code;
}
