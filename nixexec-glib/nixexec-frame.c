/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading the warm-worker protocol's frames (docs/protocol.md): the length
 * of the payload in bytes, in ASCII decimal (at most
 * NIX_EXEC_FRAME_HEADER_MAX digits), a '\n', then the payload.
 *
 * A pure function of the bytes read so far, so that the worker
 * (nixexec-worker.c) can call it after every read, and the tests and the
 * fuzzer (tests/fuzz/) without a process. It says as early as it can that a
 * buffer will never become a frame: at the first byte that is not a digit,
 * and at a header announcing more than the caller's cap, before the payload
 * is read.
 */
#include "config.h"

#include "nixexec-error.h"
#include "nixexec-frame-private.h"

GError *
nix_exec_frame_invalid_error_new (const guint8 *data,
                                  gsize         length)
{
  g_autofree char *shown = g_utf8_make_valid ((const char *) data, MIN (length, 80));

  return g_error_new (NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT,
                      "The worker wrote something that is not a response frame "
                      "(it began: “%s”)", shown);
}

NixExecFrameStatus
nix_exec_frame_parse (const guint8  *data,
                      gsize          length,
                      guint64        max_payload,
                      NixExecFrame  *frame,
                      GError       **error)
{
  gsize digits = 0;
  guint64 payload_length = 0;

  g_assert (data != NULL || length == 0);
  g_assert (frame != NULL);

  while (digits < length && digits < NIX_EXEC_FRAME_HEADER_MAX && data[digits] != '\n')
    {
      if (!g_ascii_isdigit (data[digits]))
        goto invalid;
      digits++;
    }
  if (digits == length)
    return NIX_EXEC_FRAME_INCOMPLETE;
  if (data[digits] != '\n' || digits == 0)
    goto invalid;

  for (gsize i = 0; i < digits; i++)
    {
      if (payload_length > (G_MAXUINT64 - 9) / 10)
        goto invalid;
      payload_length = payload_length * 10 + (data[i] - '0');
    }
  if (payload_length > max_payload)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE,
                   "The output went over the limit of %" G_GUINT64_FORMAT " bytes", max_payload);
      return NIX_EXEC_FRAME_INVALID;
    }

  /* Compared this way round, a length near G_MAXUINT64 cannot wrap. */
  if (payload_length > length - (digits + 1))
    return NIX_EXEC_FRAME_INCOMPLETE;

  frame->payload_offset = digits + 1;
  frame->payload_length = payload_length;
  frame->consumed = digits + 1 + payload_length;
  return NIX_EXEC_FRAME_COMPLETE;

invalid:
  g_propagate_error (error, nix_exec_frame_invalid_error_new (data, length));
  return NIX_EXEC_FRAME_INVALID;
}
