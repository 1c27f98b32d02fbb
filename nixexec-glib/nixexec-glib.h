/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#define NIXEXEC_INSIDE
# include "nixexec-version.h"
# include "nixexec-version-macros.h"
# include "nixexec-enums.h"
# include "nixexec-error.h"
# include "nixexec-effect-set.h"
# include "nixexec-stage.h"
# include "nixexec-stage-store.h"
# include "nixexec-memory-store.h"
# include "nixexec-file-store.h"
# include "nixexec-config.h"
# include "nixexec-result.h"
# include "nixexec-executor.h"
#undef NIXEXEC_INSIDE
