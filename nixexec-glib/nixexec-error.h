/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib.h>

#include "nixexec-version-macros.h"

G_BEGIN_DECLS

/**
 * NIX_EXEC_ERROR:
 *
 * The error domain of nixexec-glib. Errors in this domain are from the
 * [error@NixExec.Error] enumeration.
 *
 * Since: 1.0
 */
#define NIX_EXEC_ERROR (nix_exec_error_quark ())

/**
 * NixExecError:
 * @NIX_EXEC_ERROR_STAGE_NOT_FOUND: no stage is registered under that id.
 * @NIX_EXEC_ERROR_INVALID_STAGE: the stage cannot run as written: an unknown
 *   language, empty code, a syntax error, or no `execute` defined.
 * @NIX_EXEC_ERROR_STAGE_FAILED: the stage raised, exited with a non-zero
 *   status or was killed by a signal; the message carries the stage's own
 *   error text.
 * @NIX_EXEC_ERROR_TIMED_OUT: the stage ran longer than
 *   [property@NixExec.Config:timeout-secs] and was killed.
 * @NIX_EXEC_ERROR_OUTPUT_TOO_LARGE: the stage wrote more than
 *   [property@NixExec.Config:max-output-bytes] to stdout and was killed.
 * @NIX_EXEC_ERROR_INVALID_OUTPUT: the stage's stdout is not exactly one JSON
 *   value.
 * @NIX_EXEC_ERROR_NIX_NOT_FOUND: no usable `nix` binary was found.
 * @NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE: nix could not reach its daemon.
 * @NIX_EXEC_ERROR_NIX_EVAL_FAILED: nix could not evaluate the flake or the
 *   runtime attribute (a missing flake, a missing attribute, a syntax error).
 * @NIX_EXEC_ERROR_NIX_FETCH_FAILED: nix could not download a source or a
 *   substitute.
 * @NIX_EXEC_ERROR_NIX_STORE_FULL: the disk holding the Nix store is full.
 * @NIX_EXEC_ERROR_NIX_BUILD_FAILED: the runtime's derivation failed to build.
 * @NIX_EXEC_ERROR_INVALID_EFFECTS: an effect set in JSON form is malformed; or,
 *   when the stage runs confined, a path it declares with `FsRead` or
 *   `FsWrite` cannot be granted: it is not absolute, does not exist, or
 *   would expose what the sandbox never exposes (the home directory, the
 *   script cache, the nix daemon's socket, the sandbox's own `/work`).
 * @NIX_EXEC_ERROR_INVALID_LOCK_FILE: a runtime lock file is malformed, is for
 *   another system, or there is nothing to lock yet.
 * @NIX_EXEC_ERROR_RUNTIME_UNAVAILABLE: with host runtimes, the host has no
 *   interpreter for the stage's language.
 * @NIX_EXEC_ERROR_INVALID_STORE: a stage store file is not a valid store: not
 *   JSON, truncated, or not in the store layout; the message names the file
 *   and says where.
 * @NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE: stages must run confined (see
 *   [property@NixExec.Config:isolation] and
 *   [property@NixExec.Config:require-isolation]) but bubblewrap is not
 *   installed in a trusted system path, does not work on this host, or
 *   [property@NixExec.Config:extra-ro-binds] would expose what the sandbox
 *   never exposes.
 * @NIX_EXEC_ERROR_RESOURCE_LIMIT: the stage could not be run or finish
 *   because a limit was reached: this host ran out of processes (fork
 *   failed, as under a fork bomb), file descriptors or memory for it. The
 *   message names the limit; the next call may succeed once it is lifted.
 *
 * Error codes in the %NIX_EXEC_ERROR domain. Cancellation is reported as
 * %G_IO_ERROR_CANCELLED in the %G_IO_ERROR domain.
 *
 * Since: 1.0
 */
typedef enum {
  NIX_EXEC_ERROR_STAGE_NOT_FOUND,
  NIX_EXEC_ERROR_INVALID_STAGE,
  NIX_EXEC_ERROR_STAGE_FAILED,
  NIX_EXEC_ERROR_TIMED_OUT,
  NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
  NIX_EXEC_ERROR_INVALID_OUTPUT,
  NIX_EXEC_ERROR_NIX_NOT_FOUND,
  NIX_EXEC_ERROR_NIX_DAEMON_UNAVAILABLE,
  NIX_EXEC_ERROR_NIX_EVAL_FAILED,
  NIX_EXEC_ERROR_NIX_FETCH_FAILED,
  NIX_EXEC_ERROR_NIX_STORE_FULL,
  NIX_EXEC_ERROR_NIX_BUILD_FAILED,
  NIX_EXEC_ERROR_INVALID_EFFECTS,
  NIX_EXEC_ERROR_INVALID_LOCK_FILE,
  NIX_EXEC_ERROR_RUNTIME_UNAVAILABLE,
  NIX_EXEC_ERROR_INVALID_STORE,
  NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
  NIX_EXEC_ERROR_RESOURCE_LIMIT,
} NixExecError;

NIX_EXEC_AVAILABLE_IN_ALL
GQuark nix_exec_error_quark (void);

G_END_DECLS
