/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nixexec-test-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
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

gboolean
nix_exec_test_allow_no_sandbox (void)
{
  return g_strcmp0 (g_getenv ("NIXEXEC_TEST_ALLOW_NO_SANDBOX"), "1") == 0;
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
  /* The runtime flake's packages are links to the host's /usr/bin/python3,
   * /usr/bin/node and /bin/bash: a sandboxed stage needs the host's /usr to
   * run them (a nixpkgs runtime would need nothing beyond /nix/store). On a
   * merged-/usr system /bin, /lib and /lib64 are links, recreated as such;
   * a path missing on this host is skipped. */
  static const char * const host_binds[] = {
    "/usr",
    "/bin",
    "/lib",
    "/lib64",
    NULL
  };
  const char *flake = g_getenv ("NIXEXEC_TEST_FLAKE");
  NixExecConfig *config = nix_exec_config_new ();

  g_assert_nonnull (flake);
  nix_exec_config_set_flake_ref (config, flake);
  nix_exec_config_set_cache_dir (config, cache_dir);
  nix_exec_config_set_offline (config, TRUE);
  nix_exec_config_set_nix_options (config, nix_options);
  /* Isolation stays at its default, AUTO: every suite runs sandboxed. On a
   * host known to have no usable bubblewrap, NIXEXEC_TEST_ALLOW_NO_SANDBOX=1
   * runs them unconfined instead (AUTO would warn, and warnings are fatal
   * in tests); the escape suite then skips. */
  nix_exec_config_set_extra_ro_binds (config, host_binds);
  if (nix_exec_test_allow_no_sandbox ())
    nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_NONE);
  return config;
}

NixExecExecutor *
nix_exec_test_executor_new_for_config (NixExecConfig *config)
{
  g_autoptr(GError) error = NULL;
  NixExecExecutor *executor = nix_exec_executor_new (config, &error);

  g_assert_no_error (error);
  g_assert_nonnull (executor);
  return executor;
}

NixExecExecutor *
nix_exec_test_executor_new (const char *cache_dir)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (cache_dir);
  NixExecExecutor *executor = nix_exec_test_executor_new_for_config (config);

  /* The suites are meant to run confined: make sure they do. */
  if (!nix_exec_test_allow_no_sandbox ())
    g_assert_true (nix_exec_executor_get_isolation_active (executor));
  return executor;
}

void
nix_exec_test_register (NixExecExecutor *executor,
                        const char      *stage_id,
                        const char      *language,
                        const char      *code)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = nix_exec_executor_register_with_effects (executor, stage_id, code, language, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

void
nix_exec_test_warmup (NixExecExecutor *executor)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  nix_exec_executor_warmup_async (executor, NULL, nix_exec_test_on_done, &result);
  ok = nix_exec_executor_warmup_finish (executor, nix_exec_test_wait (&result), &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

void
nix_exec_test_on_done (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  GAsyncResult **out = user_data;

  /* Each operation returns exactly once. */
  g_assert_null (*out);
  *out = g_object_ref (result);
}

GAsyncResult *
nix_exec_test_wait (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

void
nix_exec_test_critical (gconstpointer data)
{
  const NixExecTestCritical *c = data;
  g_autofree char *summary = NULL;

  if (g_test_subprocess ())
    {
      c->func (c->data);
      return;
    }

  summary = g_strdup_printf ("A contract check: the call fails with a critical matching “%s”",
                             c->pattern);
  g_test_summary (summary);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr (c->pattern);
}

void
nix_exec_test_add_critical (const char                *prefix,
                            const NixExecTestCritical *cases,
                            gsize                      n_cases)
{
  for (gsize i = 0; i < n_cases; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s", prefix, cases[i].name);

      g_test_add_data_func (path, &cases[i], nix_exec_test_critical);
    }
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

char *
nix_exec_test_new_marker (void)
{
  static guint counter;

  return g_strdup_printf ("300.%d%04u", (int) getpid (), ++counter);
}

static gboolean
cmdline_has (const char *pid_dir,
             const char *marker)
{
  g_autofree char *path = g_build_filename ("/proc", pid_dir, "cmdline", NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;

  /* A zombie's cmdline is empty: only live processes count. */
  if (!g_file_get_contents (path, &contents, &length, NULL))
    return FALSE;
  for (gsize start = 0; start < length; start += strlen (contents + start) + 1)
    {
      if (g_str_equal (contents + start, marker))
        return TRUE;
    }
  return FALSE;
}

guint
nix_exec_test_count_processes (const char *marker)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint count = 0;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      if (g_ascii_isdigit (name[0]) && cmdline_has (name, marker))
        count++;
    }
  return count;
}

void
nix_exec_test_assert_no_process (const char *marker)
{
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  guint count;

  /* SIGKILL was sent before the call returned; a process that is not our
   * child may take a moment to be torn down. */
  while ((count = nix_exec_test_count_processes (marker)) > 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  if (count > 0)
    g_error ("%u process(es) running “sleep %s” outlived their stage", count, marker);
}

guint
nix_exec_test_count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  /* The directory's own fd is counted too, every time alike. */
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

GPtrArray *
nix_exec_test_list_children (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) getpid ());
  g_autoptr(GDir) tasks = g_dir_open (path, 0, NULL);
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  const char *task;

  g_assert_nonnull (tasks);
  /* Each thread's children: the library's own thread forks too. */
  while ((task = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *children_path =
        g_strdup_printf ("/proc/%d/task/%s/children", (int) getpid (), task);
      g_autofree char *children = NULL;
      g_auto(GStrv) pids = NULL;

      g_assert_true (g_file_get_contents (children_path, &children, NULL, NULL));
      pids = g_strsplit (g_strstrip (children), " ", -1);
      for (guint i = 0; pids[i] != NULL; i++)
        {
          g_autofree char *stat_path = NULL;
          g_autofree char *stat = NULL;

          if (*pids[i] == '\0')
            continue;
          stat_path = g_strdup_printf ("/proc/%s/stat", pids[i]);
          /* A child reaped meanwhile is no longer one. */
          if (g_file_get_contents (stat_path, &stat, NULL, NULL))
            g_ptr_array_add (found, g_strdup (g_strstrip (stat)));
        }
    }
  return found;
}

guint
nix_exec_test_count_children (void)
{
  g_autoptr(GPtrArray) children = nix_exec_test_list_children ();

  return children->len;
}

struct _NixExecTestPids
{
  char *hierarchy;
  char *group;
};

/* The pids cgroup (v1, or v2 with the pids controller) this process can
 * make children in, or NULL. */
static char *
find_pids_hierarchy (void)
{
  const char *candidates[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *procs = g_build_filename (candidates[i], "cgroup.procs", NULL);
      g_autofree char *controllers = g_build_filename (candidates[i], "cgroup.controllers", NULL);
      g_autofree char *max = g_build_filename (candidates[i], "pids.max", NULL);
      g_autofree char *text = NULL;

      if (access (procs, W_OK) != 0)
        continue;
      /* v1: the pids hierarchy's root has no pids.max, its children do. */
      if (g_str_has_suffix (candidates[i], "/pids") && !g_file_test (max, G_FILE_TEST_EXISTS))
        return g_strdup (candidates[i]);
      if (g_file_get_contents (controllers, &text, NULL, NULL) && strstr (text, "pids") != NULL)
        return g_strdup (candidates[i]);
    }
  return NULL;
}

static void
write_cgroup_file (const char *dir,
                   const char *name,
                   const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0644,
                                           &error));
  g_assert_no_error (error);
}

NixExecTestPids *
nix_exec_test_pids_enter (void)
{
  g_autofree char *hierarchy = find_pids_hierarchy ();
  g_autofree char *self = g_strdup_printf ("%d", (int) getpid ());
  NixExecTestPids *pids;

  if (hierarchy == NULL)
    return NULL;
  pids = g_new0 (NixExecTestPids, 1);
  pids->group = g_strdup_printf ("%s/nixexec-test-%d-%u", hierarchy, (int) getpid (),
                                 g_random_int ());
  pids->hierarchy = g_steal_pointer (&hierarchy);
  g_assert_cmpint (g_mkdir (pids->group, 0755), ==, 0);
  write_cgroup_file (pids->group, "cgroup.procs", self);
  return pids;
}

void
nix_exec_test_pids_limit (NixExecTestPids *pids,
                          guint            extra)
{
  g_autofree char *path = g_build_filename (pids->group, "pids.current", NULL);
  g_autofree char *text = NULL;
  g_autofree char *max = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  max = g_strdup_printf ("%" G_GUINT64_FORMAT, g_ascii_strtoull (text, NULL, 10) + extra);
  write_cgroup_file (pids->group, "pids.max", max);
}

void
nix_exec_test_pids_lift (NixExecTestPids *pids)
{
  write_cgroup_file (pids->group, "pids.max", "max");
}

void
nix_exec_test_pids_leave (NixExecTestPids *pids)
{
  g_autofree char *procs_path = g_build_filename (pids->group, "cgroup.procs", NULL);
  g_autofree char *procs = NULL;
  g_auto(GStrv) lines = NULL;

  nix_exec_test_pids_lift (pids);
  g_assert_true (g_file_get_contents (procs_path, &procs, NULL, NULL));
  lines = g_strsplit (procs, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      write_cgroup_file (pids->hierarchy, "cgroup.procs", lines[i]);
  g_assert_cmpint (g_rmdir (pids->group), ==, 0);
  g_free (pids->hierarchy);
  g_free (pids->group);
  g_free (pids);
}
