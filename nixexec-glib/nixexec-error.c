/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-error.h"

/**
 * nix_exec_error_quark:
 *
 * Gets the error domain of nixexec-glib; use %NIX_EXEC_ERROR instead.
 *
 * Returns: the quark of the %NIX_EXEC_ERROR domain
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (nix-exec-error-quark, nix_exec_error)
