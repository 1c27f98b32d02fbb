/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The outcome decoder (nixexec-outcome.c) on whatever a stage process can
 * give back, then nix_exec_outcome_to_result().
 *
 * Input: byte 0 is flags (FLAG_*), byte 1 the exit status (also the signal
 * number), byte 2 how many of the following bytes are stderr; the rest is
 * stdout, or a worker's response payload when FLAG_FRAMED is set.
 */
#include <string.h>

#include "fuzz-util.h"
#include "nixexec-error.h"
#include "nixexec-json-private.h"
#include "nixexec-outcome-private.h"

enum {
  FLAG_FRAMED           = 1 << 0,
  FLAG_EXITED           = 1 << 1,
  FLAG_SANDBOXED        = 1 << 2,
  FLAG_STDERR_TRUNCATED = 1 << 3,
  FLAG_HOST_RUNTIME     = 1 << 4,
  FLAG_ANSWERED_BEFORE  = 1 << 5,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const char stage_id[] = "fuzz-stage";
  g_autoptr(NixExecChildResult) child = g_new0 (NixExecChildResult, 1);
  g_autoptr(NixExecOutcome) outcome = NULL;
  g_autoptr(NixExecResult) result = NULL;
  g_autoptr(GError) error = NULL;
  NixExecRuntime runtime = {
    .key = (char *) "python3",
    .interpreter = (char *) "/nix/store/00000000000000000000000000000000-python3/bin/python3",
    .store_path = (char *) "/nix/store/00000000000000000000000000000000-python3",
    .flake_url = (char *) "path:/fuzz?narHash=sha256-AAAA",
  };
  guint8 flags = size > 0 ? data[0] : 0;
  guint8 status = size > 1 ? data[1] : 0;
  gsize stderr_length = size > 2 ? data[2] : 0;
  const uint8_t *rest = data + MIN (size, 3);
  gsize rest_length = size - MIN (size, 3);

  stderr_length = MIN (stderr_length, rest_length);
  child->stderr_bytes = g_bytes_new (rest, stderr_length);
  child->stdout_bytes = g_bytes_new (rest + stderr_length, rest_length - stderr_length);
  child->stderr_truncated = (flags & FLAG_STDERR_TRUNCATED) != 0;
  child->framed = (flags & FLAG_FRAMED) != 0;
  child->answered_before = (flags & FLAG_ANSWERED_BEFORE) != 0;
  child->exited = (flags & FLAG_EXITED) != 0;
  child->exit_status = status;
  child->term_signal = status;
  child->duration = 1234;
  if (flags & FLAG_HOST_RUNTIME)
    {
      runtime.interpreter = (char *) "/usr/bin/python3";
      runtime.store_path = NULL;
      runtime.flake_url = NULL;
      runtime.host = TRUE;
    }

  outcome = nix_exec_outcome_decode (stage_id, child, (flags & FLAG_SANDBOXED) != 0, &error);
  if (outcome == NULL)
    {
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  g_assert_no_error (error);
  /* The wrapper's start line is taken out of what the stage wrote. */
  g_assert_nonnull (outcome->logs);
  g_assert_cmpuint (g_bytes_get_size (outcome->logs), <=, g_bytes_get_size (child->stderr_bytes));

  switch (outcome->kind)
    {
    case NIX_EXEC_OUTCOME_VALUE:
      {
        /* What was read can be written: the result goes back out as JSON. */
        g_autofree char *text = NULL;

        g_assert_nonnull (outcome->value);
        g_assert_null (outcome->report);
        text = nix_exec_json_write (outcome->value, FALSE, &error);
        g_assert_no_error (error);
        g_assert_nonnull (text);
      }
      break;
    case NIX_EXEC_OUTCOME_REPORT:
      g_assert_nonnull (outcome->report);
      g_assert_null (outcome->value);
      break;
    case NIX_EXEC_OUTCOME_NO_SANDBOX:
      g_assert_true ((flags & FLAG_SANDBOXED) != 0);
      g_assert_false (child->answered_before);
      G_GNUC_FALLTHROUGH;
    case NIX_EXEC_OUTCOME_EXITED:
    case NIX_EXEC_OUTCOME_SIGNALED:
      g_assert_false (child->framed);
      g_assert_null (outcome->value);
      g_assert_null (outcome->report);
      break;
    default:
      g_assert_not_reached ();
    }

  result = nix_exec_outcome_to_result (outcome, stage_id, &runtime, &error);
  if (outcome->kind == NIX_EXEC_OUTCOME_VALUE)
    {
      g_assert_no_error (error);
      g_assert_nonnull (result);
      g_assert_cmpstr (nix_exec_result_get_stage_id (result), ==, stage_id);
      g_assert_true (json_node_equal (nix_exec_result_get_output (result), outcome->value));
      g_assert_cmpstr (nix_exec_result_get_interpreter (result), ==, runtime.interpreter);
      g_assert_true (g_utf8_validate (nix_exec_result_get_logs (result), -1, NULL));
      g_assert_cmpint (nix_exec_result_get_logs_truncated (result), ==, child->stderr_truncated);
    }
  else
    {
      g_assert_null (result);
      g_assert_nonnull (error);
      g_assert_true (error->domain == NIX_EXEC_ERROR);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, stage_id));
    }
  return 0;
}
