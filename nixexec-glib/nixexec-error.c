/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-error.h"

G_DEFINE_QUARK (nix-exec-error-quark, nix_exec_error)
