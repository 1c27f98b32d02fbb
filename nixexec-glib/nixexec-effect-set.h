/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "nixexec-version-macros.h"

G_BEGIN_DECLS

/**
 * NixExecEffectKind:
 * @NIX_EXEC_EFFECT_KIND_PURE: the stage has no effects: same input, same output.
 * @NIX_EXEC_EFFECT_KIND_FALLIBLE: the stage may fail for reasons other than
 *   its input.
 * @NIX_EXEC_EFFECT_KIND_NETWORK: the stage uses the network.
 * @NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC: the output may differ between runs
 *   on the same input (clocks, randomness).
 * @NIX_EXEC_EFFECT_KIND_PROCESS: the stage starts other processes.
 * @NIX_EXEC_EFFECT_KIND_FS_READ: the stage reads a path of the host file
 *   system (see [method@NixExec.EffectSet.add_fs_read]).
 * @NIX_EXEC_EFFECT_KIND_FS_WRITE: the stage writes a path of the host file
 *   system (see [method@NixExec.EffectSet.add_fs_write]).
 * @NIX_EXEC_EFFECT_KIND_LLM: the stage calls a language model.
 * @NIX_EXEC_EFFECT_KIND_COST: the stage spends money (see
 *   [method@NixExec.EffectSet.add_cost]).
 * @NIX_EXEC_EFFECT_KIND_UNKNOWN: nothing is known of the stage's effects.
 *
 * The kinds of effect a stage can declare.
 *
 * Since: 1.0
 */
typedef enum {
  NIX_EXEC_EFFECT_KIND_PURE,
  NIX_EXEC_EFFECT_KIND_FALLIBLE,
  NIX_EXEC_EFFECT_KIND_NETWORK,
  NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC,
  NIX_EXEC_EFFECT_KIND_PROCESS,
  NIX_EXEC_EFFECT_KIND_FS_READ,
  NIX_EXEC_EFFECT_KIND_FS_WRITE,
  NIX_EXEC_EFFECT_KIND_LLM,
  NIX_EXEC_EFFECT_KIND_COST,
  NIX_EXEC_EFFECT_KIND_UNKNOWN,
} NixExecEffectKind;

#define NIX_EXEC_TYPE_EFFECT_SET (nix_exec_effect_set_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecEffectSet, nix_exec_effect_set, NIX_EXEC, EFFECT_SET, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet    *nix_exec_effect_set_new            (void) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet    *nix_exec_effect_set_new_pure       (void) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet    *nix_exec_effect_set_new_unknown    (void) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet    *nix_exec_effect_set_new_from_json  (JsonNode          *node,
                                                         GError           **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet    *nix_exec_effect_set_new_from_string (const char       *json,
                                                          GError          **error) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecEffectSet    *nix_exec_effect_set_copy           (NixExecEffectSet  *self) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
void                 nix_exec_effect_set_add            (NixExecEffectSet  *self,
                                                         NixExecEffectKind  kind);
NIX_EXEC_AVAILABLE_IN_ALL
void                 nix_exec_effect_set_add_fs_read    (NixExecEffectSet  *self,
                                                         const char        *path);
NIX_EXEC_AVAILABLE_IN_ALL
void                 nix_exec_effect_set_add_fs_write   (NixExecEffectSet  *self,
                                                         const char        *path);
NIX_EXEC_AVAILABLE_IN_ALL
void                 nix_exec_effect_set_add_cost       (NixExecEffectSet  *self,
                                                         guint64            cents);
NIX_EXEC_AVAILABLE_IN_ALL
void                 nix_exec_effect_set_add_llm        (NixExecEffectSet  *self,
                                                         const char        *model);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean             nix_exec_effect_set_contains       (NixExecEffectSet  *self,
                                                         NixExecEffectKind  kind);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean             nix_exec_effect_set_is_pure        (NixExecEffectSet  *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char * const  *nix_exec_effect_set_get_read_paths (NixExecEffectSet  *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char * const  *nix_exec_effect_set_get_write_paths (NixExecEffectSet *self);
NIX_EXEC_AVAILABLE_IN_ALL
guint64              nix_exec_effect_set_get_cost_cents (NixExecEffectSet  *self);
NIX_EXEC_AVAILABLE_IN_ALL
const char * const  *nix_exec_effect_set_get_llm_models (NixExecEffectSet  *self);
NIX_EXEC_AVAILABLE_IN_ALL
JsonNode            *nix_exec_effect_set_to_json        (NixExecEffectSet  *self) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
char                *nix_exec_effect_set_to_string      (NixExecEffectSet  *self) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
gboolean             nix_exec_effect_set_equal          (NixExecEffectSet  *self,
                                                         NixExecEffectSet  *other);

G_END_DECLS
