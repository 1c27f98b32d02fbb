/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker's frame reader (nixexec-frame.c), fed as the worker feeds it:
 * the buffer of what the worker wrote so far, one byte more each time,
 * until a frame is complete or refused; a complete frame's payload then goes
 * to the outcome decoder as a worker's response.
 *
 * Input: byte 0 picks the output cap (the low 3 bits, an index into caps[]);
 * the rest is what the worker wrote.
 *
 * Checked: the answers for successive prefixes agree (once refused, always
 * refused; once complete, the same frame), a frame lies inside the buffer,
 * and each refusal has the error its kind says.
 */
#include "fuzz-util.h"
#include "nixexec-error.h"
#include "nixexec-frame-private.h"
#include "nixexec-outcome-private.h"

static const guint64 caps[] = {
  0, 1, 2, 10, 100, 4096, 1024 * 1024, G_MAXUINT64,
};

static NixExecFrameStatus
parse (const uint8_t *data,
       gsize          length,
       guint64        cap,
       NixExecFrame  *frame,
       gint          *error_code)
{
  g_autoptr(GError) error = NULL;
  NixExecFrameStatus status = nix_exec_frame_parse (data, length, cap, frame, &error);

  switch (status)
    {
    case NIX_EXEC_FRAME_INCOMPLETE:
      g_assert_no_error (error);
      break;
    case NIX_EXEC_FRAME_COMPLETE:
      g_assert_no_error (error);
      g_assert_cmpuint (frame->payload_offset, >=, 2);
      g_assert_cmpuint (frame->payload_offset, <=, NIX_EXEC_FRAME_HEADER_MAX + 1);
      g_assert_cmpuint (frame->payload_length, <=, cap);
      g_assert_cmpuint (frame->payload_offset + frame->payload_length, ==, frame->consumed);
      g_assert_cmpuint (frame->consumed, <=, length);
      g_assert_cmpint (data[frame->payload_offset - 1], ==, '\n');
      break;
    case NIX_EXEC_FRAME_INVALID:
      g_assert_nonnull (error);
      g_assert_true (g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT) ||
                     g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      *error_code = error->code;
      break;
    default:
      g_assert_not_reached ();
    }
  return status;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  guint64 cap;
  const uint8_t *out;
  gsize out_length;
  NixExecFrame frame = { 0, };
  NixExecFrameStatus status = NIX_EXEC_FRAME_INCOMPLETE;
  gint error_code = -1;
  gsize n;

  if (size < 1)
    return 0;
  cap = caps[data[0] & 7];
  /* A private copy, so that ASan sees any read beyond what was written. */
  out = g_memdup2 (data + 1, size - 1);
  out_length = size - 1;

  for (n = 0; n <= out_length; n++)
    {
      status = parse (out, n, cap, &frame, &error_code);
      if (status != NIX_EXEC_FRAME_INCOMPLETE)
        break;
    }

  /* What follows in the buffer changes nothing: checked for the next few
   * bytes and for the whole buffer, which keeps a long input cheap. */
  for (gsize more = n + 1; more <= out_length && status != NIX_EXEC_FRAME_INCOMPLETE; more++)
    {
      NixExecFrame again = { 0, };
      gint again_code = -1;

      if (more > n + 32 && more < out_length)
        more = out_length;
      g_assert_cmpint (parse (out, more, cap, &again, &again_code), ==, status);
      g_assert_cmpint (again_code, ==, error_code);
      if (status == NIX_EXEC_FRAME_COMPLETE)
        {
          g_assert_cmpuint (again.payload_offset, ==, frame.payload_offset);
          g_assert_cmpuint (again.payload_length, ==, frame.payload_length);
          g_assert_cmpuint (again.consumed, ==, frame.consumed);
        }
    }

  if (status == NIX_EXEC_FRAME_COMPLETE)
    {
      g_autoptr(NixExecChildResult) child = g_new0 (NixExecChildResult, 1);
      g_autoptr(NixExecOutcome) outcome = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_cmpuint (frame.consumed, ==, n);
      child->framed = TRUE;
      child->stdout_bytes = g_bytes_new (out + frame.payload_offset, frame.payload_length);
      child->stderr_bytes = g_bytes_new (NULL, 0);
      outcome = nix_exec_outcome_decode ("fuzz-stage", child, FALSE, &error);
      if (outcome == NULL)
        g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
      else
        g_assert_true (outcome->kind == NIX_EXEC_OUTCOME_VALUE ||
                       outcome->kind == NIX_EXEC_OUTCOME_REPORT);
    }

  g_free ((gpointer) out);
  return 0;
}
