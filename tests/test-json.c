/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON boundary (nixexec-json.c): RFC 8259 only, bounded, and never a
 * value turned into another.
 */
#include <math.h>
#include <string.h>

#include "nixexec-json-private.h"
#include "nixexec-test-util.h"

static char *
read_write (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = nix_exec_json_read (text, strlen (text), &error);
  char *written;

  g_assert_no_error (error);
  g_assert_nonnull (node);
  written = nix_exec_json_write (node, FALSE, &error);
  g_assert_no_error (error);
  return written;
}

static void
assert_refused (const char *text,
                gsize       length,
                const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = nix_exec_json_read (text, length, &error);

  if (node != NULL)
    g_error ("“%.*s” was accepted", (int) MIN (length, 60), text);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("The refusal of “%.*s” says “%s”, not “%s”", (int) MIN (length, 60), text,
             error->message, fragment);
  g_assert_nonnull (strstr (error->message, "line "));
}

static void
test_valid (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "null", "null" },
    { " true ", "true" },
    { "false", "false" },
    { "0", "0" },
    { "-0", "0" },
    { "9223372036854775807", "9223372036854775807" },
    { "-9223372036854775808", "-9223372036854775808" },
    { "1.5", "1.5" },
    { "1e21", "1e+21" },
    { "1E-3", "0.001" },
    { "0.1", "0.1" },
    { "2.0", "2.0" },
    { "1e-400", "0.0" },
    { "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"" },
    { "\"\\u00e9\\ud83d\\ude00\"", "\"é😀\"" },
    { "\"é\"", "\"é\"" },
    { "[]", "[]" },
    { "{}", "{}" },
    { "[1,[2,{\"a\":[]}]]", "[1,[2,{\"a\":[]}]]" },
    { "{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}" },
    { "\t\r\n[ 1 , 2 ]\n", "[1,2]" },
  };

  g_test_summary ("RFC 8259 texts read and write back as the same values; doubles keep "
                  "a point or an exponent and read back exactly");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *written = read_write (cases[i].in);

      g_assert_cmpstr (written, ==, cases[i].out);
    }
}

static void
test_not_json (void)
{
  static const struct { const char *text; const char *fragment; } cases[] = {
    { "", "Expected a JSON value" },
    { "   ", "Expected a JSON value" },
    { "'a'", "Expected a JSON value" },
    { "0x10", "Text after the JSON value" },
    { "01", "leading zero" },
    { ".5", "Expected a JSON value" },
    { "1.", "after the decimal point" },
    { "1e", "in the exponent" },
    { "-", "a digit" },
    { "+1", "Expected a JSON value" },
    { "\xef\xbb\xbf" "1", "U+FEFF" },
    { "\"a\x01\"", "raw control character" },
    { "\"a\tb\"", "raw control character" },
    { "\"\\x41\"", "unknown escape" },
    { "\"\\u12\"", "hexadecimal" },
    { "\"abc", "never closed" },
    { "\"\xff\"", "UTF-8" },
    { "\xff", "0xff" },
    { "[1,]", "Expected a JSON value" },
    { "[1 2]", "“,” or “]”" },
    { "{\"a\" 1}", "“:”" },
    { "{a:1}", "member name" },
    { "{\"a\":1,}", "member name" },
    { "{} {}", "Text after the JSON value" },
    { "1 2", "Text after the JSON value" },
    { "nul", "Expected a JSON value" },
    { "NaN", "Expected a JSON value" },
    { "Infinity", "Expected a JSON value" },
  };

  g_test_summary ("What RFC 8259 does not allow is refused, saying what and where");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_refused (cases[i].text, strlen (cases[i].text), cases[i].fragment);
}

static void
test_no_silent_change (void)
{
  g_test_summary ("No value is turned into another: big integers, huge numbers, U+0000, "
                  "lone surrogates and duplicate keys are refused");

  assert_refused ("18446744073709551616", 20, "outside the 64-bit range");
  assert_refused ("12345678901234567890", 20, "outside the 64-bit range");
  assert_refused ("-9223372036854775809", 20, "outside the 64-bit range");
  assert_refused ("1e400", 5, "too large for a double");
  assert_refused ("-1e400", 6, "too large for a double");
  assert_refused ("\"a\\u0000b\"", 10, "U+0000");
  assert_refused ("\"\\ud800\"", 8, "surrogate");
  assert_refused ("\"\\udc00\"", 8, "surrogate");
  assert_refused ("\"\\ud800\\u0041\"", 14, "surrogate");
  assert_refused ("{\"a\":1,\"a\":2}", 13, "appears twice");
  /* A NUL byte in the text itself ends nothing: it is refused. */
  assert_refused ("[1]\0[2]", 7, "Text after");
  assert_refused ("\"a\0b\"", 5, "raw control character");
}

static void
test_depth (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GString) limit = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) built = NULL;
  JsonNode *inner;

  g_test_summary ("Nesting is bounded: 512 levels are read, 513 and 100,000 are refused "
                  "without recursing; a node built deeper is refused by the check");

  for (guint i = 0; i < NIX_EXEC_JSON_MAX_DEPTH; i++)
    g_string_append_c (limit, '[');
  for (guint i = 0; i < NIX_EXEC_JSON_MAX_DEPTH; i++)
    g_string_append_c (limit, ']');
  node = nix_exec_json_read (limit->str, limit->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (nix_exec_json_check (node, &error));

  g_string_prepend_c (limit, '[');
  g_string_append_c (limit, ']');
  assert_refused (limit->str, limit->len, "deeper than 512");

  for (guint i = 0; i < 100000; i++)
    g_string_append (deep, "[{\"a\":");
  assert_refused (deep->str, deep->len, "deeper than 512");

  /* Built through the API, 600 levels. */
  built = json_node_init_array (json_node_alloc (), json_array_new ());
  inner = built;
  for (guint i = 0; i < 600; i++)
    {
      JsonNode *child = json_node_init_array (json_node_alloc (), json_array_new ());

      json_array_add_element (json_node_get_array (inner), child);
      inner = child;
    }
  g_assert_false (nix_exec_json_check (built, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (nix_exec_json_write (built, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_write_checks (void)
{
  g_autoptr(JsonNode) infinite = json_node_init_double (json_node_alloc (), INFINITY);
  g_autoptr(JsonNode) nan = json_node_init_double (json_node_alloc (), NAN);
  g_autoptr(JsonNode) bad_utf8 = json_node_init_string (json_node_alloc (), "a\xff");
  g_autoptr(JsonNode) object = json_node_init_object (json_node_alloc (), json_object_new ());
  g_autoptr(GError) error = NULL;
  g_autofree char *pretty = NULL;
  g_autofree char *controls = NULL;
  g_autoptr(JsonNode) control_string = json_node_init_string (json_node_alloc (), "\x01\x7f");

  g_test_summary ("The writer refuses what JSON cannot hold, escapes control characters "
                  "and indents by two spaces");

  g_assert_null (nix_exec_json_write (infinite, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (nix_exec_json_write (nan, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (nix_exec_json_write (bad_utf8, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  controls = nix_exec_json_write (control_string, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (controls, ==, "\"\\u0001\\u007f\"");

  json_object_set_int_member (json_node_get_object (object), "a", 1);
  json_object_set_array_member (json_node_get_object (object), "b", json_array_new ());
  pretty = nix_exec_json_write (object, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pretty, ==, "{\n  \"a\": 1,\n  \"b\": []\n}");

  g_free (nix_exec_json_write (NULL, FALSE, &error));
  g_assert_no_error (error);
}

static void
test_doubles_round_trip (void)
{
  static const double values[] = { 0.1, 1.0 / 3, 1e21, 1e-7, 123456789.125, 2.5e-308, 1.7976931348623157e308, -0.5 };

  g_test_summary ("Every double written reads back as the same double");

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(JsonNode) node = json_node_init_double (json_node_alloc (), values[i]);
      g_autoptr(GError) error = NULL;
      g_autofree char *text = nix_exec_json_write (node, FALSE, &error);
      g_autoptr(JsonNode) back = NULL;

      g_assert_no_error (error);
      back = nix_exec_json_read (text, strlen (text), &error);
      g_assert_no_error (error);
      g_assert_cmpint (json_node_get_value_type (back), ==, G_TYPE_DOUBLE);
      g_assert_cmpfloat (json_node_get_double (back), ==, values[i]);
    }
}

static void
test_escape_messages (void)
{
  static const struct { const char *text; const char *fragment; } cases[] = {
    { "\"\\x41\"", "a backslash before “x”" },
    { "\"\\\xe1\"", "a backslash before the byte 0xe1" },
    { "\"\\\xc3\xa9\"", "a backslash before “\xc3\xa9”" },
    { "\"\\\x01\"", "a backslash before the character U+0001" },
  };

  g_test_summary ("An unknown escape is named in valid UTF-8, whatever byte follows the "
                  "backslash (found by tests/fuzz).");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = nix_exec_json_read (cases[i].text, strlen (cases[i].text), &error);

      g_assert_null (node);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, cases[i].fragment));
    }
}

static void
test_null_text (void)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  gsize length = 1;

  g_test_summary ("NULL with length 0, as an empty GBytes gives, is the empty text: refused, "
                  "without computing NULL + 0 (found by tests/fuzz, clang's UBSan).");

  g_assert_null (g_bytes_get_data (empty, &length));
  g_assert_cmpuint (length, ==, 0);
  node = nix_exec_json_read (g_bytes_get_data (empty, NULL), length, &error);
  g_assert_null (node);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "Expected a JSON value, found the end of the text"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/nixexec/json/valid", test_valid);
  g_test_add_func ("/nixexec/json/not-json", test_not_json);
  g_test_add_func ("/nixexec/json/no-silent-change", test_no_silent_change);
  g_test_add_func ("/nixexec/json/depth", test_depth);
  g_test_add_func ("/nixexec/json/write-checks", test_write_checks);
  g_test_add_func ("/nixexec/json/doubles-round-trip", test_doubles_round_trip);
  g_test_add_func ("/nixexec/json/null-text", test_null_text);
  g_test_add_func ("/nixexec/json/escape-messages", test_escape_messages);

  return g_test_run ();
}
