/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "nixexec-version-macros.h"
#include "nixexec-effect-set.h"

G_BEGIN_DECLS

/**
 * NixExecLanguage:
 * @NIX_EXEC_LANGUAGE_PYTHON: Python 3: the stage defines `def execute(input)`
 *   or `async def execute(input)`; tags `python` and `python3`.
 * @NIX_EXEC_LANGUAGE_JAVASCRIPT: JavaScript on Node.js: the stage defines
 *   `function execute(input)`, which may return a Promise; tags `javascript`
 *   and `js`.
 * @NIX_EXEC_LANGUAGE_BASH: Bash: the stage defines a function `execute`,
 *   called with the input JSON as `$1`; tags `bash` and `sh`.
 *
 * The languages a stage can be written in. A stage names its language by a
 * tag ([property@NixExec.Stage:language]); [func@NixExec.Language.from_tag]
 * says which language a tag means.
 *
 * Since: 1.0
 */
typedef enum {
  NIX_EXEC_LANGUAGE_PYTHON,
  NIX_EXEC_LANGUAGE_JAVASCRIPT,
  NIX_EXEC_LANGUAGE_BASH,
} NixExecLanguage;

NIX_EXEC_AVAILABLE_IN_ALL
gboolean          nix_exec_language_from_tag   (const char       *tag,
                                                NixExecLanguage  *out_language,
                                                GError          **error);

#define NIX_EXEC_TYPE_STAGE (nix_exec_stage_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecStage, nix_exec_stage, NIX_EXEC, STAGE, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
NixExecStage     *nix_exec_stage_new           (const char       *id,
                                                const char       *code,
                                                const char       *language,
                                                NixExecEffectSet *effects) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
const char       *nix_exec_stage_get_id        (NixExecStage     *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char       *nix_exec_stage_get_code      (NixExecStage     *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char       *nix_exec_stage_get_language  (NixExecStage     *self);
NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet *nix_exec_stage_get_effects   (NixExecStage     *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char       *nix_exec_stage_get_name      (NixExecStage     *self);
NIX_EXEC_AVAILABLE_IN_ALL
void              nix_exec_stage_set_name      (NixExecStage     *self,
                                                const char       *name);
NIX_EXEC_AVAILABLE_IN_ALL
int               nix_exec_stage_get_keep_alive_secs (NixExecStage *self);
NIX_EXEC_AVAILABLE_IN_ALL
void              nix_exec_stage_set_keep_alive_secs (NixExecStage *self,
                                                      int           keep_alive_secs);

G_END_DECLS
