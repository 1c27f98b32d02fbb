/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How a run ended, decoded once for one-shot runs and warm workers alike.
 *
 * The wrapper protocol (docs/protocol.md, nixexec-wrapper-private.h) has
 * two carriers for the same three answers:
 *
 *  - one-shot: exit status 0 with one JSON value on stdout (the result);
 *    exit status NIX_EXEC_WRAPPER_REPORT_STATUS with a report object on
 *    stdout (the wrapper's account of a failure); any other end of the
 *    process (an exit status, a signal) is the stage's own failure, told by
 *    its stderr;
 *  - warm worker: a response frame whose payload is `{"ok": <value>}` or a
 *    report object; or the worker's death during the call, as above.
 *
 * nix_exec_outcome_decode() turns either into one NixExecOutcome, and
 * nix_exec_outcome_to_result() turns that into the caller's result or
 * error, so a stage fails with the same code and message whichever way it
 * ran. Every text is read by the one strict reader (nixexec-json.c).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "nixexec-error.h"
#include "nixexec-json-private.h"
#include "nixexec-outcome-private.h"
#include "nixexec-result-private.h"
#include "nixexec-sandbox-private.h"
#include "nixexec-wrapper-private.h"

void
nix_exec_outcome_free (NixExecOutcome *outcome)
{
  if (outcome == NULL)
    return;
  g_clear_pointer (&outcome->value, json_node_unref);
  g_clear_pointer (&outcome->report, json_object_unref);
  g_clear_pointer (&outcome->logs, g_bytes_unref);
  g_free (outcome);
}

/* The last lines of what the stage wrote on stderr, for an error message. */
static char *
logs_excerpt (GBytes *logs)
{
  gsize length;
  const char *data = g_bytes_get_data (logs, &length);
  g_autofree char *text = NULL;
  const char *start;
  gsize limit = 4000;

  if (length == 0)
    return g_strdup ("(nothing on stderr)");

  text = g_utf8_make_valid (data, length);
  g_strstrip (text);
  start = text;
  if (strlen (text) > limit)
    {
      start = text + strlen (text) - limit;
      while (*start != '\0' && (*start & 0xC0) == 0x80)
        start++;
      return g_strconcat ("[…] ", start, NULL);
    }
  return g_strdup (start);
}

static const char *
object_get_string (JsonObject *object,
                   const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The error of a wrapper's report, which report_kind_is_known() accepted. */
static GError *
error_from_report (const char *stage_id,
                   JsonObject *report)
{
  const char *kind, *type, *message, *traceback;
  g_autofree char *label = NULL;

  kind = object_get_string (report, "kind");
  type = object_get_string (report, "type");
  message = object_get_string (report, "message");
  traceback = object_get_string (report, "traceback");
  if (message == NULL)
    message = "";

  label = type != NULL && *type != '\0' ? g_strdup_printf ("%s: %s", type, message)
                                        : g_strdup (message);

  if (g_str_equal (kind, "no-execute"))
    return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                        "Stage “%s” defines no top-level execute(input) function%s%s",
                        stage_id, *message != '\0' ? ": " : "", message);
  if (g_str_equal (kind, "syntax"))
    return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                        "Stage “%s” does not compile: %s", stage_id, label);
  if (g_str_equal (kind, "bad-result"))
    return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                        "Stage “%s” returned a value that cannot be written as JSON: %s",
                        stage_id, label);
  if (g_str_equal (kind, "exception"))
    {
      if (traceback != NULL && *traceback != '\0')
        return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                            "Stage “%s” raised %s\n\n%s", stage_id, label, traceback);
      return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                          "Stage “%s” raised %s", stage_id, label);
    }

  g_assert_not_reached ();
}

/* The one JSON value that @bytes holds, or NULL with INVALID_OUTPUT saying
 * what was wrong; @what names the text in the message. */
static JsonNode *
parse_one_value (const char  *stage_id,
                 GBytes      *bytes,
                 const char  *what,
                 GError     **error)
{
  g_autoptr(GError) parse_error = NULL;
  gsize length = 0;
  const char *text = bytes != NULL ? g_bytes_get_data (bytes, &length) : NULL;
  JsonNode *value = nix_exec_json_read (text, length, &parse_error);

  if (value == NULL)
    {
      g_autofree char *shown = g_utf8_make_valid (text != NULL ? text : "", MIN (length, 200));

      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                   "Stage “%s” did not print one JSON value %s: %s (output began: “%s”)",
                   stage_id, what, parse_error->message, shown);
    }
  return value;
}

static gboolean
report_kind_is_known (JsonObject *report)
{
  static const char * const kinds[] = { "no-execute", "syntax", "bad-result", "exception", NULL };
  const char *kind = object_get_string (report, "kind");

  return kind != NULL && g_strv_contains (kinds, kind);
}

/* A warm worker's response: {"ok": value}, or a report object. */
static gboolean
decode_response (NixExecOutcome  *outcome,
                 const char      *stage_id,
                 GBytes          *payload,
                 GError         **error)
{
  g_autoptr(JsonNode) root = parse_one_value (stage_id, payload, "in its worker's response", error);
  JsonObject *object;

  if (root == NULL)
    return FALSE;

  object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (object != NULL && json_object_has_member (object, "ok"))
    {
      outcome->kind = NIX_EXEC_OUTCOME_VALUE;
      outcome->value = json_node_copy (json_object_get_member (object, "ok"));
      return TRUE;
    }
  if (object != NULL && report_kind_is_known (object))
    {
      outcome->kind = NIX_EXEC_OUTCOME_REPORT;
      outcome->report = json_object_ref (object);
      return TRUE;
    }

  g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
               "The worker of stage “%s” answered with something that is neither a result "
               "nor a report", stage_id);
  return FALSE;
}

/* A one-shot run's report, when stdout holds one the wrapper wrote. */
static JsonObject *
oneshot_report (GBytes *stdout_bytes)
{
  gsize length = 0;
  const char *text = stdout_bytes != NULL ? g_bytes_get_data (stdout_bytes, &length) : NULL;
  g_autoptr(JsonNode) root = nix_exec_json_read (text, length, NULL);

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !report_kind_is_known (json_node_get_object (root)))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

/* Takes the wrapper's start line out of @logs (taken); whether it was
 * there, at the start of a line (an interpreter may warn before it). */
static GBytes *
take_started_line (GBytes   *logs,
                   gboolean *out_started)
{
  static const char line[] = NIX_EXEC_WRAPPER_STARTED_LINE;
  gsize length = 0;
  const char *data = logs != NULL ? g_bytes_get_data (logs, &length) : NULL;
  const char *found = NULL;
  g_autoptr(GByteArray) rest = NULL;

  *out_started = FALSE;
  if (data != NULL && length >= sizeof line - 1)
    {
      found = memmem (data, length, line, sizeof line - 1);
      while (found != NULL && found != data && found[-1] != '\n')
        found = memmem (found + 1, length - (found + 1 - data), line, sizeof line - 1);
    }
  if (found == NULL)
    return logs != NULL ? logs : g_bytes_new (NULL, 0);

  *out_started = TRUE;
  rest = g_byte_array_sized_new (length - (sizeof line - 1));
  g_byte_array_append (rest, (const guint8 *) data, found - data);
  g_byte_array_append (rest, (const guint8 *) found + sizeof line - 1,
                       length - (found - data) - (sizeof line - 1));
  g_bytes_unref (logs);
  return g_byte_array_free_to_bytes (g_steal_pointer (&rest));
}

/* Whether bwrap itself failed before the stage could run: the wrapper never
 * wrote its start line (which nothing of the stage's can take back), bwrap
 * exited with status 1 and said why on stderr behind "bwrap: ". */
static gboolean
sandbox_failed (NixExecOutcome *outcome)
{
  static const char prefix[] = "bwrap: ";
  gsize length = 0;
  const char *err = g_bytes_get_data (outcome->logs, &length);

  return outcome->exit_status == 1 &&
         length >= sizeof prefix - 1 && memcmp (err, prefix, sizeof prefix - 1) == 0;
}

/* Whether bwrap's complaint is that the host ran out of processes,
 * descriptors or memory. */
static gboolean
logs_say_exhausted (const char *text)
{
  static const int errnos[] = { EAGAIN, EMFILE, ENFILE, ENOMEM };

  for (gsize i = 0; i < G_N_ELEMENTS (errnos); i++)
    if (strstr (text, g_strerror (errnos[i])) != NULL)
      return TRUE;
  return FALSE;
}

NixExecOutcome *
nix_exec_outcome_decode (const char          *stage_id,
                         NixExecChildResult  *child,
                         gboolean             sandboxed,
                         GError             **error)
{
  g_autoptr(NixExecOutcome) outcome = g_new0 (NixExecOutcome, 1);
  int term_signal = child->term_signal;
  gboolean started;

  outcome->logs = take_started_line (child->stderr_bytes != NULL
                                       ? g_bytes_ref (child->stderr_bytes) : NULL,
                                     &started);
  outcome->logs_truncated = child->stderr_truncated;
  outcome->duration = child->duration;

  if (child->framed)
    return decode_response (outcome, stage_id, child->stdout_bytes, error)
             ? g_steal_pointer (&outcome) : NULL;

  /* bwrap reports the stage's death by signal N as its own exit status
   * 128 + N, as shells do; a stage that exits with such a status on purpose
   * is reported the same way. */
  if (!child->exited ||
      (sandboxed && nix_exec_sandbox_exit_status_is_signal (child->exit_status, &term_signal)))
    {
      outcome->kind = NIX_EXEC_OUTCOME_SIGNALED;
      outcome->term_signal = term_signal;
      return g_steal_pointer (&outcome);
    }

  if (child->exit_status == 0)
    {
      outcome->kind = NIX_EXEC_OUTCOME_VALUE;
      outcome->value = parse_one_value (stage_id, child->stdout_bytes, "on stdout", error);
      return outcome->value != NULL ? g_steal_pointer (&outcome) : NULL;
    }

  if (child->exit_status == NIX_EXEC_WRAPPER_REPORT_STATUS &&
      (outcome->report = oneshot_report (child->stdout_bytes)) != NULL)
    {
      outcome->kind = NIX_EXEC_OUTCOME_REPORT;
      return g_steal_pointer (&outcome);
    }

  outcome->exit_status = child->exit_status;
  outcome->kind = sandboxed && !started && !child->answered_before && sandbox_failed (outcome)
                    ? NIX_EXEC_OUTCOME_NO_SANDBOX
                    : NIX_EXEC_OUTCOME_EXITED;
  return g_steal_pointer (&outcome);
}

NixExecResult *
nix_exec_outcome_to_result (NixExecOutcome       *outcome,
                            const char           *stage_id,
                            const NixExecRuntime *runtime,
                            GError              **error)
{
  g_autofree char *excerpt = NULL;

  switch (outcome->kind)
    {
    case NIX_EXEC_OUTCOME_VALUE:
      return nix_exec_result_new (stage_id, outcome->value, runtime, outcome->duration, 0,
                                  outcome->logs, outcome->logs_truncated);

    case NIX_EXEC_OUTCOME_REPORT:
      g_propagate_error (error, error_from_report (stage_id, outcome->report));
      return NULL;

    case NIX_EXEC_OUTCOME_EXITED:
      excerpt = logs_excerpt (outcome->logs);
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                   "Stage “%s” exited with status %d: %s",
                   stage_id, outcome->exit_status, excerpt);
      return NULL;

    case NIX_EXEC_OUTCOME_NO_SANDBOX:
      excerpt = logs_excerpt (outcome->logs);
      g_set_error (error, NIX_EXEC_ERROR,
                   logs_say_exhausted (excerpt) ? NIX_EXEC_ERROR_RESOURCE_LIMIT
                                                : NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "The sandbox of stage “%s” could not be set up: %s", stage_id, excerpt);
      return NULL;

    case NIX_EXEC_OUTCOME_SIGNALED:
      excerpt = logs_excerpt (outcome->logs);
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_FAILED,
                   "Stage “%s” was killed by signal %d (%s): %s",
                   stage_id, outcome->term_signal, g_strsignal (outcome->term_signal), excerpt);
      return NULL;

    default:
      g_assert_not_reached ();
    }
}
