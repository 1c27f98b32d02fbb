/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "nixexec-stage.h"

G_BEGIN_DECLS

/*
 * A registered stage, prepared once for every call: see nixexec-prepared.c.
 * Immutable after nix_exec_prepared_new() but for the script it caches;
 * shared between threads by reference.
 */
typedef struct
{
  gatomicrefcount  ref_count;
  NixExecStage    *stage;           /* owned */
  const char      *id;              /* the stage's */
  GError          *invalid;         /* owned: why it cannot run, or NULL */
  gboolean         not_a_stage;     /* invalid: no known language, or no code */
  NixExecLanguage  language;
  GStrv            python_packages; /* owned; NULL when it needs none */
  char            *runtime_key;     /* owned: which runtime it runs on */
  char            *effects_key;     /* owned: its effects, as JSON text */

  GMutex           lock;            /* guards the two fields below */
  char            *script_path;     /* owned: its cached script, once written */
  goffset          script_size;
} NixExecPrepared;

NixExecPrepared *nix_exec_prepared_new            (NixExecStage     *stage);
NixExecPrepared *nix_exec_prepared_ref            (NixExecPrepared  *prepared);
void             nix_exec_prepared_unref          (NixExecPrepared  *prepared);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecPrepared, nix_exec_prepared_unref)

/* The path of the stage's wrapped script under @cache_dir, written on first
 * use and whenever it went missing or changed size since. */
char            *nix_exec_prepared_ensure_script  (NixExecPrepared  *prepared,
                                                   const char       *cache_dir,
                                                   GError          **error);

G_END_DECLS
