/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers of the `nixexec` command line: the options every command shares,
 * turning them into a config, error reporting and exit codes, languages,
 * effects, JSON and terminal-safe text, signals and the warmup with its
 * progress lines.
 *
 * What the tool prints for people (errors, warnings, progress, `list`'s
 * table, `doctor`'s lines, a stage's logs) often quotes text that a stage,
 * a store file, a lock file or nix chose: ids, names, paths, messages,
 * tracebacks. All of it goes through cli_escape_text() on its way to the
 * terminal, so that none of it can move the cursor, retitle the window,
 * clear the screen or disguise itself; the exact text is in `--json`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "nixexec-cli.h"

G_DEFINE_QUARK (nixexec-cli-error-quark, cli_error)

/* ------------------------------------------------------------------------ */
/* Common options                                                           */
/* ------------------------------------------------------------------------ */

void
cli_common_init (CliCommon *common)
{
  memset (common, 0, sizeof *common);
  common->nix_options = g_ptr_array_new_with_free_func (g_free);
  common->ro_binds = g_ptr_array_new_with_free_func (g_free);
  common->isolation = -1;
}

void
cli_common_clear (CliCommon *common)
{
  g_clear_pointer (&common->flake, g_free);
  g_clear_pointer (&common->nix_options, g_ptr_array_unref);
  g_clear_pointer (&common->ro_binds, g_ptr_array_unref);
  g_clear_pointer (&common->nix_path, g_free);
  g_clear_pointer (&common->cache_dir, g_free);
}

void
cli_usage_error (GError    **error,
                 const char *format,
                 ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (CLI_ERROR, CLI_ERROR_USAGE, format, args));
  va_end (args);
}

/* String options go through callbacks: the global options and the
 * command's options are parsed by two contexts into one CliCommon, and a
 * plain G_OPTION_ARG_STRING would leak the first value given. */
static gboolean
on_string_option (const char  *option_name,
                  const char  *value,
                  gpointer     data,
                  GError     **error)
{
  CliCommon *common = data;
  char **target;

  if (g_str_equal (option_name, "--flake"))
    target = &common->flake;
  else if (g_str_equal (option_name, "--nix"))
    target = &common->nix_path;
  else if (g_str_equal (option_name, "--cache-dir"))
    target = &common->cache_dir;
  else
    g_assert_not_reached ();

  if (*value == '\0')
    {
      cli_usage_error (error, "%s needs a value", option_name);
      return FALSE;
    }

  g_free (*target);
  if (g_str_equal (option_name, "--flake"))
    *target = g_strdup (value);
  else
    /* The library wants absolute paths; relative ones are the user's
     * current directory's. */
    *target = g_canonicalize_filename (value, NULL);
  return TRUE;
}

static gboolean
on_nix_option (const char  *option_name,
               const char  *value,
               gpointer     data,
               GError     **error)
{
  CliCommon *common = data;
  const char *eq = strchr (value, '=');

  if (eq == NULL || eq == value)
    {
      cli_usage_error (error, "--nix-option “%s” is not of the form name=value", value);
      return FALSE;
    }
  g_ptr_array_add (common->nix_options, g_strdup (value));
  return TRUE;
}

static gboolean
on_isolate (const char  *option_name,
            const char  *value,
            gpointer     data,
            GError     **error)
{
  CliCommon *common = data;

  return cli_enum_from_nick (NIX_EXEC_TYPE_ISOLATION, option_name, value, &common->isolation,
                             error);
}

static gboolean
on_ro_bind (const char  *option_name,
            const char  *value,
            gpointer     data,
            GError     **error)
{
  CliCommon *common = data;

  if (!g_path_is_absolute (value))
    {
      cli_usage_error (error, "--ro-bind “%s” is not an absolute path", value);
      return FALSE;
    }
  g_ptr_array_add (common->ro_binds, g_strdup (value));
  return TRUE;
}

GOptionGroup *
cli_common_option_group (CliCommon *common)
{
  const GOptionEntry entries[] = {
    { "flake", 0, 0, G_OPTION_ARG_CALLBACK, on_string_option,
      "The flake the runtimes come from (default: $NIXEXEC_FLAKE, else nixpkgs)", "REF" },
    { "offline", 0, 0, G_OPTION_ARG_NONE, &common->offline,
      "Run nix offline, without substituters", NULL },
    { "nix-option", 0, 0, G_OPTION_ARG_CALLBACK, on_nix_option,
      "Pass a setting to nix (repeatable)", "NAME=VALUE" },
    { "nix", 0, 0, G_OPTION_ARG_CALLBACK, on_string_option,
      "The nix binary to use (default: found like nix_exec_executor_find_nix)", "PATH" },
    { "cache-dir", 0, 0, G_OPTION_ARG_CALLBACK, on_string_option,
      "The cache directory (default: $XDG_CACHE_HOME/nixexec-glib)", "DIR" },
    { "isolate", 0, 0, G_OPTION_ARG_CALLBACK, on_isolate,
      "Confine stages in a bubblewrap sandbox: auto (the default: when it works here), "
      "bwrap (always, or fail) or none", "auto|bwrap|none" },
    { "require-isolation", 0, 0, G_OPTION_ARG_NONE, &common->require_isolation,
      "With --isolate auto, fail instead of running stages unconfined", NULL },
    { "ro-bind", 0, 0, G_OPTION_ARG_CALLBACK, on_ro_bind,
      "Show sandboxed stages this host path, read-only (repeatable)", "PATH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &common->json,
      "Print machine-readable JSON on stdout", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &common->quiet,
      "Print no progress on stderr", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &common->verbose,
      "Print whole error messages (tracebacks, nix's output)", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionGroup *group = g_option_group_new ("common", "Options of every command:",
                                            "Show the options of every command",
                                            common, NULL);

  g_option_group_add_entries (group, entries);
  return group;
}

void
cli_add_help_hint (GError     **error,
                   const char  *command)
{
  GError *bare = *error;
  /* GOption's own errors stay what they are (--json names them); anything
   * else it returns, such as an argument not in the locale's character
   * set (G_CONVERT_ERROR), is a usage error too. */
  GQuark domain = bare->domain == G_OPTION_ERROR ? G_OPTION_ERROR : CLI_ERROR;
  int code = bare->domain == G_OPTION_ERROR ? bare->code : CLI_ERROR_USAGE;

  *error = g_error_new (domain, code, "%s (see `nixexec%s%s --help`)",
                        bare->message, command != NULL ? " " : "", command != NULL ? command : "");
  g_error_free (bare);
}

gboolean
cli_parse_command_options (CliCommon           *common,
                           const char          *command,
                           const char          *parameters,
                           const char          *summary,
                           const GOptionEntry  *entries,
                           int                 *argc,
                           char              ***argv,
                           GError             **error)
{
  g_autofree char *prgname = g_strdup_printf ("nixexec %s", command);
  g_autoptr(GOptionContext) context = g_option_context_new (parameters);
  GOptionGroup *group = cli_common_option_group (common);

  /* One group, so that `nixexec COMMAND --help` shows every option. */
  if (entries != NULL)
    g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, "`nixexec --help` lists the exit codes.");
  g_set_prgname (prgname);
  if (!g_option_context_parse (context, argc, argv, error))
    {
      cli_add_help_hint (error, command);
      return FALSE;
    }
  return TRUE;
}

NixExecConfig *
cli_common_make_config (CliCommon *common)
{
  /* What a root user without a nix daemon needs, as in examples/hello.c:
   * no nixbld group to build as, and no build sandbox. */
  static const char * const offline_options[] = {
    "build-users-group=",
    "sandbox=false",
  };
  static const char * const host_binds[] = { "/usr", "/bin", "/lib", "/lib64" };
  g_autoptr(GStrvBuilder) options = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) binds = g_strv_builder_new ();
  g_auto(GStrv) option_strv = NULL;
  g_auto(GStrv) bind_strv = NULL;
  NixExecConfig *config = nix_exec_config_new ();
  const char *env_flake = g_getenv ("NIXEXEC_FLAKE");

  if (common->flake != NULL)
    nix_exec_config_set_flake_ref (config, common->flake);
  else if (env_flake != NULL && *env_flake != '\0')
    nix_exec_config_set_flake_ref (config, env_flake);

  if (g_strcmp0 (g_getenv ("NIXEXEC_OFFLINE"), "1") == 0)
    {
      nix_exec_config_set_offline (config, TRUE);
      for (guint i = 0; i < G_N_ELEMENTS (offline_options); i++)
        g_strv_builder_add (options, offline_options[i]);
      /* The bundled test flake's runtimes are the host's interpreters. */
      for (guint i = 0; i < G_N_ELEMENTS (host_binds); i++)
        g_strv_builder_add (binds, host_binds[i]);
    }
  for (guint i = 0; i < common->ro_binds->len; i++)
    g_strv_builder_add (binds, g_ptr_array_index (common->ro_binds, i));
  bind_strv = g_strv_builder_end (binds);
  nix_exec_config_set_extra_ro_binds (config, (const char * const *) bind_strv);
  if (common->isolation >= 0)
    nix_exec_config_set_isolation (config, common->isolation);
  if (common->require_isolation)
    nix_exec_config_set_require_isolation (config, TRUE);
  if (common->offline)
    nix_exec_config_set_offline (config, TRUE);

  /* After the environment's, so that nix takes the user's last. */
  for (guint i = 0; i < common->nix_options->len; i++)
    g_strv_builder_add (options, g_ptr_array_index (common->nix_options, i));
  option_strv = g_strv_builder_end (options);
  if (option_strv[0] != NULL)
    nix_exec_config_set_nix_options (config, (const char * const *) option_strv);

  if (common->nix_path != NULL)
    nix_exec_config_set_nix_path (config, common->nix_path);
  if (common->cache_dir != NULL)
    nix_exec_config_set_cache_dir (config, common->cache_dir);

  return config;
}

/* ------------------------------------------------------------------------ */
/* Errors and exit codes                                                    */
/* ------------------------------------------------------------------------ */

/* The value name of @error's code, such as NIX_EXEC_ERROR_TIMED_OUT, for
 * the domains whose enum type is known; NULL otherwise. */
static const char *
error_code_name (const GError *error)
{
  GType type = G_TYPE_INVALID;
  GEnumClass *klass;
  GEnumValue *value;
  const char *name = NULL;

  if (error->domain == NIX_EXEC_ERROR)
    type = NIX_EXEC_TYPE_ERROR;
  else if (error->domain == G_IO_ERROR)
    type = G_TYPE_IO_ERROR_ENUM;
  else
    return NULL;

  klass = g_type_class_ref (type);
  value = g_enum_get_value (klass, error->code);
  if (value != NULL)
    name = value->value_name;  /* static: the class is never unloaded */
  g_type_class_unref (klass);
  return name;
}

int
cli_exit_code_for_error (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return CLI_EXIT_CANCELLED;

  if (error->domain == CLI_ERROR || error->domain == G_OPTION_ERROR)
    return CLI_EXIT_USAGE;

  if (error->domain == NIX_EXEC_ERROR)
    {
      switch ((NixExecError) error->code)
        {
        case NIX_EXEC_ERROR_STAGE_FAILED:
        case NIX_EXEC_ERROR_INVALID_OUTPUT:
        case NIX_EXEC_ERROR_OUTPUT_TOO_LARGE:
          return CLI_EXIT_STAGE_FAILED;

        case NIX_EXEC_ERROR_STAGE_NOT_FOUND:
        case NIX_EXEC_ERROR_INVALID_STAGE:
          return CLI_EXIT_NOT_FOUND;

        case NIX_EXEC_ERROR_TIMED_OUT:
          return CLI_EXIT_TIMED_OUT;

        case NIX_EXEC_ERROR_NIX_NOT_FOUND:
        case NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE:
        case NIX_EXEC_ERROR_NIX_EVAL_FAILED:
        case NIX_EXEC_ERROR_NIX_FETCH_FAILED:
        case NIX_EXEC_ERROR_NIX_STORE_FULL:
        case NIX_EXEC_ERROR_NIX_BUILD_FAILED:
        case NIX_EXEC_ERROR_INVALID_LOCK_FILE:
        case NIX_EXEC_ERROR_RUNTIME_UNAVAILABLE:
          return CLI_EXIT_NIX;

        case NIX_EXEC_ERROR_INVALID_EFFECTS:
        case NIX_EXEC_ERROR_INVALID_STORE:
          return CLI_EXIT_USAGE;

        case NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE:
          return CLI_EXIT_ISOLATION;

        case NIX_EXEC_ERROR_RESOURCE_LIMIT:
          return CLI_EXIT_RESOURCE;

        default:
          return CLI_EXIT_STAGE_FAILED;
        }
    }

  /* Everything else comes from the library's own file work: the cache
   * directory, the lock file, spawning nix. */
  return CLI_EXIT_NIX;
}

int
cli_report_error (CliCommon    *common,
                  const GError *error)
{
  const char *newline = strchr (error->message, '\n');
  int code = cli_exit_code_for_error (error);

  /* Messages quote ids, paths, nix's output and stages' tracebacks. */
  if (code == CLI_EXIT_CANCELLED)
    {
      g_printerr ("nixexec: cancelled\n");
    }
  else if (newline == NULL || common->verbose)
    {
      g_autofree char *shown = cli_escape_text (error->message, -1, TRUE);

      g_printerr ("nixexec: %s\n", shown);
    }
  else
    {
      g_autofree char *shown = cli_escape_text (error->message, newline - error->message, TRUE);

      g_printerr ("nixexec: %s (more with --verbose)\n", shown);
    }

  if (common->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autoptr(GError) json_error = NULL;
      /* So that the report can always be written as JSON. */
      g_autofree char *message = g_utf8_make_valid (error->message, -1);
      const char *name = error_code_name (error);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "error");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "domain");
      json_builder_add_string_value (builder, g_quark_to_string (error->domain));
      json_builder_set_member_name (builder, "code");
      json_builder_add_int_value (builder, error->code);
      json_builder_set_member_name (builder, "name");
      if (name != NULL)
        json_builder_add_string_value (builder, name);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, message);
      json_builder_set_member_name (builder, "exit_status");
      json_builder_add_int_value (builder, code);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      if (!cli_print_json (root, &json_error))
        g_printerr ("nixexec: %s\n", json_error->message);
    }

  return code;
}

static GLogWriterOutput
log_writer (GLogLevelFlags   log_level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *message = NULL;

  if ((log_level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE)) == 0)
    return g_log_writer_default (log_level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE"))
        {
          message = fields[i].value;
          break;
        }
    }
  if (message == NULL)
    return g_log_writer_default (log_level, fields, n_fields, user_data);

  {
    /* The library's warnings quote ids and paths. */
    g_autofree char *shown = cli_escape_text (message, -1, TRUE);

    fprintf (stderr, "nixexec: %s%s\n",
             (log_level & G_LOG_LEVEL_WARNING) != 0 ? "warning: " : "", shown);
    fflush (stderr);
  }
  return G_LOG_WRITER_HANDLED;
}

void
cli_install_log_writer (void)
{
  g_log_set_writer_func (log_writer, NULL, NULL);
}

void
cli_info (CliCommon  *common,
          const char *format,
          ...)
{
  g_autofree char *text = NULL;
  g_autofree char *shown = NULL;
  va_list args;

  if (common->quiet)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  /* The arguments are ids, store paths, flake URLs. */
  shown = cli_escape_text (text, -1, TRUE);
  g_printerr ("%s\n", shown);
}

/* ------------------------------------------------------------------------ */
/* The library's enums                                                      */
/* ------------------------------------------------------------------------ */

const char *
cli_enum_nick (GType enum_type,
               int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (enum_type);
  GEnumValue *found = g_enum_get_value (klass, value);

  /* Static: the library's enum classes are never unloaded. */
  return found != NULL ? found->value_nick : NULL;
}

char *
cli_enum_nicks_text (GType enum_type)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (enum_type);
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < klass->n_values; i++)
    {
      if (i > 0)
        g_string_append (text, i + 1 < klass->n_values ? ", " : " or ");
      g_string_append (text, klass->values[i].value_nick);
    }
  return g_string_free (text, FALSE);
}

gboolean
cli_enum_from_nick (GType        enum_type,
                    const char  *option,
                    const char  *nick,
                    int         *out_value,
                    GError     **error)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (enum_type);
  GEnumValue *found = g_enum_get_value_by_nick (klass, nick);
  g_autofree char *valid = NULL;

  if (found != NULL)
    {
      *out_value = found->value;
      return TRUE;
    }

  valid = cli_enum_nicks_text (enum_type);
  cli_usage_error (error, "%s takes %s, not “%s”", option, valid, nick);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Languages                                                                */
/* ------------------------------------------------------------------------ */

/* Stages are CommonJS scripts: an ES module (.mjs) does not run. */
static const struct
{
  const char      *extension;
  NixExecLanguage  language;
} language_extensions[] = {
  { ".py", NIX_EXEC_LANGUAGE_PYTHON },
  { ".js", NIX_EXEC_LANGUAGE_JAVASCRIPT },
  { ".cjs", NIX_EXEC_LANGUAGE_JAVASCRIPT },
  { ".sh", NIX_EXEC_LANGUAGE_BASH },
  { ".bash", NIX_EXEC_LANGUAGE_BASH },
};

static gboolean
language_from_tag (const char       *tag,
                   NixExecLanguage  *out_language,
                   GError          **error)
{
  g_autofree char *valid = NULL;

  /* `py` is the command line's own shorthand (docs/cli.md). */
  if (nix_exec_language_from_tag (g_ascii_strcasecmp (tag, "py") == 0 ? "python" : tag,
                                  out_language, NULL))
    return TRUE;

  valid = cli_enum_nicks_text (NIX_EXEC_TYPE_LANGUAGE);
  cli_usage_error (error, "Unknown language “%s”: use %s", tag, valid);
  return FALSE;
}

static gboolean
language_from_filename (const char       *filename,
                        NixExecLanguage  *out_language,
                        GError          **error)
{
  g_autofree char *basename = g_path_get_basename (filename);
  g_autofree char *valid = NULL;
  g_autoptr(GString) extensions = g_string_new (NULL);
  const char *dot = strrchr (basename, '.');

  for (guint i = 0; i < G_N_ELEMENTS (language_extensions); i++)
    {
      if (dot != NULL && g_ascii_strcasecmp (dot, language_extensions[i].extension) == 0)
        {
          *out_language = language_extensions[i].language;
          return TRUE;
        }
      g_string_append_printf (extensions, "%s%s", i > 0 ? ", " : "",
                              language_extensions[i].extension);
    }

  valid = cli_enum_nicks_text (NIX_EXEC_TYPE_LANGUAGE);
  cli_usage_error (error, "Cannot tell the language of “%s” from its name (%s): give --lang %s",
                   filename, extensions->str, valid);
  return FALSE;
}

gboolean
cli_stage_language (const char       *tag,
                    const char       *filename,
                    NixExecLanguage  *out_language,
                    GError          **error)
{
  if (tag != NULL)
    return language_from_tag (tag, out_language, error);
  return language_from_filename (filename, out_language, error);
}

const char *
cli_language_tag (NixExecLanguage language)
{
  return cli_enum_nick (NIX_EXEC_TYPE_LANGUAGE, language);
}

char *
cli_stage_id_from_filename (const char *filename)
{
  g_autofree char *basename = g_path_get_basename (filename);
  char *dot = strrchr (basename, '.');

  if (dot != NULL && dot != basename)
    *dot = '\0';
  if (*basename == '\0' || g_str_equal (basename, ".") || g_str_equal (basename, G_DIR_SEPARATOR_S))
    return g_strdup ("stage");
  return g_steal_pointer (&basename);
}

/* ------------------------------------------------------------------------ */
/* Effects                                                                  */
/* ------------------------------------------------------------------------ */

/* The kinds of effect that take a value; the others, of the GEnumClass of
 * NixExecEffectKind, take none. */
static const struct
{
  NixExecEffectKind  kind;
  const char        *placeholder;  /* in messages and --help */
  const char        *json_member;  /* the value's member in the JSON form */
} effect_values[] = {
  { NIX_EXEC_EFFECT_KIND_FS_READ, "PATH", "path" },
  { NIX_EXEC_EFFECT_KIND_FS_WRITE, "PATH", "path" },
  { NIX_EXEC_EFFECT_KIND_LLM, "MODEL", "model" },
  { NIX_EXEC_EFFECT_KIND_COST, "CENTS", "cents" },
};

/* The index in effect_values[] of @kind, or -1 when it takes no value. */
static int
effect_value_index (NixExecEffectKind kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (effect_values); i++)
    {
      if (effect_values[i].kind == kind)
        return (int) i;
    }
  return -1;
}

char *
cli_valid_effects_text (void)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (NIX_EXEC_TYPE_EFFECT_KIND);
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < klass->n_values; i++)
    {
      int value = effect_value_index (klass->values[i].value);

      g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", klass->values[i].value_nick);
      if (value >= 0)
        g_string_append_printf (text, "=%s", effect_values[value].placeholder);
    }
  return g_string_free (text, FALSE);
}

/* `fs-read`, `FsRead`, `fs_read` and `fsread` are one name. */
static char *
normalize_effect_name (const char *name,
                       gssize      length)
{
  GString *normal = g_string_new (NULL);

  for (gssize i = 0; length < 0 ? name[i] != '\0' : i < length; i++)
    {
      if (name[i] != '-' && name[i] != '_')
        g_string_append_c (normal, g_ascii_tolower (name[i]));
    }
  return g_string_free (normal, FALSE);
}

/* The kind of effect @name (@length bytes, or up to its NUL when -1) means:
 * a nick of NixExecEffectKind, or a name of the JSON form (`FsRead`), as
 * normalize_effect_name() reads them. Returns its nick, static, or NULL. */
static const char *
effect_kind_from_name (const char        *name,
                       gssize             length,
                       NixExecEffectKind *out_kind)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (NIX_EXEC_TYPE_EFFECT_KIND);
  g_autofree char *wanted = normalize_effect_name (name, length);

  for (guint i = 0; i < klass->n_values; i++)
    {
      g_autofree char *known = normalize_effect_name (klass->values[i].value_nick, -1);

      if (g_str_equal (wanted, known))
        {
          *out_kind = klass->values[i].value;
          /* Static: the library's enum classes are never unloaded. */
          return klass->values[i].value_nick;
        }
    }
  return NULL;
}

static gboolean
add_effect (NixExecEffectSet  *effects,
            const char        *item,
            GError           **error)
{
  const char *eq = strchr (item, '=');
  gssize name_length = eq != NULL ? eq - item : (gssize) strlen (item);
  const char *value = eq != NULL ? eq + 1 : NULL;
  NixExecEffectKind kind;
  const char *nick = effect_kind_from_name (item, name_length, &kind);
  int takes;

  if (nick == NULL)
    {
      g_autofree char *valid = cli_valid_effects_text ();
      g_autofree char *shown = g_strndup (item, name_length);

      cli_usage_error (error, "Unknown effect “%s”; the effects are: %s", shown, valid);
      return FALSE;
    }

  takes = effect_value_index (kind);
  if (takes < 0)
    {
      if (value != NULL)
        {
          cli_usage_error (error, "The effect “%s” takes no value (in “%s”)", nick, item);
          return FALSE;
        }
      nix_exec_effect_set_add (effects, kind);
      return TRUE;
    }

  if (value == NULL || *value == '\0')
    {
      cli_usage_error (error, "The effect “%s” needs a value: %s=%s", nick, nick,
                       effect_values[takes].placeholder);
      return FALSE;
    }

  switch (kind)
    {
    case NIX_EXEC_EFFECT_KIND_FS_READ:
    case NIX_EXEC_EFFECT_KIND_FS_WRITE:
      {
        /* Relative to where the command runs, as any path given on a
         * command line. */
        g_autofree char *path = g_canonicalize_filename (value, NULL);

        if (kind == NIX_EXEC_EFFECT_KIND_FS_READ)
          nix_exec_effect_set_add_fs_read (effects, path);
        else
          nix_exec_effect_set_add_fs_write (effects, path);
      }
      break;

    case NIX_EXEC_EFFECT_KIND_LLM:
      nix_exec_effect_set_add_llm (effects, value);
      break;

    case NIX_EXEC_EFFECT_KIND_COST:
      {
        guint64 cents;

        if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &cents, NULL))
          {
            cli_usage_error (error, "The cost “%s” is not a whole number of cents", value);
            return FALSE;
          }
        nix_exec_effect_set_add_cost (effects, cents);
      }
      break;

    default:
      /* The kinds without a value were added above. */
      g_assert_not_reached ();
    }
  return TRUE;
}

NixExecEffectSet *
cli_parse_effects (const char  *text,
                   GError     **error)
{
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
  /* g_strsplit() gives no item at all for "": one empty item instead, so
   * that an empty --effects is refused as any empty item is. */
  g_auto(GStrv) items = *text != '\0' ? g_strsplit (text, ",", -1) : g_strsplit (" ", ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);

      if (*item == '\0')
        {
          g_autofree char *valid = cli_valid_effects_text ();

          cli_usage_error (error, "An empty effect in --effects “%s”; the effects are: %s",
                           text, valid);
          return NULL;
        }
      if (!add_effect (effects, item, error))
        return NULL;
    }

  return g_steal_pointer (&effects);
}

JsonNode *
cli_effects_to_json_array (NixExecEffectSet *effects)
{
  g_autoptr(JsonNode) node = nix_exec_effect_set_to_json (effects);
  JsonNode *array = json_object_get_member (json_node_get_object (node), "effects");

  return json_node_copy (array);
}

char *
cli_format_effects (NixExecEffectSet *effects)
{
  g_autoptr(JsonNode) array = cli_effects_to_json_array (effects);
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *entries = json_node_get_array (array);

  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);
      const char *json_name = json_object_get_string_member_with_default (entry, "effect", "?");
      NixExecEffectKind kind;
      const char *nick = effect_kind_from_name (json_name, -1, &kind);
      JsonNode *value;
      int takes;

      if (i > 0)
        g_string_append (text, ",");
      if (nick == NULL)
        {
          g_string_append (text, json_name);
          continue;
        }

      g_string_append (text, nick);
      takes = effect_value_index (kind);
      value = takes >= 0 ? json_object_get_member (entry, effect_values[takes].json_member) : NULL;
      if (value == NULL || !JSON_NODE_HOLDS_VALUE (value))
        continue;
      if (json_node_get_value_type (value) == G_TYPE_INT64)
        g_string_append_printf (text, "=%" G_GINT64_FORMAT, json_node_get_int (value));
      else
        g_string_append_printf (text, "=%s", json_node_get_string (value));
    }

  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* ------------------------------------------------------------------------ */
/* Files and output                                                         */
/* ------------------------------------------------------------------------ */

char *
cli_read_stage_file (const char  *path,
                     GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "Cannot read the stage file: %s",
                   local_error->message);
      return NULL;
    }
  if (!g_utf8_validate_len (contents, length, NULL))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT,
                   "The stage file “%s” is not UTF-8 text", path);
      return NULL;
    }
  return g_steal_pointer (&contents);
}

gboolean
cli_check_store_exists (const char  *path,
                        GError     **error)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;

  g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT,
               "The store “%s” does not exist (`nixexec add --store %s FILE` creates it)",
               path, path);
  return FALSE;
}

JsonNode *
cli_read_json_file (const char  *path,
                    GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  JsonNode *node;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "Cannot read %s: %s", path,
                   local_error->message);
      return NULL;
    }
  node = nix_exec_json_read (contents, length, &local_error);
  if (node == NULL)
    g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "%s is not valid JSON: %s", path,
                 local_error->message);
  return node;
}

const char *
cli_json_get_string (JsonObject *object,
                     const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* ------------------------------------------------------------------------ */
/* Terminal-safe text                                                       */
/* ------------------------------------------------------------------------ */

/* The characters other than C0 controls and DEL that cli_escape_text()
 * escapes: the C1 controls (U+009B is CSI, which some terminals obey
 * UTF-8-encoded as well), and those that make text show as other text
 * (Trojan Source): line and paragraph separators, bidirectional
 * embeddings, overrides and isolates. */
static gboolean
is_hidden_control (gunichar c)
{
  return (c >= 0x80 && c <= 0x9F) ||
         c == 0x2028 || c == 0x2029 ||
         (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

char *
cli_escape_text (const char *text,
                 gssize      length,
                 gboolean    multiline)
{
  const char *end = text + (length < 0 ? strlen (text) : (gsize) length);
  GString *out = g_string_sized_new (end - text);

  for (const char *p = text; p < end;)
    {
      guchar byte = *p;
      gunichar c;

      if (byte < 0x80)
        {
          if ((byte < 0x20 || byte == 0x7F) && !(multiline && (byte == '\n' || byte == '\t')))
            g_string_append_printf (out, "\\x%02x", byte);
          else
            g_string_append_c (out, byte);
          p++;
          continue;
        }

      c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", byte);
          p++;
          continue;
        }
      if (is_hidden_control (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }

  return g_string_free (out, FALSE);
}

gboolean
cli_print_json (JsonNode  *node,
                GError   **error)
{
  return cli_print_json_full (node, isatty (STDOUT_FILENO), error);
}

gboolean
cli_print_json_full (JsonNode  *node,
                     gboolean   pretty,
                     GError   **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = nix_exec_json_write (node, pretty, &local_error);
  g_autoptr(GString) out = NULL;

  if (text == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_INPUT, "The output cannot be written as JSON: %s",
                   local_error->message);
      return FALSE;
    }

  /* The writer escapes C0 controls and DEL; the other characters a
   * terminal should not see raw can only be inside strings (the rest of
   * the text is ASCII), where \uNNNN is the same character to a JSON
   * reader. */
  out = g_string_sized_new (strlen (text) + 1);
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_hidden_control (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  g_string_append_c (out, '\n');

  /* Not g_print(), which converts to the locale's character set: JSON is
   * UTF-8. */
  fwrite (out->str, 1, out->len, stdout);
  fflush (stdout);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */
/* ------------------------------------------------------------------------ */

struct _CliSignals
{
  GCancellable *cancellable;  /* owned */
  guint         sigint_id;
  guint         sigterm_id;
  guint         caught;
};

static gboolean
on_signal (gpointer user_data)
{
  CliSignals *signals = user_data;

  /* The first signal cancels: the library kills the stage's process group,
   * or the nix build, and the call then reports G_IO_ERROR_CANCELLED. A
   * second one does not wait for that; the children die with us
   * (PR_SET_PDEATHSIG). */
  if (signals->caught++ > 0)
    {
      fprintf (stderr, "nixexec: interrupted again, exiting\n");
      _exit (CLI_EXIT_CANCELLED);
    }
  g_cancellable_cancel (signals->cancellable);
  return G_SOURCE_CONTINUE;
}

CliSignals *
cli_signals_install (GCancellable *cancellable)
{
  CliSignals *signals = g_new0 (CliSignals, 1);

  signals->cancellable = g_object_ref (cancellable);
  signals->sigint_id = g_unix_signal_add (SIGINT, on_signal, signals);
  signals->sigterm_id = g_unix_signal_add (SIGTERM, on_signal, signals);
  return signals;
}

gboolean
cli_signals_caught (CliSignals *signals)
{
  return signals->caught > 0;
}

void
cli_signals_free (CliSignals *signals)
{
  if (signals == NULL)
    return;
  g_source_remove (signals->sigint_id);
  g_source_remove (signals->sigterm_id);
  g_object_unref (signals->cancellable);
  g_free (signals);
}

/* ------------------------------------------------------------------------ */
/* Warmup                                                                   */
/* ------------------------------------------------------------------------ */

gboolean
cli_register_all_languages (NixExecExecutor  *executor,
                            GError          **error)
{
  static const struct
  {
    NixExecLanguage  language;
    const char      *code;
  } stages[] = {
    { NIX_EXEC_LANGUAGE_PYTHON, "def execute(input):\n    return input\n" },
    { NIX_EXEC_LANGUAGE_JAVASCRIPT, "function execute(input) { return input; }\n" },
    { NIX_EXEC_LANGUAGE_BASH, "execute() { printf '%s\\n' \"$1\"; }\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (stages); i++)
    {
      const char *tag = cli_language_tag (stages[i].language);
      g_autofree char *id = g_strdup_printf ("nixexec-warmup-%s", tag);

      if (!nix_exec_executor_register_with_effects (executor, id, stages[i].code, tag, NULL,
                                                    error))
        return FALSE;
    }
  return TRUE;
}

typedef struct
{
  CliCommon    *common;
  JsonObject   *resolved;   /* borrowed, nullable */
  gboolean      tty;
  gboolean      line_open;  /* a "still resolving" line waits for its \n */
  gint64        started;
  GAsyncResult *result;     /* owned */
} Warmup;

static void
warmup_close_line (Warmup *warmup)
{
  if (warmup->line_open)
    {
      fputs ("\r\033[K", stderr);
      warmup->line_open = FALSE;
    }
}

static void
on_runtime_resolved (NixExecExecutor *executor,
                     const char      *runtime,
                     const char      *path,
                     gpointer         user_data)
{
  Warmup *warmup = user_data;

  if (warmup->resolved != NULL)
    {
      if (path != NULL)
        json_object_set_string_member (warmup->resolved, runtime, path);
      else
        json_object_set_null_member (warmup->resolved, runtime);
    }

  if (warmup->common->quiet)
    return;
  warmup_close_line (warmup);
  {
    g_autofree char *runtime_shown = cli_escape_text (runtime, -1, FALSE);
    g_autofree char *path_shown = path != NULL ? cli_escape_text (path, -1, FALSE) : NULL;

    fprintf (stderr, "%s → %s\n", runtime_shown,
             path_shown != NULL ? path_shown : "host interpreter (not pinned)");
  }
  fflush (stderr);
}

static gboolean
on_warmup_tick (gpointer user_data)
{
  Warmup *warmup = user_data;
  /* Rounded: the ticks come a hair early or late. */
  gint64 seconds = (g_get_monotonic_time () - warmup->started + G_USEC_PER_SEC / 2) /
                   G_USEC_PER_SEC;

  if (warmup->common->quiet)
    return G_SOURCE_CONTINUE;

  /* On a terminal one line counts up in place; in a log, a line every ten
   * seconds says the command is not stuck. */
  if (warmup->tty)
    {
      fprintf (stderr, "\r\033[Kstill resolving… %" G_GINT64_FORMAT " s", seconds);
      warmup->line_open = TRUE;
    }
  else if (seconds > 0 && seconds % 10 == 0)
    {
      fprintf (stderr, "still resolving… %" G_GINT64_FORMAT " s\n", seconds);
    }
  fflush (stderr);
  return G_SOURCE_CONTINUE;
}

static void
on_warmup_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Warmup *warmup = user_data;

  warmup->result = g_object_ref (result);
}

gboolean
cli_warmup (CliCommon        *common,
            NixExecExecutor  *executor,
            JsonObject       *resolved,
            GError          **error)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  /* Unused but held: SIGINT and SIGTERM cancel the warmup until it is freed. */
  G_GNUC_UNUSED g_autoptr(CliSignals) signals = cli_signals_install (cancellable);
  Warmup warmup = {
    .common = common,
    .resolved = resolved,
    .tty = isatty (STDERR_FILENO),
    .started = g_get_monotonic_time (),
  };
  gulong handler;
  guint tick;
  gboolean ok;

  handler = g_signal_connect (executor, "runtime-resolved",
                              G_CALLBACK (on_runtime_resolved), &warmup);
  tick = g_timeout_add_seconds (1, on_warmup_tick, &warmup);

  nix_exec_executor_warmup_async (executor, cancellable, on_warmup_done, &warmup);
  while (warmup.result == NULL)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (tick);
  g_signal_handler_disconnect (executor, handler);
  warmup_close_line (&warmup);

  ok = nix_exec_executor_warmup_finish (executor, warmup.result, error);
  g_object_unref (warmup.result);
  return ok;
}
