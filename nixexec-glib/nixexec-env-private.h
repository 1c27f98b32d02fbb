/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "nixexec-config.h"
#include "nixexec-pool-private.h"
#include "nixexec-runtimes-private.h"
#include "nixexec-slots-private.h"

G_BEGIN_DECLS

/*
 * What an executor decides once, when it is built, and every run of it
 * shares: see nixexec-env.c. Refcounted, so that runs in flight keep it
 * whatever happens to the executor; immutable once made.
 */
typedef struct
{
  gatomicrefcount  ref_count;
  NixExecConfig   *config;            /* owned */
  char            *nix_path;          /* owned; NULL for host runtimes */
  NixExecRuntimes *runtimes;          /* owned */
  NixExecSlots    *slots;             /* owned */
  NixExecPool     *pool;              /* owned */
  gboolean         isolation_active;
  char            *isolation_reason;  /* owned; why not, NULL while active */
  char            *bwrap_path;        /* owned; NULL unless isolation is active */
  gboolean         bwrap_disable_userns;
} NixExecRunEnv;

/* NULL with NIX_EXEC_ERROR_NIX_NOT_FOUND, ISOLATION_UNAVAILABLE or
 * INVALID_LOCK_FILE when @config cannot run here. */
NixExecRunEnv *nix_exec_run_env_new   (NixExecConfig  *config,
                                       GError        **error);
NixExecRunEnv *nix_exec_run_env_ref   (NixExecRunEnv  *env);
void           nix_exec_run_env_unref (NixExecRunEnv  *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecRunEnv, nix_exec_run_env_unref)

/* The nix binary of a default installation, or NULL. */
char          *nix_exec_run_env_find_nix (void);

G_END_DECLS
