/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib.h>

#include "nixexec-version.h"

#ifndef _NIX_EXEC_EXTERN
# define _NIX_EXEC_EXTERN __attribute__((visibility("default"))) extern
#endif

#define NIX_EXEC_VERSION_1_0 (G_ENCODE_VERSION (1, 0))

#define NIX_EXEC_AVAILABLE_IN_ALL _NIX_EXEC_EXTERN
#define NIX_EXEC_AVAILABLE_IN_1_0 _NIX_EXEC_EXTERN
