/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The frames of the warm-worker protocol, "<length>\n<payload>"
 * (docs/protocol.md), read out of a buffer. See nixexec-frame.c.
 */

/* The most digits a frame's length may have (leading zeros included). */
#define NIX_EXEC_FRAME_HEADER_MAX 24

typedef enum {
  NIX_EXEC_FRAME_INCOMPLETE, /* a frame's beginning: read more */
  NIX_EXEC_FRAME_COMPLETE,   /* the frame is set */
  NIX_EXEC_FRAME_INVALID,    /* the error is set */
} NixExecFrameStatus;

typedef struct
{
  gsize payload_offset;  /* where the payload begins in the buffer */
  gsize payload_length;
  gsize consumed;        /* header and payload; what follows is not the frame's */
} NixExecFrame;

/*
 * Reads the frame at the start of @data. NIX_EXEC_FRAME_INVALID with
 * NIX_EXEC_ERROR_INVALID_OUTPUT when @data does not begin as a frame does,
 * or with NIX_EXEC_ERROR_OUTPUT_TOO_LARGE as soon as the header says the
 * payload is longer than @max_payload bytes. Reads nothing beyond
 * @data + @length, and keeps no pointer into it.
 */
NixExecFrameStatus nix_exec_frame_parse     (const guint8  *data,
                                             gsize          length,
                                             guint64        max_payload,
                                             NixExecFrame  *frame,
                                             GError       **error);

/* The NIX_EXEC_ERROR_INVALID_OUTPUT error for @data, which is not a frame
 * (or holds more than the one expected); it shows how @data begins. */
GError            *nix_exec_frame_invalid_error_new (const guint8 *data,
                                                     gsize         length);

G_END_DECLS
