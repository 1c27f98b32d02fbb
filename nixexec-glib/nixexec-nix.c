/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Talking to nix: the command line that resolves a runtime, reading its
 * answer, and sorting its failures.
 *
 * Failures are classified from what nix itself printed while resolving a
 * runtime, never from a stage's output: stages run later, from the resolved
 * store path, so nothing a stage prints can reach this code.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "nixexec-error.h"
#include "nixexec-json-private.h"
#include "nixexec-nix-private.h"

/* The start of every nix command line: flakes on, offline if asked, and the
 * config's own options. */
static GStrvBuilder *
nix_argv_start (const char    *nix_path,
                NixExecConfig *config)
{
  GStrvBuilder *argv = g_strv_builder_new ();
  const char * const *options;

  g_assert (nix_path != NULL);

  g_strv_builder_add (argv, nix_path);
  /* Upstream nix and Debian's 2.8 ship with flakes off; turn them on for
   * this call only rather than asking users to edit nix.conf. */
  g_strv_builder_add_many (argv, "--extra-experimental-features", "nix-command flakes", NULL);

  if (nix_exec_config_get_offline (config))
    {
      /* Never wait on a substituter or a registry that cannot be reached. */
      g_strv_builder_add (argv, "--offline");
      g_strv_builder_add_many (argv, "--option", "substituters", "", NULL);
    }

  options = nix_exec_config_get_nix_options (config);
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

GStrv
nix_exec_nix_build_argv (const char    *nix_path,
                         NixExecConfig *config,
                         const char    *installable,
                         const char    *expression,
                         const char    *out_link)
{
  g_autoptr(GStrvBuilder) argv = nix_argv_start (nix_path, config);

  g_assert ((installable == NULL) != (expression == NULL));
  g_assert (out_link != NULL);

  /* Nix 2.8 has no --print-out-paths: the store path comes from --json.
   * The out-link is the runtime's GC root, so a collection between calls
   * cannot delete the interpreter a stage is about to run on. */
  g_strv_builder_add_many (argv, "build", "--json", "--out-link", out_link, NULL);
  if (expression != NULL)
    {
      /* builtins.getFlake needs --impure; the expression only names the
       * locked flake URL, so the result is still pinned. */
      g_strv_builder_add_many (argv, "--impure", "--expr", expression, NULL);
    }
  else
    {
      g_strv_builder_add (argv, installable);
    }

  return g_strv_builder_end (argv);
}

GStrv
nix_exec_nix_metadata_argv (const char    *nix_path,
                            NixExecConfig *config,
                            const char    *flake_ref)
{
  g_autoptr(GStrvBuilder) argv = nix_argv_start (nix_path, config);

  g_strv_builder_add_many (argv, "flake", "metadata", "--json", "--no-write-lock-file",
                           flake_ref, NULL);
  return g_strv_builder_end (argv);
}

char *
nix_exec_nix_parse_metadata_output (const char  *json,
                                    gsize        length,
                                    GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = nix_exec_json_read (json, length, &local_error);
  JsonNode *url;

  if (root == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                   "nix flake metadata printed something that is not JSON: %s",
                   local_error->message);
      return NULL;
    }

  url = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
        ? json_object_get_member (json_node_get_object (root), "url") : NULL;
  if (url == NULL || !JSON_NODE_HOLDS_VALUE (url) ||
      json_node_get_value_type (url) != G_TYPE_STRING ||
      *json_node_get_string (url) == '\0')
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                           "nix flake metadata reported no locked URL");
      return NULL;
    }

  return g_strdup (json_node_get_string (url));
}

char *
nix_exec_nix_parse_build_output (const char  *json,
                                 gsize        length,
                                 GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = nix_exec_json_read (json, length, &local_error);
  JsonArray *builds;
  JsonNode *member;
  JsonObject *first;
  JsonObject *outputs;
  const char *out;

  if (root == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                   "nix build printed something that is not JSON: %s",
                   local_error->message);
      return NULL;
    }

  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root) ||
      json_array_get_length ((builds = json_node_get_array (root))) == 0)
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                           "nix build reported no build result");
      return NULL;
    }

  /* Not json-glib's typed getters: they are critical about other types. */
  member = json_array_get_element (builds, 0);
  first = JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member) : NULL;
  member = first != NULL ? json_object_get_member (first, "outputs") : NULL;
  outputs = member != NULL && JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member) : NULL;
  member = outputs != NULL ? json_object_get_member (outputs, "out") : NULL;
  out = member != NULL && JSON_NODE_HOLDS_VALUE (member) ? json_node_get_string (member) : NULL;

  if (out == NULL || !g_str_has_prefix (out, "/"))
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED,
                           "nix build reported no “out” store path");
      return NULL;
    }

  return g_strdup (out);
}

/* The lines nix printed from its first "error:" on, without the noise of
 * progress lines before it, shortened to something a message can carry. */
static char *
extract_error_text (const char *nix_stderr)
{
  const char *start;
  g_autofree char *text = NULL;

  if (nix_stderr == NULL || *nix_stderr == '\0')
    return g_strdup ("nix printed nothing on stderr");

  start = strstr (nix_stderr, "error:");
  text = g_strstrip (g_strdup (start != NULL ? start : nix_stderr));

  if (strlen (text) > 2000)
    {
      g_autofree char *cut = g_utf8_make_valid (text, 2000);
      return g_strconcat (cut, " […]", NULL);
    }

  return g_utf8_make_valid (text, -1);
}

typedef struct
{
  const char   *needle;
  NixExecError  code;
} FailurePattern;

/* Ordered: the first match wins. Each needle is text nix itself prints. */
static const FailurePattern failure_patterns[] = {
  { "cannot connect to socket at", NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE },
  { "cannot connect to daemon", NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE },
  { "No space left on device", NIX_EXEC_ERROR_NIX_STORE_FULL },
  { "unable to download", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "Couldn't resolve host", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "Could not resolve host", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "Failed to connect to", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "unable to fetch", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "failed to fetch", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "cannot download", NIX_EXEC_ERROR_NIX_FETCH_FAILED },
  { "builder for '", NIX_EXEC_ERROR_NIX_BUILD_FAILED },
  { "dependencies couldn't be built", NIX_EXEC_ERROR_NIX_BUILD_FAILED },
  { "dependency failed", NIX_EXEC_ERROR_NIX_BUILD_FAILED },
};

GError *
nix_exec_nix_classify_failure (const char *installable,
                               const char *nix_stderr,
                               int         exit_status)
{
  g_autofree char *text = extract_error_text (nix_stderr);
  NixExecError code = NIX_EXEC_ERROR_NIX_EVAL_FAILED;
  const char *what;

  for (guint i = 0; i < G_N_ELEMENTS (failure_patterns); i++)
    {
      if (nix_stderr != NULL && strstr (nix_stderr, failure_patterns[i].needle) != NULL)
        {
          code = failure_patterns[i].code;
          break;
        }
    }

  switch (code)
    {
    case NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE:
      what = "nix could not reach the nix daemon while resolving";
      break;
    case NIX_EXEC_ERROR_NIX_STORE_FULL:
      what = "the disk holding the nix store is full; free space (nix-collect-garbage) and retry resolving";
      break;
    case NIX_EXEC_ERROR_NIX_FETCH_FAILED:
      what = "nix could not download what it needs for";
      break;
    case NIX_EXEC_ERROR_NIX_BUILD_FAILED:
      what = "nix failed to build";
      break;
    default:
      what = "nix could not evaluate";
      break;
    }

  return g_error_new (NIX_EXEC_ERROR, code, "%s “%s” (nix exited with status %d): %s",
                      what, installable, exit_status, text);
}
