/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the parts of the `nixexec` command line share: the options every
 * command takes, the exit codes, and the helpers that turn options into a
 * NixExecConfig, effects and languages, and the two rules of what it
 * prints: JSON is written by nix_exec_json_write() and read by
 * nix_exec_json_read() (a copy of the library's private nixexec-json.c is
 * compiled in), and text from stages, stores, lock files and nix is
 * escaped by cli_escape_text() before it reaches a terminal. Otherwise the
 * tool uses the public API of nixexec-glib only.
 */
#pragma once

#include <nixexec-glib.h>

#include "nixexec-json-private.h"

G_BEGIN_DECLS

/* The exit codes, documented in `nixexec --help` and docs/cli.md. */
typedef enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_STAGE_FAILED = 1,  /* STAGE_FAILED, INVALID_OUTPUT, OUTPUT_TOO_LARGE */
  CLI_EXIT_USAGE = 2,         /* bad option, bad input, unknown effect or language */
  CLI_EXIT_NOT_FOUND = 3,     /* STAGE_NOT_FOUND, INVALID_STAGE */
  CLI_EXIT_TIMED_OUT = 4,     /* TIMED_OUT */
  CLI_EXIT_NIX = 5,           /* NIX_*, lock files, runtimes, the cache directory */
  CLI_EXIT_ISOLATION = 6,     /* ISOLATION_UNAVAILABLE */
  CLI_EXIT_RESOURCE = 7,      /* RESOURCE_LIMIT */
  CLI_EXIT_CANCELLED = 130,   /* SIGINT or SIGTERM */
} CliExit;

/* Errors the tool itself finds in what it was given. */
#define CLI_ERROR (cli_error_quark ())

typedef enum {
  CLI_ERROR_USAGE,  /* a bad command line */
  CLI_ERROR_INPUT,  /* a bad input value, stage file or store path */
} CliError;

GQuark cli_error_quark (void);

/* The options every command takes; see cli_common_option_group(). */
typedef struct
{
  char      *flake;        /* owned, nullable: --flake, else NIXEXEC_FLAKE */
  gboolean   offline;      /* --offline, or NIXEXEC_OFFLINE=1 */
  GPtrArray *nix_options;  /* char *, owned: NIXEXEC_OFFLINE's, then --nix-option's */
  char      *nix_path;     /* owned, nullable: --nix */
  char      *cache_dir;    /* owned, nullable: --cache-dir */
  int        isolation;    /* -1: the default (AUTO); else a NixExecIsolation */
  gboolean   require_isolation;
  GPtrArray *ro_binds;     /* char *, owned: NIXEXEC_OFFLINE's, then --ro-bind's */
  gboolean   json;
  gboolean   quiet;
  gboolean   verbose;
} CliCommon;

void           cli_common_init             (CliCommon     *common);
void           cli_common_clear            (CliCommon     *common);
/* A group for a GOptionContext, writing into @common; several contexts may
 * share one CliCommon (global options before the command, and after it). */
GOptionGroup  *cli_common_option_group     (CliCommon     *common);
/* Parses a command's options: @entries and the common ones, all shown by
 * `nixexec COMMAND --help`. On return argc/argv hold the arguments, the
 * command's name first. */
gboolean       cli_parse_command_options   (CliCommon           *common,
                                            const char          *command,
                                            const char          *parameters,
                                            const char          *summary,
                                            const GOptionEntry  *entries,
                                            int                 *argc,
                                            char              ***argv,
                                            GError             **error);
/* Appends "(see `nixexec COMMAND --help`)" to a usage error. */
void           cli_add_help_hint           (GError             **error,
                                            const char          *command);
/* A config from the options and the environment. */
NixExecConfig *cli_common_make_config      (CliCommon     *common);

/* Prints `nixexec: MESSAGE` (the first line of it unless --verbose) on
 * stderr, and with --json the whole error as {"error": {…}} on stdout, and
 * returns the exit code for @error. */
int            cli_report_error            (CliCommon     *common,
                                            const GError  *error);
int            cli_exit_code_for_error     (const GError  *error);
void           cli_usage_error             (GError       **error,
                                            const char    *format,
                                            ...) G_GNUC_PRINTF (2, 3);

/* `nixexec: warning: …` for GLib warnings and messages, such as the
 * executor's warning about host runtimes. */
void           cli_install_log_writer      (void);

/* Progress lines on stderr, unless --quiet. */
void           cli_info                    (CliCommon     *common,
                                            const char    *format,
                                            ...) G_GNUC_PRINTF (2, 3);

/* The nick of @value of a library enum (NIX_EXEC_TYPE_ISOLATION…), or
 * NULL; static. */
const char    *cli_enum_nick               (GType          enum_type,
                                            int            value);
/* The nicks of a library enum, for messages: "none, auto or bwrap". */
char          *cli_enum_nicks_text         (GType          enum_type);
/* The value whose nick is @nick, or FALSE with CLI_ERROR_USAGE saying what
 * @option takes. */
gboolean       cli_enum_from_nick          (GType          enum_type,
                                            const char    *option,
                                            const char    *nick,
                                            int           *out_value,
                                            GError       **error);

/* A stage's language: from @tag (--lang: the library's tags, or py) when
 * not NULL, else from @filename's extension; FALSE with CLI_ERROR_USAGE. */
gboolean       cli_stage_language          (const char       *tag,
                                            const char       *filename,
                                            NixExecLanguage  *out_language,
                                            GError          **error);
/* The library's canonical tag of @language: python, javascript or bash. */
const char    *cli_language_tag            (NixExecLanguage   language);
/* The id a stage file gets by default: its basename without extension. */
char          *cli_stage_id_from_filename  (const char    *filename);

/* `network,fs-read=/p,…` to an effect set, or NULL with CLI_ERROR_USAGE
 * naming the valid effects. */
NixExecEffectSet *cli_parse_effects        (const char    *text,
                                            GError       **error);
/* The effects --effects takes, for messages and --help: "pure, …,
 * fs-read=PATH, …", from the GEnumClass of NixExecEffectKind. */
char          *cli_valid_effects_text      (void);
/* The reverse, for listings: `network, fs-read=/p`. */
char          *cli_format_effects          (NixExecEffectSet *effects);
/* The list of entries of an effect set, as in its JSON form. */
JsonNode      *cli_effects_to_json_array   (NixExecEffectSet *effects);

/* Reads a whole stage file, mapping failures to CLI_ERROR_INPUT. */
char          *cli_read_stage_file         (const char    *path,
                                            GError       **error);
/* Checks that a store file exists (the library reads a missing file as an
 * empty store, which hides typos). */
gboolean       cli_check_store_exists      (const char    *path,
                                            GError       **error);

/* Reads a whole JSON file with nix_exec_json_read(); CLI_ERROR_INPUT
 * naming the file on failure. */
JsonNode      *cli_read_json_file          (const char    *path,
                                            GError       **error);
/* The string value of @member of @object, or NULL when it is missing or
 * not a string. */
const char    *cli_json_get_string         (JsonObject    *object,
                                            const char    *member);

/* Prints @node on stdout, as nix_exec_json_write() writes it (compact, or
 * indented when stdout is a terminal) and one newline, as raw bytes: never
 * converted to the locale's character set. The characters
 * cli_escape_text() escapes are written as \uXXXX escapes, which JSON
 * reads as the same characters. FALSE, printing nothing, with
 * CLI_ERROR_INPUT when @node cannot be written as JSON (a string that is
 * not UTF-8). */
gboolean       cli_print_json              (JsonNode      *node,
                                            GError       **error);
/* The same, indented by two spaces or compact as @pretty says. */
gboolean       cli_print_json_full         (JsonNode      *node,
                                            gboolean       pretty,
                                            GError       **error);

/* @text (@length bytes, or up to its NUL when -1), made safe to print on a
 * terminal: always valid UTF-8, and with no character that a terminal
 * takes as a command or that changes how the text around it is shown.
 * Escaped are the C0 controls and DEL as \xNN (\x1b), except, when
 * @multiline, newline and tab; the C1 controls (U+0080 to U+009F), the
 * line and paragraph separators (U+2028, U+2029) and the bidirectional
 * embeddings, overrides and isolates (U+202A to U+202E, U+2066 to
 * U+2069) as \uNNNN (\u009b); and each byte that is not UTF-8 as \xNN
 * (\xff). Everything else, backslashes included, is left as it is. */
char          *cli_escape_text             (const char    *text,
                                            gssize         length,
                                            gboolean       multiline);

/* Cancels @cancellable on SIGINT and SIGTERM while it is installed. */
typedef struct _CliSignals CliSignals;

CliSignals    *cli_signals_install         (GCancellable  *cancellable);
gboolean       cli_signals_caught          (CliSignals    *signals);
void           cli_signals_free            (CliSignals    *signals);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliSignals, cli_signals_free)

/* The commands. @argc and @argv start at the command's name. */
int            cli_command_doctor          (CliCommon     *common,
                                            int            argc,
                                            char         **argv);

/* Adds trivial stages for python, javascript and bash, so that a warmup
 * resolves all three runtimes. */
gboolean       cli_register_all_languages  (NixExecExecutor *executor,
                                            GError         **error);
/* Runs a warmup on the default main context, with progress on stderr.
 * With @resolved non-NULL, adds runtime → store path (or null) to it. */
gboolean       cli_warmup                  (CliCommon       *common,
                                            NixExecExecutor *executor,
                                            JsonObject      *resolved,
                                            GError         **error);

G_END_DECLS
