/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The seccomp filter of every sandboxed stage (see nixexec-seccomp.c).
 *
 * bwrap reads the compiled BPF program from this fd of its own (--seccomp)
 * and applies it to the stage right before exec, after it has built the
 * sandbox.
 */
#define NIX_EXEC_SECCOMP_FD 5

/*
 * The compiled BPF program, built once per process and shared: the bytes
 * bwrap must find on NIX_EXEC_SECCOMP_FD. On failure (libseccomp could not
 * build or export it): NULL and NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
 * every time. Thread-safe.
 */
GBytes      *nix_exec_seccomp_get_program             (GError **error);

/* Builds the program afresh, for tests of the builder. */
GBytes      *nix_exec_seccomp_build_program           (GError **error);

/*
 * Tests only: make the next builds fail (as if libseccomp could not build
 * the filter) and forget the cached program; FALSE restores.
 */
void         nix_exec_seccomp_set_broken_for_testing  (gboolean broken);

G_END_DECLS
