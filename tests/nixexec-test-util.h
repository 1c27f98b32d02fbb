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

/* An executor on that config; aborts the test if there is no nix. */
NixExecExecutor *nix_exec_test_executor_new    (const char *cache_dir);

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

G_END_DECLS
