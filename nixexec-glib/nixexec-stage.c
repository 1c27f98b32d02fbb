/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-error.h"
#include "nixexec-stage.h"

/**
 * NixExecStage:
 *
 * A stage: a piece of source code in some language, run with one JSON
 * value on stdin to produce one JSON value on stdout, under an id and with
 * the effects it declares.
 *
 * The id, code, language and effects are fixed at construction. A stage
 * only holds them: whether the language is known and the code runnable is
 * checked when an executor runs or registers the stage.
 *
 * Since: 1.0
 */

struct _NixExecStage
{
  GObject           parent_instance;

  char             *id;
  char             *code;
  char             *language;
  /* Owned; a private copy of what the constructor was given. */
  NixExecEffectSet *effects;
  char             *name;
  gint              keep_alive_secs; /* atomic; -1: the config's */
};

G_DEFINE_FINAL_TYPE (NixExecStage, nix_exec_stage, G_TYPE_OBJECT)

static const struct {
  const char      *tag;
  NixExecLanguage  language;
} language_tags[] = {
  { "python", NIX_EXEC_LANGUAGE_PYTHON },
  { "python3", NIX_EXEC_LANGUAGE_PYTHON },
  { "javascript", NIX_EXEC_LANGUAGE_JAVASCRIPT },
  { "js", NIX_EXEC_LANGUAGE_JAVASCRIPT },
  { "bash", NIX_EXEC_LANGUAGE_BASH },
  { "sh", NIX_EXEC_LANGUAGE_BASH },
};

#define ACCEPTED_TAGS "python, python3, javascript, js, bash or sh"

/**
 * nix_exec_language_from_tag:
 * @tag: (nullable): a language tag, such as `python3` or `js`, in any case
 * @out_language: (out) (optional): return location for the language
 * @error: return location for a #GError
 *
 * Tells which language a stage's language tag means: `python` or
 * `python3`, `javascript` or `js`, `bash` or `sh`, in any case.
 *
 * Returns: %TRUE when @tag names a language; %FALSE with
 *   %NIX_EXEC_ERROR_INVALID_STAGE when it is empty, %NULL or unknown
 *
 * Since: 1.0
 */
gboolean
nix_exec_language_from_tag (const char       *tag,
                            NixExecLanguage  *out_language,
                            GError          **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (tag == NULL || *tag == '\0')
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                   "The stage has no language; use one of " ACCEPTED_TAGS);
      return FALSE;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (language_tags); i++)
    {
      if (g_ascii_strcasecmp (tag, language_tags[i].tag) == 0)
        {
          if (out_language != NULL)
            *out_language = language_tags[i].language;
          return TRUE;
        }
    }

  g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
               "Unknown stage language “%s”; use one of " ACCEPTED_TAGS, tag);
  return FALSE;
}

enum {
  PROP_0,
  PROP_ID,
  PROP_CODE,
  PROP_LANGUAGE,
  PROP_EFFECTS,
  PROP_NAME,
  PROP_KEEP_ALIVE_SECS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
nix_exec_stage_constructed (GObject *object)
{
  NixExecStage *self = NIX_EXEC_STAGE (object);

  G_OBJECT_CLASS (nix_exec_stage_parent_class)->constructed (object);

  /* g_object_new() without these leaves them NULL; nothing downstream
   * expects that, so complain and fall back to empty strings. */
  if (self->id == NULL || self->code == NULL || self->language == NULL)
    {
      g_critical ("A NixExecStage needs an id, code and a language");
      if (self->id == NULL)
        self->id = g_strdup ("");
      if (self->code == NULL)
        self->code = g_strdup ("");
      if (self->language == NULL)
        self->language = g_strdup ("");
    }

  /* The "effects" property is construct-only, so set_property has always
   * run for it by now. */
  g_assert (self->effects != NULL);
}

static void
nix_exec_stage_dispose (GObject *object)
{
  NixExecStage *self = NIX_EXEC_STAGE (object);

  g_clear_object (&self->effects);

  G_OBJECT_CLASS (nix_exec_stage_parent_class)->dispose (object);
}

static void
nix_exec_stage_finalize (GObject *object)
{
  NixExecStage *self = NIX_EXEC_STAGE (object);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->code, g_free);
  g_clear_pointer (&self->language, g_free);
  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (nix_exec_stage_parent_class)->finalize (object);
}

static void
nix_exec_stage_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NixExecStage *self = NIX_EXEC_STAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_CODE:
      g_value_set_string (value, self->code);
      break;
    case PROP_LANGUAGE:
      g_value_set_string (value, self->language);
      break;
    case PROP_EFFECTS:
      g_value_set_object (value, self->effects);
      break;
    case PROP_KEEP_ALIVE_SECS:
      g_value_set_int (value, nix_exec_stage_get_keep_alive_secs (self));
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_stage_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  NixExecStage *self = NIX_EXEC_STAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_assert (self->id == NULL);
      self->id = g_value_dup_string (value);
      break;
    case PROP_CODE:
      g_assert (self->code == NULL);
      self->code = g_value_dup_string (value);
      break;
    case PROP_LANGUAGE:
      g_assert (self->language == NULL);
      self->language = g_value_dup_string (value);
      break;
    case PROP_EFFECTS:
      {
        NixExecEffectSet *effects = g_value_get_object (value);

        g_assert (self->effects == NULL);
        /* A copy, so the caller changing its set later cannot widen what
         * this stage declared. */
        if (effects != NULL)
          self->effects = nix_exec_effect_set_copy (effects);
        else
          self->effects = nix_exec_effect_set_new_unknown ();
      }
      break;
    case PROP_KEEP_ALIVE_SECS:
      nix_exec_stage_set_keep_alive_secs (self, g_value_get_int (value));
      break;
    case PROP_NAME:
      nix_exec_stage_set_name (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_stage_class_init (NixExecStageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = nix_exec_stage_constructed;
  object_class->dispose = nix_exec_stage_dispose;
  object_class->finalize = nix_exec_stage_finalize;
  object_class->get_property = nix_exec_stage_get_property;
  object_class->set_property = nix_exec_stage_set_property;

  /**
   * NixExecStage:id:
   *
   * The stage's id, under which stores and executors know it.
   *
   * Since: 1.0
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecStage:code:
   *
   * The stage's source code.
   *
   * Since: 1.0
   */
  properties[PROP_CODE] =
    g_param_spec_string ("code", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecStage:language:
   *
   * The language tag of [property@NixExec.Stage:code], such as `python`,
   * `javascript` or `bash`, as the stage's author wrote it.
   *
   * Since: 1.0
   */
  properties[PROP_LANGUAGE] =
    g_param_spec_string ("language", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecStage:effects:
   *
   * The effects the stage declares. The stage keeps its own copy of the
   * set it is given; when given none it declares `{Unknown}`.
   *
   * Since: 1.0
   */
  properties[PROP_EFFECTS] =
    g_param_spec_object ("effects", NULL, NULL,
                         NIX_EXEC_TYPE_EFFECT_SET,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecStage:name:
   *
   * A human-readable name for the stage, or %NULL.
   *
   * Since: 1.0
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecStage:keep-alive-secs:
   *
   * Warm workers for this stage: how long its worker process stays alive
   * after its last call, in seconds, overriding
   * [property@NixExec.Config:keep-alive-secs]. 0 runs every call of this
   * stage in a process of its own; -1, the default, uses the config's
   * setting. An executor reads it at each call, so it can be changed on a
   * stage that an executor already runs.
   *
   * Since: 1.0
   */
  properties[PROP_KEEP_ALIVE_SECS] =
    g_param_spec_int ("keep-alive-secs", NULL, NULL,
                      -1, G_MAXINT, -1,
                      G_PARAM_READWRITE |
                      G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
nix_exec_stage_init (NixExecStage *self)
{
  self->keep_alive_secs = -1;
}

/**
 * nix_exec_stage_new:
 * @id: the stage's id
 * @code: the stage's source code
 * @language: the language tag of @code
 * @effects: (nullable): the effects the stage declares, or %NULL for
 *   `{Unknown}`
 *
 * Creates a stage. The stage copies @effects, so later changes to @effects
 * do not change what the stage declares.
 *
 * Returns: (transfer full): a new [class@NixExec.Stage]
 *
 * Since: 1.0
 */
NixExecStage *
nix_exec_stage_new (const char       *id,
                    const char       *code,
                    const char       *language,
                    NixExecEffectSet *effects)
{
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (code != NULL, NULL);
  g_return_val_if_fail (language != NULL, NULL);
  g_return_val_if_fail (effects == NULL || NIX_EXEC_IS_EFFECT_SET (effects), NULL);

  return g_object_new (NIX_EXEC_TYPE_STAGE,
                       "id", id,
                       "code", code,
                       "language", language,
                       "effects", effects,
                       NULL);
}

/**
 * nix_exec_stage_get_id:
 * @self: a [class@NixExec.Stage]
 *
 * Gets [property@NixExec.Stage:id].
 *
 * Returns: (transfer none): the stage's id
 *
 * Since: 1.0
 */
const char *
nix_exec_stage_get_id (NixExecStage *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (self), NULL);

  return self->id;
}

/**
 * nix_exec_stage_get_code:
 * @self: a [class@NixExec.Stage]
 *
 * Gets [property@NixExec.Stage:code].
 *
 * Returns: (transfer none): the stage's source code
 *
 * Since: 1.0
 */
const char *
nix_exec_stage_get_code (NixExecStage *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (self), NULL);

  return self->code;
}

/**
 * nix_exec_stage_get_language:
 * @self: a [class@NixExec.Stage]
 *
 * Gets [property@NixExec.Stage:language].
 *
 * Returns: (transfer none): the language tag of the stage's code
 *
 * Since: 1.0
 */
const char *
nix_exec_stage_get_language (NixExecStage *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (self), NULL);

  return self->language;
}

/**
 * nix_exec_stage_get_effects:
 * @self: a [class@NixExec.Stage]
 *
 * Gets [property@NixExec.Stage:effects]. The set belongs to the stage and
 * must not be changed; copy it with [method@NixExec.EffectSet.copy] to
 * build on it.
 *
 * Returns: (transfer none): the effects the stage declares
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_stage_get_effects (NixExecStage *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (self), NULL);

  return self->effects;
}

/**
 * nix_exec_stage_get_name:
 * @self: a [class@NixExec.Stage]
 *
 * Gets [property@NixExec.Stage:name].
 *
 * Returns: (transfer none) (nullable): the stage's name, or %NULL
 *
 * Since: 1.0
 */
const char *
nix_exec_stage_get_name (NixExecStage *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (self), NULL);

  return self->name;
}

/**
 * nix_exec_stage_set_name:
 * @self: a [class@NixExec.Stage]
 * @name: (nullable): the new name, or %NULL for none
 *
 * Sets [property@NixExec.Stage:name].
 *
 * Since: 1.0
 */
void
nix_exec_stage_set_name (NixExecStage *self,
                         const char   *name)
{
  g_return_if_fail (NIX_EXEC_IS_STAGE (self));

  if (g_strcmp0 (self->name, name) == 0)
    return;

  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/**
 * nix_exec_stage_get_keep_alive_secs:
 * @self: a [class@NixExec.Stage]
 *
 * Gets [property@NixExec.Stage:keep-alive-secs].
 *
 * Returns: the stage's keep-alive in seconds, or -1 for the config's
 *
 * Since: 1.0
 */
int
nix_exec_stage_get_keep_alive_secs (NixExecStage *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (self), -1);

  return g_atomic_int_get (&self->keep_alive_secs);
}

/**
 * nix_exec_stage_set_keep_alive_secs:
 * @self: a [class@NixExec.Stage]
 * @keep_alive_secs: seconds a worker of this stage stays alive after its
 *   last call, 0 for one process per call, or -1 for the config's setting
 *
 * Sets [property@NixExec.Stage:keep-alive-secs].
 *
 * Since: 1.0
 */
void
nix_exec_stage_set_keep_alive_secs (NixExecStage *self,
                                    int           keep_alive_secs)
{
  g_return_if_fail (NIX_EXEC_IS_STAGE (self));
  g_return_if_fail (keep_alive_secs >= -1);

  /* Read by executors on other threads: hence atomic. */
  if (g_atomic_int_exchange (&self->keep_alive_secs, keep_alive_secs) == keep_alive_secs)
    return;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEEP_ALIVE_SECS]);
}
