/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store loader, through NixExecFileStore's public API only: the input
 * is written to a store.json, which is loaded; every stage it lists can be
 * looked up by its id, the list model agrees with the list, and a reload of
 * the same file gives the same stages.
 *
 * Input: the file's bytes.
 *
 * The store reads its file with json-glib 1.6, which takes several
 * top-level values one after the other, keeps the first and leaks the
 * others: `{"stages": []} {"stages": [...]}` loads as an empty store (see
 * README.md here). Such inputs are skipped, or that leak would hide every
 * other finding.
 */
#include "fuzz-util.h"
#include "nixexec-glib.h"

static gboolean
is_space (guint8 c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The value of the four hex digits at @data, or -1. */
static gint32
hex4 (const uint8_t *data,
      size_t         size)
{
  gint32 value = 0;

  if (size < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      if (!g_ascii_isxdigit (data[i]))
        return -1;
      value = value * 16 + g_ascii_xdigit_value (data[i]);
    }
  return value;
}

/* How many bytes after the backslash at @data json-glib and JSON agree the
 * escape takes, or 0 when they may not: json-glib's scanner reads the byte
 * after a \u that is not followed by four hex digits, and the two after a
 * surrogate that is not the first of a pair, so it can end a string
 * elsewhere. */
static gsize
escape_length (const uint8_t *data,
               size_t         size)
{
  gint32 unit, low;

  if (size < 2)
    return 0;
  if (data[1] != 'u')
    return 1;
  unit = hex4 (data + 2, size - 2);
  if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
    return 0;
  if (unit < 0xD800 || unit > 0xDBFF)
    return 5;
  if (size < 12 || data[6] != '\\' || data[7] != 'u')
    return 0;
  low = hex4 (data + 8, size - 8);
  return low >= 0xDC00 && low <= 0xDFFF ? 11 : 0;
}

/* Whether json-glib could read more than one top-level value in @data.
 * Conservative: a single quote, a slash or a '#' outside double-quoted
 * strings (json-glib's other strings and its comments) answer yes, and so
 * do escapes json-glib may read differently, anything but white space
 * after the first top-level array or object closes, and a bracket anywhere
 * after a top-level scalar. */
static gboolean
may_hold_several_values (const uint8_t *data,
                         size_t         size)
{
  gboolean in_string = FALSE;
  gboolean started = FALSE;
  gboolean scalar_first = FALSE;
  gboolean closed = FALSE;
  gint64 depth = 0;

  for (gsize i = 0; i < size; i++)
    {
      guint8 c = data[i];

      if (in_string)
        {
          if (c == '\\')
            {
              gsize length = escape_length (data + i, size - i);

              if (length == 0)
                return TRUE;
              i += length;
            }
          else if (c == '"')
            {
              in_string = FALSE;
            }
          continue;
        }
      if (c == '\'' || c == '/' || c == '#')
        return TRUE;
      if (!started)
        {
          if (is_space (c))
            continue;
          started = TRUE;
          scalar_first = c != '[' && c != '{';
        }
      if (closed && !is_space (c))
        return TRUE;
      if (scalar_first && (c == '[' || c == '{'))
        return TRUE;
      if (c == '"')
        in_string = TRUE;
      else if (!scalar_first && (c == '[' || c == '{'))
        depth++;
      else if (!scalar_first && (c == ']' || c == '}') && --depth == 0)
        closed = TRUE;
    }
  return FALSE;
}

static void
check_stages (NixExecFileStore *store,
              GPtrArray        *stages)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, stages->len);
  for (guint i = 0; i < stages->len; i++)
    {
      NixExecStage *stage = g_ptr_array_index (stages, i);
      g_autoptr(NixExecStage) found = NULL;
      g_autoptr(NixExecStage) item = NULL;
      g_autofree char *effects = NULL;
      const char *id = nix_exec_stage_get_id (stage);

      g_assert_nonnull (id);
      g_assert_cmpstr (id, !=, "");
      g_assert_true (g_hash_table_add (ids, (gpointer) id));
      g_assert_nonnull (nix_exec_stage_get_code (stage));
      g_assert_nonnull (nix_exec_stage_get_language (stage));
      g_assert_nonnull (nix_exec_stage_get_effects (stage));
      effects = nix_exec_effect_set_to_string (nix_exec_stage_get_effects (stage));
      g_assert_nonnull (effects);

      found = nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), id);
      g_assert_nonnull (found);
      g_assert_cmpstr (nix_exec_stage_get_id (found), ==, id);

      item = g_list_model_get_item (G_LIST_MODEL (store), i);
      g_assert_nonnull (item);
      g_assert_cmpstr (nix_exec_stage_get_id (item), ==, id);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *path = nix_exec_fuzz_path ("store.json");
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(GPtrArray) stages = NULL;
  g_autoptr(GPtrArray) reloaded = NULL;
  g_autoptr(GError) error = NULL;

  if (may_hold_several_values (data, size))
    return 0;
  nix_exec_fuzz_write (path, data, size);

  store = nix_exec_file_store_new (path, &error);
  if (store == NULL)
    {
      /* Not checked to be UTF-8: the store passes on json-glib's message,
       * which quotes what it did not expect as it is (README.md here). */
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE);
      return 0;
    }
  g_assert_no_error (error);

  stages = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (store));
  g_assert_nonnull (stages);
  check_stages (store, stages);
  g_assert_null (nix_exec_stage_store_lookup (NIX_EXEC_STAGE_STORE (store), "no such stage \x01"));

  g_assert_true (nix_exec_file_store_reload (store, &error));
  g_assert_no_error (error);
  reloaded = nix_exec_stage_store_list_stages (NIX_EXEC_STAGE_STORE (store));
  g_assert_cmpuint (reloaded->len, ==, stages->len);
  for (guint i = 0; i < stages->len; i++)
    g_assert_cmpstr (nix_exec_stage_get_id (g_ptr_array_index (reloaded, i)), ==,
                     nix_exec_stage_get_id (g_ptr_array_index (stages, i)));
  check_stages (store, reloaded);
  return 0;
}
