/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What nix answers (nixexec-nix.c): the JSON of `nix flake metadata` and
 * `nix build --json`, and the stderr of a failed nix, classified.
 *
 * Input: byte 0 picks the reader (MODE_*, modulo 3) and, for a failure,
 * byte 1 is nix's exit status; the rest is what nix printed.
 */
#include <string.h>

#include "fuzz-util.h"
#include "nixexec-error.h"
#include "nixexec-nix-private.h"

enum {
  MODE_METADATA,
  MODE_BUILD,
  MODE_FAILURE,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *printed = NULL;
  gsize length;
  int mode;

  if (size < 2)
    return 0;
  mode = data[0] % 3;
  length = size - 2;
  /* A private copy of exactly what nix printed, so that ASan sees any read
   * beyond its end. */
  printed = g_memdup2 (data + 2, length);

  switch (mode)
    {
    case MODE_METADATA:
    case MODE_BUILD:
      answer = mode == MODE_METADATA ? nix_exec_nix_parse_metadata_output (printed, length, &error)
                                     : nix_exec_nix_parse_build_output (printed, length, &error);
      if (answer == NULL)
        {
          g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_NIX_EVAL_FAILED);
          g_assert_true (g_utf8_validate (error->message, -1, NULL));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpstr (answer, !=, "");
          g_assert_true (g_utf8_validate (answer, -1, NULL));
          if (mode == MODE_BUILD)
            g_assert_true (answer[0] == '/');
        }
      break;

    case MODE_FAILURE:
      /* A C string: what nix printed, up to its first NUL. */
      g_free (printed);
      printed = g_strndup ((const char *) data + 2, length);
      error = nix_exec_nix_classify_failure ("path:/fuzz#python3", printed, data[1]);
      g_assert_nonnull (error);
      g_assert_true (error->domain == NIX_EXEC_ERROR);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, "path:/fuzz#python3"));
      break;

    default:
      g_assert_not_reached ();
    }
  return 0;
}
