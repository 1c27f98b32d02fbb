/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nixexec-test-util.h"

#include <errno.h>
#include <signal.h>
#include <glib/gstdio.h>

char *
nix_exec_test_make_tmpdir (const char *prefix)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *template = g_strdup_printf ("%s-XXXXXX", prefix);
  char *dir = g_dir_make_tmp (template, &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf_file (GFile *file)
{
  g_autoptr(GFileEnumerator) children = NULL;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                        NULL, NULL);
  if (children != NULL)
    {
      GFileInfo *info;

      while ((info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
        {
          g_autoptr(GFile) child = g_file_get_child (file, g_file_info_get_name (info));

          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            rm_rf_file (child);
          else
            g_file_delete (child, NULL, NULL);
          g_object_unref (info);
        }
    }
  g_file_delete (file, NULL, NULL);
}

void
nix_exec_test_rm_rf (const char *path)
{
  g_autoptr(GFile) file = NULL;

  if (path == NULL)
    return;
  file = g_file_new_for_path (path);
  rm_rf_file (file);
}

NixExecConfig *
nix_exec_test_config_new (const char *cache_dir)
{
  /* The machines the suite runs on have no nixbld group and no daemon: root
   * builds locally, without the build sandbox (the runtime flake links to
   * host interpreters). */
  static const char * const nix_options[] = {
    "build-users-group=",
    "sandbox=false",
    NULL
  };
  const char *flake = g_getenv ("NIXEXEC_TEST_FLAKE");
  NixExecConfig *config = nix_exec_config_new ();

  g_assert_nonnull (flake);
  nix_exec_config_set_flake_ref (config, flake);
  nix_exec_config_set_cache_dir (config, cache_dir);
  nix_exec_config_set_offline (config, TRUE);
  nix_exec_config_set_nix_options (config, nix_options);
  return config;
}

NixExecExecutor *
nix_exec_test_executor_new (const char *cache_dir)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  g_autoptr(GError) error = NULL;
  NixExecExecutor *executor = nix_exec_executor_new (config, &error);

  g_assert_no_error (error);
  g_assert_nonnull (executor);
  return executor;
}

JsonNode *
nix_exec_test_json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

char *
nix_exec_test_to_json (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

gboolean
nix_exec_test_pid_alive (GPid pid)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *close_paren;

  if (kill (pid, 0) != 0 && errno == ESRCH)
    return FALSE;
  /* A zombie is dead for our purposes: nobody in this container may reap
   * reparented children promptly. */
  if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
    return FALSE;
  close_paren = strrchr (stat, ')');
  return close_paren == NULL || close_paren[1] == '\0' || close_paren[2] != 'Z';
}
