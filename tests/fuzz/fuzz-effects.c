/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Effects strings: nix_exec_effect_set_new_from_string() on any text, and
 * for every set it accepts, the round trips to_string → new_from_string
 * and to_json → new_from_json give an equal set, and writing that set again
 * gives the same text (the order is kept).
 *
 * Input: the text (cut at its first NUL, as a C string is).
 */
#include "fuzz-util.h"
#include "nixexec-glib.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(NixExecEffectSet) set = NULL;
  g_autoptr(NixExecEffectSet) back = NULL;
  g_autoptr(NixExecEffectSet) from_json = NULL;
  g_autoptr(NixExecEffectSet) copy = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *written = NULL;
  g_autofree char *written_again = NULL;

  set = nix_exec_effect_set_new_from_string (text, &error);
  if (set == NULL)
    {
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  g_assert_no_error (error);

  written = nix_exec_effect_set_to_string (set);
  g_assert_nonnull (written);
  back = nix_exec_effect_set_new_from_string (written, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_true (nix_exec_effect_set_equal (set, back));
  g_assert_true (nix_exec_effect_set_equal (back, set));
  written_again = nix_exec_effect_set_to_string (back);
  g_assert_cmpstr (written_again, ==, written);

  node = nix_exec_effect_set_to_json (set);
  from_json = nix_exec_effect_set_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_true (nix_exec_effect_set_equal (set, from_json));

  copy = nix_exec_effect_set_copy (set);
  g_assert_true (nix_exec_effect_set_equal (set, copy));
  g_assert_cmpint (nix_exec_effect_set_is_pure (copy), ==, nix_exec_effect_set_is_pure (set));
  g_assert_cmpuint (nix_exec_effect_set_get_cost_cents (copy), ==,
                    nix_exec_effect_set_get_cost_cents (set));
  g_assert_cmpuint (g_strv_length ((char **) nix_exec_effect_set_get_read_paths (set)), ==,
                    g_strv_length ((char **) nix_exec_effect_set_get_read_paths (back)));
  g_assert_cmpuint (g_strv_length ((char **) nix_exec_effect_set_get_write_paths (set)), ==,
                    g_strv_length ((char **) nix_exec_effect_set_get_write_paths (back)));
  g_assert_cmpuint (g_strv_length ((char **) nix_exec_effect_set_get_llm_models (set)), ==,
                    g_strv_length ((char **) nix_exec_effect_set_get_llm_models (back)));
  return 0;
}
