/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "nixexec-effect-set.h"

G_BEGIN_DECLS

/*
 * The bubblewrap sandbox a confined stage runs in (see nixexec-sandbox.c).
 *
 * Inside, a stage runs as this uid and gid, in this working directory (also
 * its HOME, a private tmpfs), with its script bound read-only under the
 * script directory.
 */
#define NIX_EXEC_SANDBOX_UID         65534
#define NIX_EXEC_SANDBOX_WORK_DIR    "/work"
#define NIX_EXEC_SANDBOX_SCRIPT_DIR  "/run/nixexec"

/*
 * Finds bwrap in the trusted system locations and checks, once per process,
 * that it can build the sandbox on this host. On success, *out_bwrap_path
 * is the real path of the binary to run and *out_disable_userns says
 * whether it supports --disable-userns. On failure:
 * NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE when the host cannot confine (kept
 * for the process), or NIX_EXEC_ERROR_RESOURCE_LIMIT when the probe failed
 * for a transient reason (out of processes, memory or descriptors, killed,
 * timed out): not kept, the next call probes again. Thread-safe.
 */
gboolean     nix_exec_sandbox_probe                   (char              **out_bwrap_path,
                                                       gboolean           *out_disable_userns,
                                                       GError            **error);

/* TRUE for the first caller only, per probe: who logs the warning that
 * stages run unconfined. */
gboolean     nix_exec_sandbox_claim_warning           (void);

/* Everything the bwrap command line is derived from. Borrowed pointers. */
typedef struct
{
  const char         *bwrap_path;
  gboolean            disable_userns;
  NixExecEffectSet   *effects;
  const char         *runtime_path;      /* the resolved store path */
  const char         *interpreter;       /* its bin/ name: "python3" */
  const char         *script_path;       /* the wrapped script, on the host */
  const char         *script_extension;  /* "py" */
  const char * const *extra_ro_binds;
  const char         *cache_dir;
  const char * const *host_environ;      /* where the allowlisted variables come from */
} NixExecSandboxPlan;

/*
 * The command that runs the plan's script under bwrap: *out_argv is
 * `bwrap --args 3 -- <interpreter> <script>`, and *out_options the
 * NUL-separated options bwrap must find on fd 3. Run it with
 * NIX_EXEC_CHILD_FLAGS_PID_NAMESPACE: the options hold --info-fd
 * NIX_EXEC_CHILD_INFO_FD. *out_seccomp is the compiled seccomp filter
 * bwrap must find on NIX_EXEC_SECCOMP_FD (the options say --seccomp).
 * Fails with NIX_EXEC_ERROR_INVALID_EFFECTS (a declared path that cannot be
 * granted) or NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE (an extra bind that
 * must not be, or a seccomp filter that could not be built).
 * The child gets an empty environment: the stage's is set by bwrap.
 */
gboolean     nix_exec_sandbox_build_command           (const NixExecSandboxPlan  *plan,
                                                       GStrv                     *out_argv,
                                                       GBytes                   **out_options,
                                                       GBytes                   **out_seccomp,
                                                       GError                   **error);

/* Refuses extra read-only binds that would expose the home directory, the
 * script cache or the nix daemon socket: NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE. */
gboolean     nix_exec_sandbox_check_extra_ro_binds    (const char * const  *extra_ro_binds,
                                                       const char          *cache_dir,
                                                       GError             **error);

/* bwrap reports a command killed by signal N as exit status 128 + N. */
gboolean     nix_exec_sandbox_exit_status_is_signal   (int                  exit_status,
                                                       int                 *out_signal);

/*
 * Tests only: look for bwrap at @candidates instead of the trusted system
 * locations (NULL restores them), and forget the probe and the warning.
 * No environment variable does this, on purpose: whoever controls the
 * environment of an application must not be able to swap its sandbox.
 */
void         nix_exec_sandbox_set_bwrap_candidates_for_testing (const char * const *candidates);

G_END_DECLS
