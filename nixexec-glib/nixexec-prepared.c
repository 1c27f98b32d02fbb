/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stages prepared once.
 *
 * Everything a call needs to know of its stage that does not depend on the
 * call is worked out when the stage is registered, once: its language (an
 * enum, from the tag), the Python packages its imports and `# requires:`
 * lines name, the key of the runtime it runs on, and its effects as the
 * text that keys its sandboxed workers. A stage that cannot run (an unknown
 * language, no code, a bad `# requires:`) is still registered, with the
 * reason, which each call then reports; registering through the API
 * refuses what is not a stage at all (not_a_stage).
 *
 * The wrapped script is written to the cache on first use. From then on a
 * call checks it with one lstat: a regular file of the size it was written
 * with. Only a script that went missing or changed size is built, hashed
 * and written again.
 */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "nixexec-error.h"
#include "nixexec-prepared-private.h"
#include "nixexec-pydeps-private.h"
#include "nixexec-runtimes-private.h"
#include "nixexec-wrapper-private.h"

static gboolean
is_blank (const char *text)
{
  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;
  return TRUE;
}

static gboolean
prepare (NixExecPrepared  *self,
         GError          **error)
{
  const char *code = nix_exec_stage_get_code (self->stage);
  g_autoptr(GError) local_error = NULL;

  /* Not a stage at all: refused by registration, and by every call of a
   * stage a store holds. */
  self->not_a_stage = TRUE;
  if (self->id == NULL || *self->id == '\0')
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                           "A stage id must not be empty");
      return FALSE;
    }
  if (!g_utf8_validate (self->id, -1, NULL) || code == NULL || !g_utf8_validate (code, -1, NULL))
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                           "A stage's id and code must be valid UTF-8");
      return FALSE;
    }
  if (!nix_exec_language_from_tag (nix_exec_stage_get_language (self->stage), &self->language,
                                   &local_error))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                   "Stage “%s”: %s", self->id, local_error->message);
      return FALSE;
    }

  if (is_blank (code))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                   "Stage “%s” has no code: it must define execute(input)", self->id);
      return FALSE;
    }

  /* A stage that fails only when it runs. */
  self->not_a_stage = FALSE;
  if (self->language == NIX_EXEC_LANGUAGE_PYTHON)
    {
      g_auto(GStrv) packages = nix_exec_pydeps_resolve (code, &local_error);

      if (packages == NULL)
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                       "Stage “%s”: %s", self->id, local_error->message);
          return FALSE;
        }
      if (packages[0] != NULL)
        self->python_packages = g_steal_pointer (&packages);
    }

  self->runtime_key = nix_exec_runtimes_key (self->language,
                                             (const char * const *) self->python_packages);
  return TRUE;
}

NixExecPrepared *
nix_exec_prepared_new (NixExecStage *stage)
{
  NixExecPrepared *self = g_new0 (NixExecPrepared, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->stage = g_object_ref (stage);
  self->id = nix_exec_stage_get_id (stage);
  self->effects_key = nix_exec_effect_set_to_string (nix_exec_stage_get_effects (stage));
  prepare (self, &self->invalid);
  return self;
}

NixExecPrepared *
nix_exec_prepared_ref (NixExecPrepared *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
nix_exec_prepared_unref (NixExecPrepared *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_clear_error (&self->invalid);
  g_strfreev (self->python_packages);
  g_free (self->runtime_key);
  g_free (self->effects_key);
  g_free (self->script_path);
  g_mutex_clear (&self->lock);
  g_object_unref (self->stage);
  g_free (self);
}

char *
nix_exec_prepared_ensure_script (NixExecPrepared  *self,
                                 const char       *cache_dir,
                                 GError          **error)
{
  g_autofree char *path = NULL;
  struct stat st;

  g_return_val_if_fail (self->invalid == NULL, NULL);

  g_mutex_lock (&self->lock);
  path = g_strdup (self->script_path);
  if (path != NULL &&
      !(g_lstat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == self->script_size))
    g_clear_pointer (&path, g_free);
  g_mutex_unlock (&self->lock);
  if (path != NULL)
    return g_steal_pointer (&path);

  /* Calls that race here write the same bytes, atomically. */
  path = nix_exec_wrapper_ensure_script (cache_dir, self->language,
                                         nix_exec_stage_get_code (self->stage), error);
  if (path == NULL)
    return NULL;
  if (g_lstat (path, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "The stage script “%s” vanished as it was written: %s",
                   path, g_strerror (saved_errno));
      return NULL;
    }

  g_mutex_lock (&self->lock);
  g_free (self->script_path);
  self->script_path = g_strdup (path);
  self->script_size = st.st_size;
  g_mutex_unlock (&self->lock);

  return g_steal_pointer (&path);
}
