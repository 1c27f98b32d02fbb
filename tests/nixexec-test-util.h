/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "nixexec-glib.h"

G_BEGIN_DECLS

/* A fresh private directory under the test's temporary area; the caller
 * removes it with nix_exec_test_rm_rf(). */
char          *nix_exec_test_make_tmpdir        (const char *prefix);
void           nix_exec_test_rm_rf              (const char *path);

/* Whether NIXEXEC_TEST_ALLOW_NO_SANDBOX=1: this host has no usable
 * bubblewrap, run the suites unconfined and skip the escape suite. */
gboolean       nix_exec_test_allow_no_sandbox  (void);

/* A config for real nix on the bundled runtime flake (NIXEXEC_TEST_FLAKE),
 * offline, with its own cache directory, isolation AUTO and the host paths
 * its runtimes need bound read-only. */
NixExecConfig *nix_exec_test_config_new        (const char *cache_dir);

/* An executor on that config; aborts the test if there is no nix, and
 * unless NIXEXEC_TEST_ALLOW_NO_SANDBOX=1 checks that it runs confined. */
NixExecExecutor *nix_exec_test_executor_new    (const char *cache_dir);

/* An executor on @config, whatever its isolation; fails the test on an
 * error. */
NixExecExecutor *nix_exec_test_executor_new_for_config (NixExecConfig *config);

/* Registers @code as the stage @stage_id in @language, with no effects
 * declared; fails the test on an error. */
void           nix_exec_test_register          (NixExecExecutor *executor,
                                                const char      *stage_id,
                                                const char      *language,
                                                const char      *code);

/* Resolves the runtimes of @executor's stages through warmup_async on the
 * default main context; fails the test unless it succeeds. */
void           nix_exec_test_warmup            (NixExecExecutor *executor);

/* A GAsyncReadyCallback whose @user_data is a `GAsyncResult **` holding
 * NULL: stores a reference to @result there. Called twice for one
 * operation, it fails the test. */
void           nix_exec_test_on_done           (GObject         *object,
                                                GAsyncResult    *result,
                                                gpointer         user_data);

/* Iterates the default main context until *@result is set, by
 * nix_exec_test_on_done(); returns it (borrowed). */
GAsyncResult  *nix_exec_test_wait              (GAsyncResult   **result);

/* A contract check: @func (@data), run in a subprocess, must fail with a
 * critical (or any message G_DEBUG makes fatal) whose stderr matches
 * @pattern. */
typedef struct
{
  const char    *name;     /* the last component of the test path */
  GTestDataFunc  func;
  gconstpointer  data;
  const char    *pattern;  /* a g_pattern_match_simple() pattern */
} NixExecTestCritical;

/* A GTestDataFunc on a `const NixExecTestCritical *`: traps a subprocess
 * that runs the case's func and asserts it failed as the case says. */
void           nix_exec_test_critical          (gconstpointer    data);

/* Adds @cases[0 .. @n_cases - 1] as "@prefix/<name>", each run by
 * nix_exec_test_critical(). @cases must outlive the test run. */
void           nix_exec_test_add_critical      (const char                *prefix,
                                                const NixExecTestCritical *cases,
                                                gsize                      n_cases);

/* Parse a JSON text the test writes inline. */
JsonNode      *nix_exec_test_json              (const char *text);
/* Serialise a node, for comparisons. */
char          *nix_exec_test_to_json           (JsonNode   *node);

/* TRUE when the process exists and is not a zombie. */
gboolean       nix_exec_test_pid_alive         (GPid        pid);

/* A number no other test process uses, for `sleep MARKER`: "300.<pid><n>",
 * about 300 seconds. A stage that runs processes with it as an argument
 * makes them findable in the host's /proc, from any pid namespace. */
char          *nix_exec_test_new_marker        (void);
/* How many live processes have @marker as one of their arguments. */
guint          nix_exec_test_count_processes   (const char *marker);
/* Fails the test unless no process has @marker within a second. */
void           nix_exec_test_assert_no_process (const char *marker);

/* How many fds this process has open. */
guint          nix_exec_test_count_fds         (void);
/* The child processes of this process, zombies included, as the lines of
 * their /proc/<pid>/stat. */
GPtrArray     *nix_exec_test_list_children     (void);
/* How many child processes this process has, zombies included. */
guint          nix_exec_test_count_children    (void);

/* A pids cgroup (v1, or v2 with the pids controller) this process has
 * moved itself into, to run out of processes on purpose: root bypasses
 * RLIMIT_NPROC. */
typedef struct _NixExecTestPids NixExecTestPids;

/* Moves this process into a new pids cgroup, unlimited for now; NULL when
 * there is no writable pids hierarchy (the caller skips). */
NixExecTestPids *nix_exec_test_pids_enter      (void);
/* Allows @extra processes (threads count) beyond those in the group now. */
void           nix_exec_test_pids_limit        (NixExecTestPids *pids,
                                                guint            extra);
/* Lifts the limit. */
void           nix_exec_test_pids_lift         (NixExecTestPids *pids);
/* Moves every process of the group (this one, and what it started there)
 * back to the hierarchy's root, removes the group and frees @pids. */
void           nix_exec_test_pids_leave        (NixExecTestPids *pids);

G_END_DECLS
