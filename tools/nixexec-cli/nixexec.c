/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nixexec: run nixexec-glib stages from the command line.
 *
 *   nixexec [OPTION…] COMMAND [OPTION…] [ARG…]
 *
 * Commands: run, warmup, lock, list, add, remove, doctor; `nixexec COMMAND
 * --help` for each. Built on the public API of nixexec-glib, and on its
 * JSON reader and writer (see nixexec-cli.h).
 *
 * Every command parses twice: the global options before the command (one
 * GOptionContext in strict POSIX mode, which stops at the command's name),
 * then the command's own options together with the global ones again, so
 * both `nixexec --json run …` and `nixexec run --json …` work.
 *
 * Long operations (a stage, a warmup) run asynchronously on the default
 * main context, where the SIGINT and SIGTERM sources are: the blocking
 * calls iterate a private context, which would leave the signals unseen
 * until they return.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "nixexec-cli.h"

#define DEFAULT_LOCK_FILE "nixexec.lock.json"

static const char main_description[] =
  "Commands:\n"
  "  run       Run a stage file, or a stage of a store, on its input\n"
  "  warmup    Resolve (build or fetch) the runtimes stages need, ahead of time\n"
  "  lock      Warm up, then write a lock file that pins the runtimes\n"
  "  list      List the stages of a store\n"
  "  add       Add a stage file to a store\n"
  "  remove    Remove a stage from a store\n"
  "  doctor    Check nix, flakes, the store, bubblewrap and the cache\n"
  "\n"
  "`nixexec COMMAND --help` shows a command's options.\n"
  "\n"
  "Environment:\n"
  "  NIXEXEC_FLAKE      the flake runtimes come from, when --flake is not given\n"
  "  NIXEXEC_OFFLINE=1  run nix offline, with build-users-group= and sandbox=false,\n"
  "                     and show sandboxed stages /usr, /bin, /lib and /lib64: the\n"
  "                     settings for the bundled runtime flake, as root on a\n"
  "                     machine without network or nix daemon\n"
  "\n"
  "Exit status:\n"
  "    0  success\n"
  "    1  the stage failed: it raised or exited non-zero, or its output was not\n"
  "       one JSON value, or was too large\n"
  "    2  usage error or bad input: an option, the input JSON, an effect, a\n"
  "       language, a stage file or a store file\n"
  "    3  stage not found, or invalid (unknown language, syntax error, no execute)\n"
  "    4  the stage timed out\n"
  "    5  nix or runtime problem: nix missing or failing, a lock file, a runtime\n"
  "       not available, the cache directory\n"
  "    6  isolation unavailable: stages must run in a sandbox (--isolate bwrap,\n"
  "       --require-isolation) and cannot, or the sandbox refuses a --ro-bind\n"
  "  130  cancelled by SIGINT or SIGTERM\n"
  "\n"
  "Errors are one line on stderr, `nixexec: MESSAGE`; --verbose prints them\n"
  "whole, and with --json they are also printed on stdout as\n"
  "{\"error\": {\"domain\", \"code\", \"name\", \"message\", \"exit_status\"}}.";

static gboolean
parse_uint_option (const char  *option,
                   const char  *text,
                   guint64      max,
                   guint64     *value,
                   GError     **error)
{
  if (!g_ascii_string_to_unsigned (text, 10, 0, max, value, NULL))
    {
      cli_usage_error (error, "%s “%s” is not a whole number from 0 to %" G_GUINT64_FORMAT,
                       option, text, max);
      return FALSE;
    }
  return TRUE;
}

/* Opens a file store, reporting files that cannot be read as bad input. */
static NixExecFileStore *
open_store (const char  *path,
            gboolean     must_exist,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  NixExecFileStore *store;

  if (must_exist && !cli_check_store_exists (path, error))
    return NULL;

  store = nix_exec_file_store_new (path, &local_error);
  if (store == NULL)
    {
      if (local_error->domain == NIX_EXEC_ERROR)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "Cannot open the store “%s”: %s",
                     path, local_error->message);
    }
  return store;
}

/* ------------------------------------------------------------------------ */
/* Executors                                                                */
/* ------------------------------------------------------------------------ */

typedef struct
{
  char     *lock_file;  /* owned, nullable */
  gboolean  host;
} RuntimeOptions;

static void
runtime_options_clear (RuntimeOptions *options)
{
  g_clear_pointer (&options->lock_file, g_free);
}

/* The isolation settings (--isolate, --require-isolation, --ro-bind) are
 * common options: see cli_common_make_config(). */
static void
apply_runtime_options (NixExecConfig  *config,
                       RuntimeOptions *options)
{
  if (options->lock_file != NULL)
    {
      g_autofree char *path = g_canonicalize_filename (options->lock_file, NULL);

      nix_exec_config_set_lock_file (config, path);
    }
  if (options->host)
    nix_exec_config_set_runtime_source (config, NIX_EXEC_RUNTIME_SOURCE_HOST);
}

/* An executor with a stage for each file, the file's path being its id. */
static NixExecExecutor *
executor_for_files (NixExecConfig  *config,
                    char          **files,
                    GError        **error)
{
  g_autoptr(NixExecExecutor) executor = nix_exec_executor_new (config, error);

  if (executor == NULL)
    return NULL;

  for (guint i = 0; files != NULL && files[i] != NULL; i++)
    {
      g_autofree char *code = NULL;
      NixExecLanguage language;

      if (!cli_stage_language (NULL, files[i], &language, error))
        return NULL;
      code = cli_read_stage_file (files[i], error);
      if (code == NULL)
        return NULL;
      if (!nix_exec_executor_register_with_effects (executor, files[i], code,
                                                    cli_language_tag (language), NULL, error))
        return NULL;
    }
  return g_steal_pointer (&executor);
}

static NixExecExecutor *
executor_for_store (NixExecConfig  *config,
                    const char     *path,
                    GError        **error)
{
  g_autoptr(NixExecFileStore) store = open_store (path, TRUE, error);

  if (store == NULL)
    return NULL;
  return nix_exec_executor_new_from_store_with_config (NIX_EXEC_STAGE_STORE (store),
                                                       config, error);
}

/* ------------------------------------------------------------------------ */
/* run                                                                      */
/* ------------------------------------------------------------------------ */

static gboolean
only_whitespace (const char *text)
{
  for (; *text != '\0'; text++)
    {
      if (!g_ascii_isspace (*text))
        return FALSE;
    }
  return TRUE;
}

/* Only JSON's white space: space, tab, newline, carriage return. */
static gboolean
only_json_whitespace (const char *text,
                      gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
        return FALSE;
    }
  return TRUE;
}

/* The input: --input, else stdin unless it is a terminal, else null. Empty
 * stdin (or only white space) is null too, so that `</dev/null` works.
 * Either is read as bytes by the strict reader: one RFC 8259 text in
 * UTF-8, nested at most NIX_EXEC_JSON_MAX_DEPTH deep, whose numbers fit
 * (see nixexec-json-private.h); anything else is CLI_ERROR_INPUT, with
 * the line and column. */
static JsonNode *
read_input (const char  *input_option,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const char *source = "--input";
  const char *text;
  gsize length;
  JsonNode *node;

  if (input_option != NULL)
    {
      text = input_option;
      length = strlen (input_option);
    }
  else if (isatty (STDIN_FILENO))
    {
      return json_node_new (JSON_NODE_NULL);
    }
  else
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
      g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();

      source = "stdin";
      if (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL,
                                  &local_error) < 0)
        {
          g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "Cannot read the input on stdin: %s",
                       local_error->message);
          return NULL;
        }
      bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
      text = g_bytes_get_data (bytes, &length);
      if (text == NULL)
        text = "";
      if (only_json_whitespace (text, length))
        return json_node_new (JSON_NODE_NULL);
    }

  node = nix_exec_json_read (text, length, &local_error);
  if (node == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "The input (%s) is not valid JSON: %s",
                   source, local_error->message);
      return NULL;
    }
  return node;
}

static JsonNode *
result_to_json (NixExecResult *result)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const char *runtime_path = nix_exec_result_get_runtime_path (result);
  const char *flake_url = nix_exec_result_get_flake_url (result);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "output");
  json_builder_add_value (builder, json_node_copy (nix_exec_result_get_output (result)));
  json_builder_set_member_name (builder, "stage_id");
  json_builder_add_string_value (builder, nix_exec_result_get_stage_id (result));
  json_builder_set_member_name (builder, "runtime_path");
  if (runtime_path != NULL)
    json_builder_add_string_value (builder, runtime_path);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "interpreter");
  json_builder_add_string_value (builder, nix_exec_result_get_interpreter (result));
  json_builder_set_member_name (builder, "flake_url");
  if (flake_url != NULL)
    json_builder_add_string_value (builder, flake_url);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "runtime_source");
  json_builder_add_string_value (builder,
                                 cli_enum_nick (NIX_EXEC_TYPE_RUNTIME_SOURCE,
                                                nix_exec_result_get_runtime_source (result)));
  json_builder_set_member_name (builder, "duration_us");
  json_builder_add_int_value (builder, nix_exec_result_get_duration (result));
  json_builder_set_member_name (builder, "exit_status");
  json_builder_add_int_value (builder, nix_exec_result_get_exit_status (result));
  json_builder_set_member_name (builder, "logs");
  json_builder_add_string_value (builder, nix_exec_result_get_logs (result));
  json_builder_set_member_name (builder, "logs_truncated");
  json_builder_add_boolean_value (builder, nix_exec_result_get_logs_truncated (result));
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static void
on_execute_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

typedef struct
{
  RuntimeOptions  runtime;
  char           *input;
  char           *lang;
  char          **effects;
  char           *timeout;
  char           *max_output;
  char           *store;
  char           *stage;
  char           *id;
  gboolean        logs;
} RunOptions;

static void
run_options_clear (RunOptions *options)
{
  runtime_options_clear (&options->runtime);
  g_clear_pointer (&options->input, g_free);
  g_clear_pointer (&options->lang, g_free);
  g_clear_pointer (&options->effects, g_strfreev);
  g_clear_pointer (&options->timeout, g_free);
  g_clear_pointer (&options->max_output, g_free);
  g_clear_pointer (&options->store, g_free);
  g_clear_pointer (&options->stage, g_free);
  g_clear_pointer (&options->id, g_free);
}

static NixExecEffectSet *
parse_effect_options (char    **effects,
                      GError  **error)
{
  g_autofree char *joined = NULL;

  if (effects == NULL)
    return NULL;
  /* --effects a,b --effects c is --effects a,b,c. */
  joined = g_strjoinv (",", effects);
  return cli_parse_effects (joined, error);
}

static gboolean
run_stage (CliCommon   *common,
           RunOptions  *options,
           char       **files,
           int         *exit_code,
           GError     **error)
{
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(NixExecEffectSet) effects = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(JsonNode) input = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(CliSignals) signals = NULL;
  g_autoptr(GAsyncResult) async_result = NULL;
  g_autofree char *code = NULL;
  g_autofree char *stage_id = NULL;
  NixExecLanguage language = NIX_EXEC_LANGUAGE_PYTHON;
  guint files_len = files != NULL ? g_strv_length (files) : 0;
  guint64 number;

  /* Everything the user typed is checked before nix is asked anything. */
  if (options->store != NULL)
    {
      if (options->stage == NULL)
        {
          cli_usage_error (error, "--store needs --stage ID: the stage to run");
          return FALSE;
        }
      if (files_len > 0 || options->lang != NULL || options->effects != NULL ||
          options->id != NULL)
        {
          cli_usage_error (error, "With --store, give --stage ID and no FILE, --lang, "
                           "--effects or --id");
          return FALSE;
        }
      stage_id = g_strdup (options->stage);
    }
  else
    {
      if (options->stage != NULL)
        {
          cli_usage_error (error, "--stage needs --store STORE: the store to find it in");
          return FALSE;
        }
      if (files_len != 1)
        {
          cli_usage_error (error, files_len == 0 ? "Give the stage FILE to run (or --store and --stage)"
                                                 : "Give one stage FILE to run");
          return FALSE;
        }
      if (!cli_stage_language (options->lang, files[0], &language, error))
        return FALSE;
      if (options->effects != NULL &&
          (effects = parse_effect_options (options->effects, error)) == NULL)
        return FALSE;
      stage_id = options->id != NULL ? g_strdup (options->id)
                                     : cli_stage_id_from_filename (files[0]);
      code = cli_read_stage_file (files[0], error);
      if (code == NULL)
        return FALSE;
    }

  config = cli_common_make_config (common);
  apply_runtime_options (config, &options->runtime);
  if (options->timeout != NULL)
    {
      if (!parse_uint_option ("--timeout", options->timeout, G_MAXUINT, &number, error))
        return FALSE;
      nix_exec_config_set_timeout_secs (config, (guint) number);
    }
  if (options->max_output != NULL)
    {
      if (!parse_uint_option ("--max-output-bytes", options->max_output, G_MAXUINT64,
                              &number, error))
        return FALSE;
      nix_exec_config_set_max_output_bytes (config, number);
    }

  input = read_input (options->input, error);
  if (input == NULL)
    return FALSE;

  if (options->store != NULL)
    {
      executor = executor_for_store (config, options->store, error);
      if (executor == NULL)
        return FALSE;
    }
  else
    {
      executor = nix_exec_executor_new (config, error);
      if (executor == NULL ||
          !nix_exec_executor_register_with_effects (executor, stage_id, code,
                                                    cli_language_tag (language), effects, error))
        return FALSE;
    }

  cancellable = g_cancellable_new ();
  signals = cli_signals_install (cancellable);
  nix_exec_executor_execute_full_async (executor, stage_id, input, cancellable,
                                        on_execute_done, &async_result);
  while (async_result == NULL)
    g_main_context_iteration (NULL, TRUE);

  result = nix_exec_executor_execute_full_finish (executor, async_result, error);
  if (result == NULL)
    return FALSE;

  if (common->json)
    {
      g_autoptr(JsonNode) node = result_to_json (result);

      if (!cli_print_json (node, error))
        return FALSE;
    }
  else
    {
      const char *logs = nix_exec_result_get_logs (result);

      if (options->logs && *logs != '\0')
        {
          /* Whatever the stage printed, but not as commands to the
           * terminal: lines and tabs stay, other controls are escaped. */
          g_autofree char *shown = cli_escape_text (logs, -1, TRUE);

          fputs (shown, stderr);
          if (!g_str_has_suffix (shown, "\n"))
            fputc ('\n', stderr);
          if (nix_exec_result_get_logs_truncated (result))
            fputs ("nixexec: (the stage's logs were cut short)\n", stderr);
          fflush (stderr);
        }
      /* Compact, even on a terminal: one value, one line. */
      if (!cli_print_json_full (nix_exec_result_get_output (result), FALSE, error))
        return FALSE;
    }

  *exit_code = CLI_EXIT_OK;
  return TRUE;
}

static int
command_run (CliCommon  *common,
             int         argc,
             char      **argv)
{
  RunOptions options = { 0, };
  g_autofree char *valid_effects = cli_valid_effects_text ();
  g_autofree char *effects_help =
    g_strdup_printf ("The effects the stage declares, comma-separated: %s (default: unknown)",
                     valid_effects);
  const GOptionEntry entries[] = {
    /* FILENAME: the bytes as given, not converted from the locale's
     * character set; the JSON reader wants UTF-8. */
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &options.input,
      "The input JSON (default: read from stdin; null when stdin is a terminal)", "JSON" },
    { "lang", 'l', 0, G_OPTION_ARG_STRING, &options.lang,
      "The stage's language: python, javascript or bash (default: from FILE's extension)",
      "LANG" },
    { "effects", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &options.effects,
      effects_help, "EFFECTS" },
    { "id", 0, 0, G_OPTION_ARG_STRING, &options.id,
      "The stage's id (default: FILE's name without its extension)", "ID" },
    { "store", 's', 0, G_OPTION_ARG_FILENAME, &options.store,
      "Run a stage of this store file instead of a FILE", "STORE" },
    { "stage", 0, 0, G_OPTION_ARG_STRING, &options.stage,
      "The id of the stage to run from --store", "ID" },
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &options.timeout,
      "Kill the stage after SECS seconds (default: 30; 0: no limit)", "SECS" },
    { "max-output-bytes", 0, 0, G_OPTION_ARG_STRING, &options.max_output,
      "Kill the stage when its output passes N bytes (default: 10 MiB)", "N" },
    { "lock", 0, 0, G_OPTION_ARG_FILENAME, &options.runtime.lock_file,
      "Run the runtimes pinned by this lock file (see `nixexec lock`)", "FILE" },
    { "host", 0, 0, G_OPTION_ARG_NONE, &options.runtime.host,
      "Run on the host's own interpreters from PATH, not on nix: nothing is pinned", NULL },
    { "logs", 0, 0, G_OPTION_ARG_NONE, &options.logs,
      "Print what the stage logged on stderr (control characters escaped)", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GError) error = NULL;
  int exit_code = CLI_EXIT_OK;

  if (!cli_parse_command_options (common, "run", "FILE",
                              "Runs a stage on one input and prints its output, one JSON value,\n"
                              "on stdout. The stage is a FILE that defines execute(input), or the\n"
                              "stage --stage ID of the store --store STORE.",
                              entries, &argc, &argv, &error) ||
      !run_stage (common, &options, argv + 1, &exit_code, &error))
    exit_code = cli_report_error (common, error);

  run_options_clear (&options);
  return exit_code;
}

/* ------------------------------------------------------------------------ */
/* warmup and lock                                                          */
/* ------------------------------------------------------------------------ */

static NixExecExecutor *
executor_to_warm_up (CliCommon       *common,
                     RuntimeOptions  *runtime,
                     const char      *store,
                     char           **files,
                     GError         **error)
{
  g_autoptr(NixExecConfig) config = cli_common_make_config (common);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_auto(GStrv) ids = NULL;

  if (store != NULL && files != NULL && files[0] != NULL)
    {
      cli_usage_error (error, "Give either --store or stage FILEs, not both");
      return NULL;
    }

  apply_runtime_options (config, runtime);
  if (store != NULL)
    executor = executor_for_store (config, store, error);
  else
    executor = executor_for_files (config, files, error);
  if (executor == NULL)
    return NULL;

  ids = nix_exec_executor_list_stage_ids (executor);
  if (ids[0] == NULL)
    {
      if (store != NULL)
        {
          g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT,
                       "The store “%s” has no stage to warm up", store);
          return NULL;
        }
      /* Nothing named: every language. */
      if (!cli_register_all_languages (executor, error))
        return NULL;
    }
  return g_steal_pointer (&executor);
}

static void
print_resolved_summary (CliCommon       *common,
                        NixExecExecutor *executor,
                        JsonObject      *resolved)
{
  g_autofree char *url = nix_exec_executor_dup_locked_flake_url (executor);
  guint n = json_object_get_size (resolved);

  if (url != NULL)
    cli_info (common, "%u runtime%s ready, from %s", n, n == 1 ? "" : "s", url);
  else
    cli_info (common, "%u runtime%s ready, from the host (not pinned)", n, n == 1 ? "" : "s");
}

static int
command_warmup (CliCommon  *common,
                int         argc,
                char      **argv)
{
  RuntimeOptions runtime = { 0, };
  g_autofree char *store = NULL;
  const GOptionEntry entries[] = {
    { "store", 's', 0, G_OPTION_ARG_FILENAME, &store,
      "Warm up the runtimes of this store's stages", "STORE" },
    { "lock", 0, 0, G_OPTION_ARG_FILENAME, &runtime.lock_file,
      "Use the runtimes pinned by this lock file", "FILE" },
    { "host", 0, 0, G_OPTION_ARG_NONE, &runtime.host,
      "Use the host's own interpreters from PATH: nothing is pinned", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(JsonObject) resolved = json_object_new ();
  int exit_code = CLI_EXIT_OK;

  if (!cli_parse_command_options (common, "warmup", "[FILE…]",
                              "Resolves the runtimes that the stage FILEs, or the stages of --store,\n"
                              "need, building or fetching them with nix; with neither, the runtimes\n"
                              "of every language (python3, nodejs, bash). Prints a line per runtime\n"
                              "on stderr as it is ready.",
                              entries, &argc, &argv, &error) ||
      (executor = executor_to_warm_up (common, &runtime, store, argv + 1, &error)) == NULL ||
      !cli_warmup (common, executor, resolved, &error))
    {
      exit_code = cli_report_error (common, error);
    }
  else
    {
      print_resolved_summary (common, executor, resolved);
      if (common->json)
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
          g_autoptr(JsonObject) object = json_object_new ();
          g_autofree char *url = nix_exec_executor_dup_locked_flake_url (executor);

          if (url != NULL)
            json_object_set_string_member (object, "flake_url", url);
          else
            json_object_set_null_member (object, "flake_url");
          json_object_set_object_member (object, "runtimes", json_object_ref (resolved));
          json_node_set_object (node, object);
          if (!cli_print_json (node, &error))
            exit_code = cli_report_error (common, error);
        }
    }

  runtime_options_clear (&runtime);
  return exit_code;
}

static gboolean
write_lock (CliCommon        *common,
            NixExecExecutor  *executor,
            const char       *output,
            GError          **error)
{
  g_autofree char *path = g_canonicalize_filename (output, NULL);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *lock;
  JsonNode *runtimes;
  const char *flake;
  guint n = 0;

  if (!nix_exec_executor_export_lock (executor, path, error))
    return FALSE;

  /* What was written, read back for the summary and for --json. */
  root = cli_read_json_file (path, error);
  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "%s does not hold a JSON object", path);
      return FALSE;
    }
  lock = json_node_get_object (root);
  runtimes = json_object_get_member (lock, "runtimes");
  if (runtimes != NULL && JSON_NODE_HOLDS_OBJECT (runtimes))
    n = json_object_get_size (json_node_get_object (runtimes));
  flake = cli_json_get_string (lock, "flake");

  cli_info (common, "wrote %s: %u runtime%s from %s", output, n, n == 1 ? "" : "s",
            flake != NULL ? flake : "?");
  if (common->json)
    {
      json_object_set_string_member (lock, "path", path);
      return cli_print_json (root, error);
    }
  return TRUE;
}

static int
command_lock (CliCommon  *common,
              int         argc,
              char      **argv)
{
  RuntimeOptions runtime = { 0, };
  g_autofree char *store = NULL;
  g_autofree char *output = NULL;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Where to write the lock file (default: ./" DEFAULT_LOCK_FILE ")", "FILE" },
    { "store", 's', 0, G_OPTION_ARG_FILENAME, &store,
      "Lock the runtimes of this store's stages", "STORE" },
    { "lock", 0, 0, G_OPTION_ARG_FILENAME, &runtime.lock_file,
      "Start from the runtimes pinned by this lock file", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  int exit_code = CLI_EXIT_OK;

  if (!cli_parse_command_options (common, "lock", "[FILE…]",
                              "Warms up the runtimes of the stage FILEs, or of the stages of --store,\n"
                              "or of every language, then writes a lock file that pins them: the\n"
                              "locked flake URL and each runtime's store path. `nixexec run --lock\n"
                              "FILE` (on this machine or another of the same system) then runs\n"
                              "exactly those store paths.",
                              entries, &argc, &argv, &error) ||
      (executor = executor_to_warm_up (common, &runtime, store, argv + 1, &error)) == NULL ||
      !cli_warmup (common, executor, NULL, &error) ||
      !write_lock (common, executor, output != NULL ? output : DEFAULT_LOCK_FILE, &error))
    exit_code = cli_report_error (common, error);

  runtime_options_clear (&runtime);
  return exit_code;
}

/* ------------------------------------------------------------------------ */
/* list, add, remove                                                        */
/* ------------------------------------------------------------------------ */

static JsonNode *
stage_to_json (NixExecStage *stage)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const char *name = nix_exec_stage_get_name (stage);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, nix_exec_stage_get_id (stage));
  json_builder_set_member_name (builder, "name");
  if (name != NULL)
    json_builder_add_string_value (builder, name);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "language");
  json_builder_add_string_value (builder, nix_exec_stage_get_language (stage));
  json_builder_set_member_name (builder, "effects");
  json_builder_add_value (builder, cli_effects_to_json_array (nix_exec_stage_get_effects (stage)));
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static const char *
or_dash (const char *text)
{
  return text != NULL && *text != '\0' ? text : "-";
}

/* The cells of a stage's row: id, language, name and effects, as the
 * store file has them but escaped for the terminal. */
static GStrv
stage_row (NixExecStage *stage)
{
  g_autofree char *effects = cli_format_effects (nix_exec_stage_get_effects (stage));
  const char *cells[] = {
    nix_exec_stage_get_id (stage),
    or_dash (nix_exec_stage_get_language (stage)),
    or_dash (nix_exec_stage_get_name (stage)),
    or_dash (effects),
  };
  GStrv row = g_new0 (char *, G_N_ELEMENTS (cells) + 1);

  for (guint column = 0; column < G_N_ELEMENTS (cells); column++)
    row[column] = cli_escape_text (cells[column], -1, FALSE);
  return row;
}

static void
print_stage_table (GPtrArray *stages)
{
  static const char * const headers[] = { "ID", "LANGUAGE", "NAME", "EFFECTS" };
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  int widths[3];

  for (guint column = 0; column < 3; column++)
    widths[column] = g_utf8_strlen (headers[column], -1);
  for (guint i = 0; i < stages->len; i++)
    {
      GStrv row = stage_row (g_ptr_array_index (stages, i));

      for (guint column = 0; column < 3; column++)
        widths[column] = MAX (widths[column], (int) g_utf8_strlen (row[column], -1));
      g_ptr_array_add (rows, row);
    }

  g_print ("%-*s  %-*s  %-*s  %s\n", widths[0], headers[0], widths[1], headers[1],
           widths[2], headers[2], headers[3]);
  for (guint i = 0; i < rows->len; i++)
    {
      GStrv row = g_ptr_array_index (rows, i);

      /* printf pads bytes; pad by characters so that names line up. */
      for (guint column = 0; column < 3; column++)
        {
          int pad = widths[column] - (int) g_utf8_strlen (row[column], -1);

          g_print ("%s%*s  ", row[column], pad, "");
        }
      g_print ("%s\n", row[3]);
    }
}

static int
command_list (CliCommon  *common,
              int         argc,
              char      **argv)
{
  g_autofree char *store_path = NULL;
  const GOptionEntry entries[] = {
    { "store", 's', 0, G_OPTION_ARG_FILENAME, &store_path,
      "The store file", "STORE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(GPtrArray) stages = NULL;

  if (!cli_parse_command_options (common, "list", "",
                              "Lists the stages of a store: id, language, name and effects.",
                              entries, &argc, &argv, &error))
    return cli_report_error (common, error);
  if (store_path == NULL || argc > 1)
    {
      cli_usage_error (&error, store_path == NULL ? "list needs --store STORE"
                                                  : "list takes no arguments");
      return cli_report_error (common, error);
    }

  store = open_store (store_path, TRUE, &error);
  if (store == NULL)
    return cli_report_error (common, error);
  stages = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (store));

  if (common->json)
    {
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);
      g_autoptr(JsonArray) array = json_array_sized_new (stages->len);

      for (guint i = 0; i < stages->len; i++)
        json_array_add_element (array, stage_to_json (g_ptr_array_index (stages, i)));
      json_node_set_array (node, array);
      if (!cli_print_json (node, &error))
        return cli_report_error (common, error);
    }
  else if (stages->len > 0)
    {
      print_stage_table (stages);
    }
  else
    {
      cli_info (common, "The store %s has no stages", store_path);
    }

  return CLI_EXIT_OK;
}

typedef struct
{
  char  *store;
  char  *id;
  char  *name;
  char  *lang;
  char **effects;
} AddOptions;

static void
add_options_clear (AddOptions *options)
{
  g_clear_pointer (&options->store, g_free);
  g_clear_pointer (&options->id, g_free);
  g_clear_pointer (&options->name, g_free);
  g_clear_pointer (&options->lang, g_free);
  g_clear_pointer (&options->effects, g_strfreev);
}

static gboolean
add_stage (CliCommon   *common,
           AddOptions  *options,
           int          argc,
           char       **argv,
           GError     **error)
{
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(NixExecEffectSet) effects = NULL;
  g_autoptr(NixExecStage) stage = NULL;
  g_autofree char *code = NULL;
  g_autofree char *id = NULL;
  NixExecLanguage language;

  if (options->store == NULL)
    {
      cli_usage_error (error, "add needs --store STORE");
      return FALSE;
    }
  if (argc != 2)
    {
      cli_usage_error (error, "Give one stage FILE to add");
      return FALSE;
    }

  if (!cli_stage_language (options->lang, argv[1], &language, error))
    return FALSE;
  if (options->effects != NULL &&
      (effects = parse_effect_options (options->effects, error)) == NULL)
    return FALSE;
  if (options->id != NULL && *options->id == '\0')
    {
      cli_usage_error (error, "--id needs a value");
      return FALSE;
    }
  code = cli_read_stage_file (argv[1], error);
  if (code == NULL)
    return FALSE;
  if (only_whitespace (code))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "The stage file “%s” is empty", argv[1]);
      return FALSE;
    }

  id = options->id != NULL ? g_strdup (options->id) : cli_stage_id_from_filename (argv[1]);
  stage = nix_exec_stage_new (id, code, cli_language_tag (language), effects);
  if (options->name != NULL)
    nix_exec_stage_set_name (stage, options->name);

  store = open_store (options->store, FALSE, error);
  if (store == NULL)
    return FALSE;
  if (!nix_exec_file_store_add (store, stage, error))
    return FALSE;

  cli_info (common, "added stage “%s” (%s) to %s", id, nix_exec_stage_get_language (stage),
            options->store);
  if (common->json)
    {
      g_autoptr(JsonNode) node = stage_to_json (stage);

      return cli_print_json (node, error);
    }
  return TRUE;
}

static int
command_add (CliCommon  *common,
             int         argc,
             char      **argv)
{
  AddOptions options = { 0, };
  const GOptionEntry entries[] = {
    { "store", 's', 0, G_OPTION_ARG_FILENAME, &options.store,
      "The store file (created if missing)", "STORE" },
    { "id", 0, 0, G_OPTION_ARG_STRING, &options.id,
      "The stage's id (default: FILE's name without its extension)", "ID" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &options.name,
      "The stage's name", "NAME" },
    { "lang", 'l', 0, G_OPTION_ARG_STRING, &options.lang,
      "The stage's language: python, javascript or bash (default: from FILE's extension)",
      "LANG" },
    { "effects", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &options.effects,
      "The effects the stage declares (see `nixexec run --help`; default: unknown)",
      "EFFECTS" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GError) error = NULL;
  int exit_code = CLI_EXIT_OK;

  if (!cli_parse_command_options (common, "add", "FILE",
                              "Adds the stage FILE to a store, replacing a stage with the same id.",
                              entries, &argc, &argv, &error) ||
      !add_stage (common, &options, argc, argv, &error))
    exit_code = cli_report_error (common, error);

  add_options_clear (&options);
  return exit_code;
}

static int
command_remove (CliCommon  *common,
                int         argc,
                char      **argv)
{
  g_autofree char *store_path = NULL;
  const GOptionEntry entries[] = {
    { "store", 's', 0, G_OPTION_ARG_FILENAME, &store_path,
      "The store file", "STORE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecFileStore) store = NULL;

  if (!cli_parse_command_options (common, "remove", "ID",
                              "Removes the stage ID from a store.",
                              entries, &argc, &argv, &error))
    return cli_report_error (common, error);
  if (store_path == NULL || argc != 2)
    {
      cli_usage_error (&error, store_path == NULL ? "remove needs --store STORE"
                                                  : "Give the ID of one stage to remove");
      return cli_report_error (common, error);
    }

  store = open_store (store_path, TRUE, &error);
  if (store == NULL || !nix_exec_file_store_remove (store, argv[1], &error))
    return cli_report_error (common, error);

  cli_info (common, "removed stage “%s” from %s", argv[1], store_path);
  return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

static const struct
{
  const char *name;
  int       (*run) (CliCommon *common, int argc, char **argv);
} commands[] = {
  { "run", command_run },
  { "warmup", command_warmup },
  { "lock", command_lock },
  { "list", command_list },
  { "add", command_add },
  { "remove", command_remove },
  { "doctor", cli_command_doctor },
};

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  CliCommon common;
  int exit_code = CLI_EXIT_USAGE;

  setlocale (LC_ALL, "");
  cli_install_log_writer ();
  cli_common_init (&common);

  context = g_option_context_new ("COMMAND [OPTION…] [ARG…]");
  g_option_context_set_summary (context,
                                "Runs nixexec-glib stages — Python, JavaScript or Bash code that defines\n"
                                "execute(input) — on runtimes pinned by nix.");
  g_option_context_set_description (context, main_description);
  g_option_context_set_main_group (context, cli_common_option_group (&common));
  /* Stop at the command: what follows is the command's to parse. */
  g_option_context_set_strict_posix (context, TRUE);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      cli_add_help_hint (&error, NULL);
      exit_code = cli_report_error (&common, error);
    }
  else if (argc < 2)
    {
      cli_usage_error (&error, "Give a command: run, warmup, lock, list, add, remove or doctor "
                       "(see `nixexec --help`)");
      exit_code = cli_report_error (&common, error);
    }
  else
    {
      guint i;

      for (i = 0; i < G_N_ELEMENTS (commands); i++)
        {
          if (g_str_equal (argv[1], commands[i].name))
            break;
        }
      if (i < G_N_ELEMENTS (commands))
        {
          exit_code = commands[i].run (&common, argc - 1, argv + 1);
        }
      else
        {
          cli_usage_error (&error, "Unknown command “%s” (see `nixexec --help`)", argv[1]);
          exit_code = cli_report_error (&common, error);
        }
    }

  cli_common_clear (&common);
  return exit_code;
}
