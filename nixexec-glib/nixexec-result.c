/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-enums.h"
#include "nixexec-result-private.h"

/**
 * NixExecResult:
 *
 * The outcome of one successful stage run, with its provenance: the output,
 * the interpreter and runtime store path that ran it, the locked flake URL
 * that runtime was built from, how long the run took, the exit status and
 * what the stage wrote on stderr.
 *
 * Results come from [method@NixExec.Executor.execute_full_async] and
 * [method@NixExec.Executor.execute_full]. A result is immutable.
 *
 * A result with [property@NixExec.Result:runtime-source] set to
 * %NIX_EXEC_RUNTIME_SOURCE_HOST ran on a host interpreter that nix did not
 * pin: it has no runtime path and no flake URL.
 *
 * Since: 1.0
 */
struct _NixExecResult
{
  GObject               parent_instance;

  char                 *stage_id;
  JsonNode             *output;
  char                 *interpreter;
  char                 *runtime_path;  /* NULL for a host interpreter */
  char                 *flake_url;     /* NULL for a host interpreter */
  NixExecRuntimeSource  runtime_source;
  gint64                duration;
  int                   exit_status;
  char                 *logs;
  gboolean              logs_truncated;
};

enum {
  PROP_0,
  PROP_STAGE_ID,
  PROP_OUTPUT,
  PROP_INTERPRETER,
  PROP_RUNTIME_PATH,
  PROP_FLAKE_URL,
  PROP_RUNTIME_SOURCE,
  PROP_DURATION,
  PROP_EXIT_STATUS,
  PROP_LOGS,
  PROP_LOGS_TRUNCATED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (NixExecResult, nix_exec_result, G_TYPE_OBJECT)

static void
nix_exec_result_finalize (GObject *object)
{
  NixExecResult *self = NIX_EXEC_RESULT (object);

  g_free (self->stage_id);
  g_clear_pointer (&self->output, json_node_unref);
  g_free (self->interpreter);
  g_free (self->runtime_path);
  g_free (self->flake_url);
  g_free (self->logs);

  G_OBJECT_CLASS (nix_exec_result_parent_class)->finalize (object);
}

static void
nix_exec_result_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  NixExecResult *self = NIX_EXEC_RESULT (object);

  switch (prop_id)
    {
    case PROP_STAGE_ID:
      g_value_set_string (value, self->stage_id);
      break;
    case PROP_OUTPUT:
      g_value_set_boxed (value, self->output);
      break;
    case PROP_INTERPRETER:
      g_value_set_string (value, self->interpreter);
      break;
    case PROP_RUNTIME_PATH:
      g_value_set_string (value, self->runtime_path);
      break;
    case PROP_FLAKE_URL:
      g_value_set_string (value, self->flake_url);
      break;
    case PROP_RUNTIME_SOURCE:
      g_value_set_enum (value, self->runtime_source);
      break;
    case PROP_DURATION:
      g_value_set_int64 (value, self->duration);
      break;
    case PROP_EXIT_STATUS:
      g_value_set_int (value, self->exit_status);
      break;
    case PROP_LOGS:
      g_value_set_string (value, self->logs);
      break;
    case PROP_LOGS_TRUNCATED:
      g_value_set_boolean (value, self->logs_truncated);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_result_class_init (NixExecResultClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = nix_exec_result_finalize;
  object_class->get_property = nix_exec_result_get_property;

  /**
   * NixExecResult:stage-id:
   *
   * The id of the stage that ran.
   *
   * Since: 1.0
   */
  properties[PROP_STAGE_ID] = g_param_spec_string ("stage-id", NULL, NULL, NULL, flags);

  /**
   * NixExecResult:output:
   *
   * The value the stage returned.
   *
   * Since: 1.0
   */
  properties[PROP_OUTPUT] = g_param_spec_boxed ("output", NULL, NULL, JSON_TYPE_NODE, flags);

  /**
   * NixExecResult:interpreter:
   *
   * The absolute path of the interpreter that ran the stage.
   *
   * Since: 1.0
   */
  properties[PROP_INTERPRETER] = g_param_spec_string ("interpreter", NULL, NULL, NULL, flags);

  /**
   * NixExecResult:runtime-path:
   *
   * The nix store path of the runtime that ran the stage, or %NULL for a
   * host interpreter.
   *
   * Since: 1.0
   */
  properties[PROP_RUNTIME_PATH] = g_param_spec_string ("runtime-path", NULL, NULL, NULL, flags);

  /**
   * NixExecResult:flake-url:
   *
   * The locked flake URL the runtime was built from (as `nix flake
   * metadata` reports it), or %NULL for a host interpreter.
   *
   * Since: 1.0
   */
  properties[PROP_FLAKE_URL] = g_param_spec_string ("flake-url", NULL, NULL, NULL, flags);

  /**
   * NixExecResult:runtime-source:
   *
   * Whether the interpreter was pinned by nix or taken from the host.
   *
   * Since: 1.0
   */
  properties[PROP_RUNTIME_SOURCE] =
    g_param_spec_enum ("runtime-source", NULL, NULL,
                       NIX_EXEC_TYPE_RUNTIME_SOURCE, NIX_EXEC_RUNTIME_SOURCE_NIX, flags);

  /**
   * NixExecResult:duration:
   *
   * How long the stage's process ran, in microseconds, from its start to
   * its exit; resolving the runtime is not counted.
   *
   * Since: 1.0
   */
  properties[PROP_DURATION] =
    g_param_spec_int64 ("duration", NULL, NULL, 0, G_MAXINT64, 0, flags);

  /**
   * NixExecResult:exit-status:
   *
   * The exit status of the stage's process.
   *
   * Since: 1.0
   */
  properties[PROP_EXIT_STATUS] =
    g_param_spec_int ("exit-status", NULL, NULL, 0, 255, 0, flags);

  /**
   * NixExecResult:logs:
   *
   * What the stage wrote on stderr (and, for Python and JavaScript stages,
   * what it printed), up to [property@NixExec.Config:max-stderr-bytes], as
   * UTF-8 (invalid sequences replaced).
   *
   * Since: 1.0
   */
  properties[PROP_LOGS] = g_param_spec_string ("logs", NULL, NULL, NULL, flags);

  /**
   * NixExecResult:logs-truncated:
   *
   * Whether the stage wrote more on stderr than
   * [property@NixExec.Config:max-stderr-bytes] and the rest was dropped.
   *
   * Since: 1.0
   */
  properties[PROP_LOGS_TRUNCATED] =
    g_param_spec_boolean ("logs-truncated", NULL, NULL, FALSE, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
nix_exec_result_init (NixExecResult *self)
{
}

NixExecResult *
nix_exec_result_new (const char           *stage_id,
                     JsonNode             *output,
                     const NixExecRuntime *runtime,
                     gint64                duration,
                     int                   exit_status,
                     GBytes               *logs,
                     gboolean              logs_truncated)
{
  NixExecResult *self = g_object_new (NIX_EXEC_TYPE_RESULT, NULL);
  gsize length = 0;
  const char *data = logs != NULL ? g_bytes_get_data (logs, &length) : NULL;

  self->stage_id = g_strdup (stage_id);
  self->output = json_node_ref (output);
  self->interpreter = g_strdup (runtime->interpreter);
  self->runtime_path = g_strdup (runtime->store_path);
  self->flake_url = g_strdup (runtime->flake_url);
  self->runtime_source = runtime->host ? NIX_EXEC_RUNTIME_SOURCE_HOST : NIX_EXEC_RUNTIME_SOURCE_NIX;
  self->duration = duration;
  self->exit_status = exit_status;
  self->logs = g_utf8_make_valid (data != NULL ? data : "", length);
  self->logs_truncated = logs_truncated;
  return self;
}

/**
 * nix_exec_result_get_stage_id:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:stage-id].
 *
 * Returns: the id of the stage that ran
 *
 * Since: 1.0
 */
const char *
nix_exec_result_get_stage_id (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NULL);
  return self->stage_id;
}

/**
 * nix_exec_result_get_output:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:output].
 *
 * Returns: (transfer none): the value the stage returned
 *
 * Since: 1.0
 */
JsonNode *
nix_exec_result_get_output (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NULL);
  return self->output;
}

/**
 * nix_exec_result_get_interpreter:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:interpreter].
 *
 * Returns: (type filename): the interpreter that ran the stage
 *
 * Since: 1.0
 */
const char *
nix_exec_result_get_interpreter (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NULL);
  return self->interpreter;
}

/**
 * nix_exec_result_get_runtime_path:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:runtime-path].
 *
 * Returns: (nullable) (type filename): the runtime's store path, or %NULL
 *   for a host interpreter
 *
 * Since: 1.0
 */
const char *
nix_exec_result_get_runtime_path (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NULL);
  return self->runtime_path;
}

/**
 * nix_exec_result_get_flake_url:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:flake-url].
 *
 * Returns: (nullable): the locked flake URL, or %NULL for a host interpreter
 *
 * Since: 1.0
 */
const char *
nix_exec_result_get_flake_url (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NULL);
  return self->flake_url;
}

/**
 * nix_exec_result_get_runtime_source:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:runtime-source].
 *
 * Returns: where the interpreter came from
 *
 * Since: 1.0
 */
NixExecRuntimeSource
nix_exec_result_get_runtime_source (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NIX_EXEC_RUNTIME_SOURCE_NIX);
  return self->runtime_source;
}

/**
 * nix_exec_result_get_duration:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:duration].
 *
 * Returns: how long the stage ran, in microseconds
 *
 * Since: 1.0
 */
gint64
nix_exec_result_get_duration (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), 0);
  return self->duration;
}

/**
 * nix_exec_result_get_exit_status:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:exit-status].
 *
 * Returns: the exit status of the stage's process
 *
 * Since: 1.0
 */
int
nix_exec_result_get_exit_status (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), 0);
  return self->exit_status;
}

/**
 * nix_exec_result_get_logs:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:logs].
 *
 * Returns: what the stage wrote on stderr
 *
 * Since: 1.0
 */
const char *
nix_exec_result_get_logs (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), NULL);
  return self->logs;
}

/**
 * nix_exec_result_get_logs_truncated:
 * @self: a [class@NixExec.Result]
 *
 * Gets [property@NixExec.Result:logs-truncated].
 *
 * Returns: %TRUE if part of stderr was dropped
 *
 * Since: 1.0
 */
gboolean
nix_exec_result_get_logs_truncated (NixExecResult *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_RESULT (self), FALSE);
  return self->logs_truncated;
}
