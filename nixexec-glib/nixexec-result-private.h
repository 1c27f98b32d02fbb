/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "nixexec-result.h"
#include "nixexec-runtimes-private.h"

G_BEGIN_DECLS

NixExecResult *nix_exec_result_new (const char           *stage_id,
                                    JsonNode             *output,
                                    const NixExecRuntime *runtime,
                                    gint64                duration,
                                    int                   exit_status,
                                    GBytes               *logs,
                                    gboolean              logs_truncated);

G_END_DECLS
