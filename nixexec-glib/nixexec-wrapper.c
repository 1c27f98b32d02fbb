/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "nixexec-error.h"
#include "nixexec-resources.h"
#include "nixexec-wrapper-private.h"

/*
 * Stage wrappers and the script cache.
 *
 * Each language has a template under /org/gnome/NixExec/wrappers/ holding one
 * marker that is replaced by the stage's code: base64 for Python and
 * JavaScript (decoded by the wrapper, so the code needs no escaping at all),
 * the code itself for Bash (which has no decoder among its builtins). The
 * wrappers' protocol is described at the top of each template.
 *
 * A script is cached as <cache_dir>/scripts/<key>.<ext>, the key being a
 * SHA-256 over the template, the language and the code: a new wrapper gets new
 * files. Files are written to a temporary name and renamed, so any number of
 * threads and processes may race to create the same script and every reader
 * sees either no file or a complete one.
 */

typedef enum {
  ENCODING_BASE64,
  ENCODING_VERBATIM,
} CodeEncoding;

typedef struct
{
  const char   *name;
  const char   *runtime_attr;
  const char   *interpreter;
  const char   *extension;
  const char   *resource_path;
  const char   *marker;
  CodeEncoding  encoding;
} LanguageInfo;

static const LanguageInfo languages[NIX_EXEC_N_LANGUAGES] = {
  [NIX_EXEC_LANGUAGE_PYTHON] = {
    "python", "python3", "python3", "py",
    "/org/gnome/NixExec/wrappers/python.py",
    "@NIXEXEC_STAGE_CODE_BASE64@", ENCODING_BASE64,
  },
  [NIX_EXEC_LANGUAGE_JAVASCRIPT] = {
    "javascript", "nodejs", "node", "js",
    "/org/gnome/NixExec/wrappers/javascript.js",
    "@NIXEXEC_STAGE_CODE_BASE64@", ENCODING_BASE64,
  },
  [NIX_EXEC_LANGUAGE_BASH] = {
    "bash", "bash", "bash", "sh",
    "/org/gnome/NixExec/wrappers/bash.sh",
    "@NIXEXEC_STAGE_CODE@", ENCODING_VERBATIM,
  },
};


static const LanguageInfo *
language_info (NixExecLanguage language)
{
  g_return_val_if_fail ((guint) language < NIX_EXEC_N_LANGUAGES, &languages[0]);

  return &languages[language];
}

const char *
nix_exec_language_to_string (NixExecLanguage language)
{
  return language_info (language)->name;
}

const char *
nix_exec_language_runtime_attr (NixExecLanguage language)
{
  return language_info (language)->runtime_attr;
}

const char *
nix_exec_language_interpreter (NixExecLanguage language)
{
  return language_info (language)->interpreter;
}

const char *
nix_exec_language_file_extension (NixExecLanguage language)
{
  return language_info (language)->extension;
}

/* The templates are compiled in. The resource is reached through its getter
 * rather than the global registry so that a static link (the tests) pulls the
 * resource's object file in; a missing template is a build bug. */
static GBytes *
load_template (const LanguageInfo *info)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes;

  bytes = g_resource_lookup_data (nix_exec_get_resource (),
                                  info->resource_path,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE,
                                  &error);
  if (bytes == NULL)
    g_error ("The %s stage wrapper is missing: %s", info->name, error->message);

  return bytes;
}

char *
nix_exec_wrapper_build_script (NixExecLanguage  language,
                               const char      *code,
                               gsize           *out_length)
{
  const LanguageInfo *info = language_info (language);
  g_autoptr(GBytes) template = NULL;
  g_autofree char *encoded = NULL;
  const char *template_data;
  const char *marker;
  const char *insert;
  gsize template_len;
  gsize marker_len;
  GString *script;

  g_return_val_if_fail (code != NULL, NULL);

  template = load_template (info);
  template_data = g_bytes_get_data (template, &template_len);
  marker_len = strlen (info->marker);
  marker = g_strstr_len (template_data, template_len, info->marker);
  g_assert (marker != NULL);

  if (info->encoding == ENCODING_BASE64)
    insert = encoded = g_base64_encode ((const guchar *) code, strlen (code));
  else
    insert = code;

  script = g_string_sized_new (template_len + strlen (insert));
  g_string_append_len (script, template_data, marker - template_data);
  g_string_append (script, insert);
  g_string_append_len (script,
                       marker + marker_len,
                       template_len - (marker - template_data) - marker_len);

  if (out_length != NULL)
    *out_length = script->len;

  return g_string_free (script, FALSE);
}

static void
checksum_update_field (GChecksum    *checksum,
                       const guchar *data,
                       gsize         len)
{
  char prefix[32];

  /* Length-prefixed, so that no two (template, language, code) triples hash
   * the same bytes. */
  g_snprintf (prefix, sizeof prefix, "%" G_GSIZE_FORMAT ":", len);
  g_checksum_update (checksum, (const guchar *) prefix, -1);
  g_checksum_update (checksum, data, len);
}

char *
nix_exec_wrapper_script_key (NixExecLanguage  language,
                             const char      *code)
{
  const LanguageInfo *info = language_info (language);
  g_autoptr(GChecksum) checksum = NULL;
  g_autoptr(GBytes) template = NULL;
  gconstpointer template_data;
  gsize template_len;

  g_return_val_if_fail (code != NULL, NULL);

  template = load_template (info);
  template_data = g_bytes_get_data (template, &template_len);

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  checksum_update_field (checksum, (const guchar *) "nixexec-wrapper", strlen ("nixexec-wrapper"));
  checksum_update_field (checksum, template_data, template_len);
  checksum_update_field (checksum, (const guchar *) info->name, strlen (info->name));
  checksum_update_field (checksum, (const guchar *) code, strlen (code));

  return g_strdup (g_checksum_get_string (checksum));
}

/* Creates @dir (and its parents) private to this user, or checks an existing
 * one: scripts in it are executed, so it must not be writable by anyone else. */
gboolean
nix_exec_ensure_private_dir (const char  *dir,
                             const char  *what,
                             GError     **error)
{
  struct stat st;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Could not create the %s directory “%s”: %s",
                   what, dir, g_strerror (saved_errno));
      return FALSE;
    }

  if (g_lstat (dir, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Could not inspect the %s directory “%s”: %s",
                   what, dir, g_strerror (saved_errno));
      return FALSE;
    }

  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   "The %s directory “%s” is not a directory",
                   what, dir);
      return FALSE;
    }

  if (st.st_uid != geteuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "The %s directory “%s” belongs to another user",
                   what, dir);
      return FALSE;
    }

  if ((st.st_mode & 07777) != 0700 && g_chmod (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Could not make the %s directory “%s” private: %s",
                   what, dir, g_strerror (saved_errno));
      return FALSE;
    }

  return TRUE;
}

char *
nix_exec_wrapper_ensure_script (const char       *cache_dir,
                                NixExecLanguage   language,
                                const char       *code,
                                GError          **error)
{
  const LanguageInfo *info = language_info (language);
  g_autofree char *dir = NULL;
  g_autofree char *key = NULL;
  g_autofree char *basename = NULL;
  g_autofree char *path = NULL;
  g_autofree char *script = NULL;
  gsize script_len = 0;
  struct stat st;

  g_return_val_if_fail (cache_dir != NULL, NULL);
  g_return_val_if_fail (code != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  dir = g_build_filename (cache_dir, "scripts", NULL);
  if (!nix_exec_ensure_private_dir (dir, "script cache", error))
    return NULL;

  key = nix_exec_wrapper_script_key (language, code);
  basename = g_strconcat (key, ".", info->extension, NULL);
  path = g_build_filename (dir, basename, NULL);
  script = nix_exec_wrapper_build_script (language, code, &script_len);

  /* Files only ever appear complete (see the top of the file); the size check
   * catches one damaged by something else, which is then replaced. */
  if (g_lstat (path, &st) == 0 &&
      S_ISREG (st.st_mode) &&
      (guint64) st.st_size == (guint64) script_len)
    return g_steal_pointer (&path);

  if (!g_file_set_contents_full (path, script, script_len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 error))
    {
      g_prefix_error (error, "Could not write the stage script “%s”: ", path);
      return NULL;
    }

  return g_steal_pointer (&path);
}
