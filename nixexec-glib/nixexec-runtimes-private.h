/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "nixexec-config.h"
#include "nixexec-wrapper-private.h"

G_BEGIN_DECLS

/* A resolved runtime: the interpreter a stage runs on, and where it came
 * from. */
typedef struct
{
  char     *key;          /* "python3", "nodejs", "python3.withPackages(a,b)" */
  char     *interpreter;  /* absolute path of the program to exec */
  char     *store_path;   /* NULL for a host interpreter */
  char     *flake_url;    /* the locked flake URL it was built from, or NULL */
  gboolean  host;         /* TRUE: a host interpreter, not pinned by nix */
} NixExecRuntime;

NixExecRuntime *nix_exec_runtime_copy (const NixExecRuntime *runtime);
void            nix_exec_runtime_free (NixExecRuntime       *runtime);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecRuntime, nix_exec_runtime_free)

#define NIX_EXEC_TYPE_RUNTIMES (nix_exec_runtimes_get_type ())
G_DECLARE_FINAL_TYPE (NixExecRuntimes, nix_exec_runtimes, NIX_EXEC, RUNTIMES, GObject)

NixExecRuntimes *nix_exec_runtimes_new             (const char           *nix_path,
                                                    NixExecConfig        *config);
char            *nix_exec_runtimes_key             (NixExecLanguage       language,
                                                    const char * const   *python_packages);
void             nix_exec_runtimes_resolve_async   (NixExecRuntimes      *self,
                                                    NixExecLanguage       language,
                                                    const char * const   *python_packages,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
NixExecRuntime  *nix_exec_runtimes_resolve_finish  (NixExecRuntimes      *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
void             nix_exec_runtimes_forget          (NixExecRuntimes      *self,
                                                    const char           *key);
void             nix_exec_runtimes_reset           (NixExecRuntimes      *self);
char            *nix_exec_runtimes_dup_locked_url  (NixExecRuntimes      *self);
gboolean         nix_exec_runtimes_load_lock       (NixExecRuntimes      *self,
                                                    const char           *path,
                                                    GError              **error);
gboolean         nix_exec_runtimes_write_lock      (NixExecRuntimes      *self,
                                                    const char           *path,
                                                    GError              **error);
const char      *nix_exec_runtimes_get_system      (void);

G_END_DECLS
