/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The warm-worker frame reader (nixexec-frame.c), on buffers: what is a
 * frame, what may still become one, and what never will.
 */
#include <string.h>

#include "nixexec-error.h"
#include "nixexec-frame-private.h"
#include "nixexec-test-util.h"

#define CAP 1024

static NixExecFrameStatus
parse (const char    *text,
       guint64        cap,
       NixExecFrame  *frame,
       GError       **error)
{
  return nix_exec_frame_parse ((const guint8 *) text, strlen (text), cap, frame, error);
}

static void
assert_complete (const char *text,
                 const char *payload,
                 gsize       consumed)
{
  g_autoptr(GError) error = NULL;
  NixExecFrame frame = { 0, };

  g_assert_cmpint (parse (text, CAP, &frame, &error), ==, NIX_EXEC_FRAME_COMPLETE);
  g_assert_no_error (error);
  g_assert_cmpuint (frame.payload_length, ==, strlen (payload));
  g_assert_cmpmem (text + frame.payload_offset, frame.payload_length, payload, strlen (payload));
  g_assert_cmpuint (frame.consumed, ==, consumed);
}

static void
assert_incomplete (const char *text,
                   guint64     cap)
{
  g_autoptr(GError) error = NULL;
  NixExecFrame frame = { 0, };

  g_assert_cmpint (parse (text, cap, &frame, &error), ==, NIX_EXEC_FRAME_INCOMPLETE);
  g_assert_no_error (error);
}

static void
assert_invalid (const char *text,
                gint        code)
{
  g_autoptr(GError) error = NULL;
  NixExecFrame frame = { 0, };

  g_assert_cmpint (parse (text, CAP, &frame, &error), ==, NIX_EXEC_FRAME_INVALID);
  g_assert_error (error, NIX_EXEC_ERROR, code);
}

static void
test_complete (void)
{
  g_test_summary ("A length, a newline and that many bytes are a frame; bytes after it are "
                  "not consumed.");

  assert_complete ("2\nok", "ok", 4);
  assert_complete ("0\n", "", 2);
  assert_complete ("10\n{\"ok\": 42}", "{\"ok\": 42}", 13);
  assert_complete ("005\nhello", "hello", 9);
  assert_complete ("3\na\nb", "a\nb", 5);
  assert_complete ("2\nokEXTRA", "ok", 4);
  assert_complete ("1\n\n1\n", "\n", 3);
  /* As many digits as a header may have. */
  assert_complete ("000000000000000000000002\nok", "ok", 27);
}

static void
test_incomplete (void)
{
  g_test_summary ("Every beginning of a frame asks for more, including a header that "
                  "announces the cap exactly.");

  assert_incomplete ("", CAP);
  assert_incomplete ("1", CAP);
  assert_incomplete ("12", CAP);
  assert_incomplete ("2\n", CAP);
  assert_incomplete ("2\no", CAP);
  assert_incomplete ("1024\n", CAP);
  assert_incomplete ("000000000000000000000002", CAP);

  /* Every prefix of a frame. */
  {
    const char *text = "10\n0123456789";

    for (gsize n = 0; n < strlen (text); n++)
      {
        g_autoptr(GError) error = NULL;
        NixExecFrame frame = { 0, };

        g_assert_cmpint (nix_exec_frame_parse ((const guint8 *) text, n, CAP, &frame, &error), ==,
                         NIX_EXEC_FRAME_INCOMPLETE);
        g_assert_no_error (error);
      }
  }
}

static void
test_invalid (void)
{
  g_test_summary ("What can never become a frame is refused at once, whatever follows.");

  assert_invalid ("\n", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("\nok", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("x", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("1x", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("-1\n", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("+1\n", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid (" 1\n", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("1 \n", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("1\r\nx", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("{\"ok\": 1}", NIX_EXEC_ERROR_INVALID_OUTPUT);
  /* One digit more than a header may have, with or without its newline. */
  assert_invalid ("0000000000000000000000002", NIX_EXEC_ERROR_INVALID_OUTPUT);
  assert_invalid ("0000000000000000000000002\nok", NIX_EXEC_ERROR_INVALID_OUTPUT);
  /* A length beyond 64 bits. */
  assert_invalid ("99999999999999999999\n", NIX_EXEC_ERROR_INVALID_OUTPUT);
}

static void
test_too_large (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) full = g_string_new (NULL);
  NixExecFrame frame = { 0, };

  g_test_summary ("A header that announces more than the cap is refused before the payload "
                  "arrives; the cap itself is allowed.");

  assert_invalid ("1025\n", NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
  assert_invalid ("00001025\nabc", NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
  /* Not yet a header: it may still be "1025" or more, or become invalid. */
  assert_incomplete ("1025", CAP);

  g_string_printf (full, "%d\n", CAP);
  for (guint i = 0; i < CAP; i++)
    g_string_append_c (full, 'x');
  g_assert_cmpint (nix_exec_frame_parse ((const guint8 *) full->str, full->len, CAP, &frame,
                                         &error), ==, NIX_EXEC_FRAME_COMPLETE);
  g_assert_no_error (error);
  g_assert_cmpuint (frame.payload_length, ==, CAP);
  g_assert_cmpuint (frame.consumed, ==, full->len);

  /* A cap of 0 allows the empty payload only. */
  g_assert_cmpint (parse ("0\n", 0, &frame, &error), ==, NIX_EXEC_FRAME_COMPLETE);
  g_assert_no_error (error);
  g_assert_cmpint (parse ("1\n", 0, &frame, &error), ==, NIX_EXEC_FRAME_INVALID);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_OUTPUT_TOO_LARGE);
}

static void
test_large_cap (void)
{
  g_test_summary ("With a cap near G_MAXUINT64, a huge length asks for more instead of "
                  "wrapping around.");

  assert_incomplete ("18446744073709551600\nabc", G_MAXUINT64);
  assert_incomplete ("1844674407370955160\nabc", G_MAXUINT64);
}

static void
test_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *long_text = g_strnfill (200, 'y');
  static const guint8 binary[] = { 'x', 0xFF, 0x00, 'z' };
  NixExecFrame frame = { 0, };

  g_test_summary ("The refusal shows how the output began, at most 80 bytes of it, as valid "
                  "UTF-8.");

  g_assert_cmpint (parse (long_text, CAP, &frame, &error), ==, NIX_EXEC_FRAME_INVALID);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
  g_assert_nonnull (strstr (error->message, "not a response frame"));
  g_assert_nonnull (strstr (error->message, long_text + 120));
  g_assert_null (strstr (error->message, long_text + 119));
  g_clear_error (&error);

  g_assert_cmpint (nix_exec_frame_parse (binary, sizeof binary, CAP, &frame, &error), ==,
                   NIX_EXEC_FRAME_INVALID);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_OUTPUT);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, "x\xEF\xBF\xBD"));
  g_clear_error (&error);

  g_assert_cmpint (parse ("1025\n", CAP, &frame, &error), ==, NIX_EXEC_FRAME_INVALID);
  g_assert_cmpstr (error->message, ==, "The output went over the limit of 1024 bytes");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/nixexec/frame/complete", test_complete);
  g_test_add_func ("/nixexec/frame/incomplete", test_incomplete);
  g_test_add_func ("/nixexec/frame/invalid", test_invalid);
  g_test_add_func ("/nixexec/frame/too-large", test_too_large);
  g_test_add_func ("/nixexec/frame/large-cap", test_large_cap);
  g_test_add_func ("/nixexec/frame/message", test_message);

  return g_test_run ();
}
