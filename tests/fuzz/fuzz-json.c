/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one JSON reader and writer (nixexec-json.c): nix_exec_json_read() on
 * any bytes; whatever it accepts, nix_exec_json_write() writes, compact and
 * indented, and the reader reads that back to an equal node, which writes
 * the same text again.
 *
 * Input: the text.
 */
#include <string.h>

#include "fuzz-util.h"
#include "nixexec-json-private.h"

/* Writes @node, reads it back, and checks that nothing changed. */
static void
round_trip (JsonNode *node,
            gboolean  pretty)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) back = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  text = nix_exec_json_write (node, pretty, &error);
  g_assert_no_error (error);
  g_assert_nonnull (text);
  g_assert_true (g_utf8_validate (text, -1, NULL));

  back = nix_exec_json_read (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_true (json_node_equal (node, back));

  text_again = nix_exec_json_write (back, pretty, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text_again, ==, text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* A private copy, so that ASan sees any read beyond the end. */
  g_autofree char *text = g_memdup2 (data, size);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  node = nix_exec_json_read (text, size, &error);
  if (node == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  g_assert_no_error (error);
  g_assert_true (nix_exec_json_check (node, NULL));

  round_trip (node, FALSE);
  round_trip (node, TRUE);
  return 0;
}
