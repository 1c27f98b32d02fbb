/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(NIXEXEC_INSIDE) && !defined(NIXEXEC_COMPILATION)
# error "Only <nixexec-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "nixexec-version-macros.h"

G_BEGIN_DECLS

/**
 * NIX_EXEC_DEFAULT_TIMEOUT_SECS:
 *
 * The default of [property@NixExec.Config:timeout-secs].
 *
 * Since: 1.0
 */
#define NIX_EXEC_DEFAULT_TIMEOUT_SECS 30

/**
 * NIX_EXEC_DEFAULT_MAX_OUTPUT_BYTES:
 *
 * The default of [property@NixExec.Config:max-output-bytes]: 10 MiB.
 *
 * Since: 1.0
 */
#define NIX_EXEC_DEFAULT_MAX_OUTPUT_BYTES (G_GUINT64_CONSTANT (10) * 1024 * 1024)

/**
 * NIX_EXEC_DEFAULT_MAX_STDERR_BYTES:
 *
 * The default of [property@NixExec.Config:max-stderr-bytes]: 64 KiB.
 *
 * Since: 1.0
 */
#define NIX_EXEC_DEFAULT_MAX_STDERR_BYTES (G_GUINT64_CONSTANT (64) * 1024)

/**
 * NIX_EXEC_DEFAULT_FLAKE_REF:
 *
 * The default of [property@NixExec.Config:flake-ref].
 *
 * Since: 1.0
 */
#define NIX_EXEC_DEFAULT_FLAKE_REF "nixpkgs"

/**
 * NixExecRuntimeSource:
 * @NIX_EXEC_RUNTIME_SOURCE_NIX: interpreters are resolved with nix from the
 *   configured flake and pinned.
 * @NIX_EXEC_RUNTIME_SOURCE_HOST: interpreters are the host's own, found on
 *   `PATH`; nothing is pinned. An explicit opt-in for machines without nix.
 *
 * Where the executor takes its interpreters from.
 *
 * Since: 1.0
 */
typedef enum {
  NIX_EXEC_RUNTIME_SOURCE_NIX,
  NIX_EXEC_RUNTIME_SOURCE_HOST,
} NixExecRuntimeSource;

/**
 * NixExecIsolation:
 * @NIX_EXEC_ISOLATION_NONE: stages run unconfined: as the calling user, with
 *   that user's files, network and environment.
 * @NIX_EXEC_ISOLATION_AUTO: stages run in a bubblewrap sandbox derived from
 *   their declared effects when bubblewrap is installed in a system path and
 *   works on this host. When it does not, they run unconfined: a warning is
 *   logged once and [property@NixExec.Executor:isolation-active] is %FALSE,
 *   unless [property@NixExec.Config:require-isolation] is set, in which case
 *   creating the executor fails with %NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE.
 * @NIX_EXEC_ISOLATION_BWRAP: stages always run in a bubblewrap sandbox;
 *   creating the executor fails with %NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE
 *   when bubblewrap cannot be used.
 *
 * How an executor confines the stages it runs. See
 * [property@NixExec.Config:isolation] and the overview's section on
 * isolation for what the sandbox allows.
 *
 * Since: 1.0
 */
typedef enum {
  NIX_EXEC_ISOLATION_NONE,
  NIX_EXEC_ISOLATION_AUTO,
  NIX_EXEC_ISOLATION_BWRAP,
} NixExecIsolation;

#define NIX_EXEC_TYPE_CONFIG (nix_exec_config_get_type ())

NIX_EXEC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (NixExecConfig, nix_exec_config, NIX_EXEC, CONFIG, GObject)

NIX_EXEC_AVAILABLE_IN_ALL
NixExecConfig      *nix_exec_config_new                  (void) G_GNUC_WARN_UNUSED_RESULT;
NIX_EXEC_AVAILABLE_IN_ALL
NixExecConfig      *nix_exec_config_copy                 (NixExecConfig      *self) G_GNUC_WARN_UNUSED_RESULT;

NIX_EXEC_AVAILABLE_IN_ALL
guint               nix_exec_config_get_timeout_secs     (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_timeout_secs     (NixExecConfig      *self,
                                                          guint               timeout_secs);
NIX_EXEC_AVAILABLE_IN_ALL
guint64             nix_exec_config_get_max_output_bytes (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_max_output_bytes (NixExecConfig      *self,
                                                          guint64             max_output_bytes);
NIX_EXEC_AVAILABLE_IN_ALL
guint64             nix_exec_config_get_max_stderr_bytes (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_max_stderr_bytes (NixExecConfig      *self,
                                                          guint64             max_stderr_bytes);
NIX_EXEC_AVAILABLE_IN_ALL
const char         *nix_exec_config_get_flake_ref        (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_flake_ref        (NixExecConfig      *self,
                                                          const char         *flake_ref);
NIX_EXEC_AVAILABLE_IN_ALL
const char         *nix_exec_config_get_cache_dir        (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_cache_dir        (NixExecConfig      *self,
                                                          const char         *cache_dir);
NIX_EXEC_AVAILABLE_IN_ALL
const char         *nix_exec_config_get_nix_path         (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_nix_path         (NixExecConfig      *self,
                                                          const char         *nix_path);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean            nix_exec_config_get_offline          (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_offline          (NixExecConfig      *self,
                                                          gboolean            offline);
NIX_EXEC_AVAILABLE_IN_ALL
const char * const *nix_exec_config_get_nix_options      (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_nix_options      (NixExecConfig      *self,
                                                          const char * const *nix_options);
NIX_EXEC_AVAILABLE_IN_ALL
NixExecIsolation    nix_exec_config_get_isolation        (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_isolation        (NixExecConfig      *self,
                                                          NixExecIsolation    isolation);
NIX_EXEC_AVAILABLE_IN_ALL
gboolean            nix_exec_config_get_require_isolation (NixExecConfig     *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_require_isolation (NixExecConfig     *self,
                                                           gboolean           require_isolation);
NIX_EXEC_AVAILABLE_IN_ALL
const char * const *nix_exec_config_get_extra_ro_binds   (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_extra_ro_binds   (NixExecConfig      *self,
                                                          const char * const *extra_ro_binds);

NIX_EXEC_AVAILABLE_IN_ALL
NixExecRuntimeSource nix_exec_config_get_runtime_source (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_runtime_source   (NixExecConfig      *self,
                                                          NixExecRuntimeSource runtime_source);
NIX_EXEC_AVAILABLE_IN_ALL
const char         *nix_exec_config_get_lock_file        (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_lock_file        (NixExecConfig      *self,
                                                          const char         *lock_file);
NIX_EXEC_AVAILABLE_IN_ALL
guint               nix_exec_config_get_max_concurrency  (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_max_concurrency  (NixExecConfig      *self,
                                                          guint               max_concurrency);
NIX_EXEC_AVAILABLE_IN_ALL
guint               nix_exec_config_get_keep_alive_secs  (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_keep_alive_secs  (NixExecConfig      *self,
                                                          guint               keep_alive_secs);
NIX_EXEC_AVAILABLE_IN_ALL
guint               nix_exec_config_get_max_workers      (NixExecConfig      *self);
NIX_EXEC_AVAILABLE_IN_ALL
void                nix_exec_config_set_max_workers      (NixExecConfig      *self,
                                                          guint               max_workers);

G_END_DECLS
