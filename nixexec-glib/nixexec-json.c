/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one JSON boundary.
 *
 * json-glib 1.6's parser is not fit for text from untrusted programs: it
 * recurses without a bound (a stage printing 100,000 '[' overflows the
 * host's stack), wraps integers beyond 64 bits, turns 1e400 into infinity,
 * cuts strings at \u0000, takes "{} {}" for one document and accepts texts
 * that are not JSON at all. Its generator writes 1e21 as "1e+21.0". So
 * every JSON text that crosses into the library — stage results and
 * reports, worker frames, store files, effects strings, lock files, nix's
 * answers, the command line's input — is read by nix_exec_json_read(), and
 * what the library and its command line write comes from
 * nix_exec_json_write().
 *
 * The reader is a recursive-descent parser of RFC 8259 that builds json-glib
 * nodes, with its recursion bounded by NIX_EXEC_JSON_MAX_DEPTH (512, well
 * within any thread's stack). What it refuses, it refuses with the line and
 * column, and never by turning a value into another: integers must fit a
 * gint64 (they stay integers), other numbers a finite double; strings are
 * valid UTF-8 without U+0000 (a C string could not hold it); keys are unique
 * in their object (the last of two would silently win).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <gio/gio.h>

#include "nixexec-json-private.h"

typedef struct
{
  const char *text;
  const char *end;
  const char *p;
  GError    **error;
} Reader;

/* Fails the read at @at with a message; always FALSE. */
static gboolean G_GNUC_PRINTF (3, 4)
fail (Reader     *reader,
      const char *at,
      const char *format,
      ...)
{
  g_autofree char *what = NULL;
  guint line = 1, column = 1;
  va_list args;

  for (const char *q = reader->text; q < at; q++)
    {
      if (*q == '\n')
        {
          line++;
          column = 1;
        }
      else if (((guchar) *q & 0xC0) != 0x80)
        {
          column++;
        }
    }

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (reader->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s at line %u, column %u", what, line, column);
  return FALSE;
}

static void
skip_space (Reader *reader)
{
  while (reader->p < reader->end &&
         (*reader->p == ' ' || *reader->p == '\t' || *reader->p == '\n' || *reader->p == '\r'))
    reader->p++;
}

/* What is at @at, for a message: a character, or the end. */
static char *
describe (Reader     *reader,
          const char *at)
{
  gunichar c;

  if (at >= reader->end)
    return g_strdup ("the end of the text");
  c = g_utf8_get_char_validated (at, reader->end - at);
  if (c == (gunichar) -1 || c == (gunichar) -2)
    return g_strdup_printf ("the byte 0x%02x", (guchar) *at);
  if (c < 0x20 || c == 0x7F || c == 0xFEFF)
    return g_strdup_printf ("the character U+%04X", c);
  return g_strdup_printf ("“%.*s”", (int) (g_utf8_next_char (at) - at), at);
}

static gboolean
unexpected (Reader     *reader,
            const char *expected)
{
  g_autofree char *found = describe (reader, reader->p);

  return fail (reader, reader->p, "Expected %s, found %s", expected, found);
}

static gboolean read_value (Reader *reader, guint depth, JsonNode **out);

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Four hex digits after "\u", at reader->p; -1 (failed) when they are not. */
static gint32
read_hex4 (Reader *reader)
{
  gint32 value = 0;

  if (reader->end - reader->p < 4)
    {
      fail (reader, reader->p, "Expected four hexadecimal digits after \\u");
      return -1;
    }
  for (int i = 0; i < 4; i++)
    {
      int digit = hex_digit (reader->p[i]);

      if (digit < 0)
        {
          fail (reader, reader->p + i, "Expected four hexadecimal digits after \\u");
          return -1;
        }
      value = value * 16 + digit;
    }
  reader->p += 4;
  return value;
}

/* A string, reader->p at its opening quote. */
static char *
read_string (Reader *reader)
{
  g_autoptr(GString) out = g_string_new (NULL);
  const char *start = reader->p;

  reader->p++;
  for (;;)
    {
      const char *run = reader->p;
      gunichar c;

      /* Plain characters, copied as a run. */
      while (reader->p < reader->end && *reader->p != '"' && *reader->p != '\\' &&
             (guchar) *reader->p >= 0x20)
        reader->p++;
      if (reader->p > run)
        {
          const char *bad;

          if (!g_utf8_validate_len (run, reader->p - run, &bad))
            {
              fail (reader, bad, "Invalid UTF-8 in a string");
              return NULL;
            }
          g_string_append_len (out, run, reader->p - run);
        }

      if (reader->p >= reader->end)
        {
          fail (reader, start, "A string that is never closed");
          return NULL;
        }
      if (*reader->p == '"')
        {
          reader->p++;
          return g_string_free (g_steal_pointer (&out), FALSE);
        }
      if (*reader->p != '\\')
        {
          fail (reader, reader->p, "A raw control character (U+%04X) in a string; it must be escaped",
                (guchar) *reader->p);
          return NULL;
        }

      /* An escape. */
      reader->p++;
      if (reader->p >= reader->end)
        {
          fail (reader, start, "A string that is never closed");
          return NULL;
        }
      switch (*reader->p++)
        {
        case '"': g_string_append_c (out, '"'); continue;
        case '\\': g_string_append_c (out, '\\'); continue;
        case '/': g_string_append_c (out, '/'); continue;
        case 'b': g_string_append_c (out, '\b'); continue;
        case 'f': g_string_append_c (out, '\f'); continue;
        case 'n': g_string_append_c (out, '\n'); continue;
        case 'r': g_string_append_c (out, '\r'); continue;
        case 't': g_string_append_c (out, '\t'); continue;
        case 'u': break;
        default:
          {
            /* Not the byte itself: it may be a control character or start
             * a UTF-8 sequence, and the message must be valid UTF-8. */
            g_autofree char *found = describe (reader, reader->p - 1);

            fail (reader, reader->p - 2, "An unknown escape in a string: a backslash before %s",
                  found);
            return NULL;
          }
        }

      {
        const char *escape = reader->p - 2;
        gint32 unit = read_hex4 (reader);

        if (unit < 0)
          return NULL;
        c = unit;
        if (unit >= 0xD800 && unit <= 0xDBFF)
          {
            gint32 low = -1;

            if (reader->end - reader->p >= 2 && reader->p[0] == '\\' && reader->p[1] == 'u')
              {
                reader->p += 2;
                low = read_hex4 (reader);
                if (low < 0)
                  return NULL;
              }
            if (low < 0xDC00 || low > 0xDFFF)
              {
                fail (reader, escape, "A lone UTF-16 surrogate (\\u%04X) in a string", unit);
                return NULL;
              }
            c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
          }
        else if (unit >= 0xDC00 && unit <= 0xDFFF)
          {
            fail (reader, escape, "A lone UTF-16 surrogate (\\u%04X) in a string", unit);
            return NULL;
          }
        if (c == 0)
          {
            fail (reader, escape, "A string holds U+0000 (\\u0000), which is not supported");
            return NULL;
          }
        g_string_append_unichar (out, c);
      }
    }
}

static gboolean
is_digit (Reader     *reader,
          const char *at)
{
  return at < reader->end && *at >= '0' && *at <= '9';
}

static gboolean
read_number (Reader    *reader,
             JsonNode **out)
{
  const char *start = reader->p;
  const char *q = reader->p;
  gboolean integer = TRUE;
  g_autofree char *text = NULL;

  if (q < reader->end && *q == '-')
    q++;
  if (!is_digit (reader, q))
    {
      reader->p = q;
      return unexpected (reader, "a digit");
    }
  if (*q == '0')
    {
      q++;
      if (is_digit (reader, q))
        return fail (reader, start, "A number with a leading zero");
    }
  else
    {
      while (is_digit (reader, q))
        q++;
    }
  if (q < reader->end && *q == '.')
    {
      integer = FALSE;
      q++;
      if (!is_digit (reader, q))
        {
          reader->p = q;
          return unexpected (reader, "a digit after the decimal point");
        }
      while (is_digit (reader, q))
        q++;
    }
  if (q < reader->end && (*q == 'e' || *q == 'E'))
    {
      integer = FALSE;
      q++;
      if (q < reader->end && (*q == '+' || *q == '-'))
        q++;
      if (!is_digit (reader, q))
        {
          reader->p = q;
          return unexpected (reader, "a digit in the exponent");
        }
      while (is_digit (reader, q))
        q++;
    }

  text = g_strndup (start, q - start);
  reader->p = q;

  if (integer)
    {
      gint64 value;

      errno = 0;
      value = g_ascii_strtoll (text, NULL, 10);
      if (errno == ERANGE)
        return fail (reader, start, "The integer %s is outside the 64-bit range", text);
      *out = json_node_init_int (json_node_alloc (), value);
    }
  else
    {
      double value;

      errno = 0;
      value = g_ascii_strtod (text, NULL);
      if (!isfinite (value))
        return fail (reader, start, "The number %s is too large for a double", text);
      *out = json_node_init_double (json_node_alloc (), value);
    }
  return TRUE;
}

static gboolean
read_literal (Reader     *reader,
              const char *word,
              JsonNode   *node,
              JsonNode  **out)
{
  gsize length = strlen (word);

  if ((gsize) (reader->end - reader->p) < length || memcmp (reader->p, word, length) != 0)
    {
      json_node_unref (node);
      return unexpected (reader, "a JSON value");
    }
  reader->p += length;
  *out = node;
  return TRUE;
}

static gboolean
read_array (Reader    *reader,
            guint      depth,
            JsonNode **out)
{
  g_autoptr(JsonArray) array = json_array_new ();

  reader->p++;
  skip_space (reader);
  if (reader->p < reader->end && *reader->p == ']')
    {
      reader->p++;
      *out = json_node_init_array (json_node_alloc (), array);
      return TRUE;
    }

  for (;;)
    {
      JsonNode *element = NULL;

      if (!read_value (reader, depth, &element))
        return FALSE;
      json_array_add_element (array, element);
      skip_space (reader);
      if (reader->p < reader->end && *reader->p == ',')
        {
          reader->p++;
          continue;
        }
      if (reader->p < reader->end && *reader->p == ']')
        {
          reader->p++;
          *out = json_node_init_array (json_node_alloc (), array);
          return TRUE;
        }
      return unexpected (reader, "“,” or “]”");
    }
}

static gboolean
read_object (Reader    *reader,
             guint      depth,
             JsonNode **out)
{
  g_autoptr(JsonObject) object = json_object_new ();

  reader->p++;
  skip_space (reader);
  if (reader->p < reader->end && *reader->p == '}')
    {
      reader->p++;
      *out = json_node_init_object (json_node_alloc (), object);
      return TRUE;
    }

  for (;;)
    {
      const char *key_start;
      g_autofree char *key = NULL;
      JsonNode *member = NULL;

      skip_space (reader);
      if (reader->p >= reader->end || *reader->p != '"')
        return unexpected (reader, "a member name in double quotes");
      key_start = reader->p;
      key = read_string (reader);
      if (key == NULL)
        return FALSE;
      if (json_object_has_member (object, key))
        return fail (reader, key_start, "The key “%s” appears twice in one object", key);

      skip_space (reader);
      if (reader->p >= reader->end || *reader->p != ':')
        return unexpected (reader, "“:”");
      reader->p++;
      if (!read_value (reader, depth, &member))
        return FALSE;
      json_object_set_member (object, key, member);

      skip_space (reader);
      if (reader->p < reader->end && *reader->p == ',')
        {
          reader->p++;
          continue;
        }
      if (reader->p < reader->end && *reader->p == '}')
        {
          reader->p++;
          *out = json_node_init_object (json_node_alloc (), object);
          return TRUE;
        }
      return unexpected (reader, "“,” or “}”");
    }
}

static gboolean
read_value (Reader    *reader,
            guint      depth,
            JsonNode **out)
{
  skip_space (reader);
  if (reader->p >= reader->end)
    return unexpected (reader, "a JSON value");

  switch (*reader->p)
    {
    case '[':
    case '{':
      if (depth >= NIX_EXEC_JSON_MAX_DEPTH)
        return fail (reader, reader->p, "Arrays and objects are nested deeper than %d levels",
                     NIX_EXEC_JSON_MAX_DEPTH);
      return *reader->p == '[' ? read_array (reader, depth + 1, out)
                               : read_object (reader, depth + 1, out);

    case '"':
      {
        char *string = read_string (reader);

        if (string == NULL)
          return FALSE;
        *out = json_node_init_string (json_node_alloc (), string);
        g_free (string);
        return TRUE;
      }

    case 't':
      return read_literal (reader, "true", json_node_init_boolean (json_node_alloc (), TRUE), out);
    case 'f':
      return read_literal (reader, "false", json_node_init_boolean (json_node_alloc (), FALSE), out);
    case 'n':
      return read_literal (reader, "null", json_node_init_null (json_node_alloc ()), out);

    default:
      if (*reader->p == '-' || (*reader->p >= '0' && *reader->p <= '9'))
        return read_number (reader, out);
      return unexpected (reader, "a JSON value");
    }
}

JsonNode *
nix_exec_json_read (const char  *text,
                    gsize        length,
                    GError     **error)
{
  /* Never NULL + 0, which is undefined: an empty GBytes gives NULL. */
  const char *start = text != NULL ? text : "";
  Reader reader = { start, start + length, start, error };
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (text != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!read_value (&reader, 0, &node))
    return NULL;
  skip_space (&reader);
  if (reader.p < reader.end)
    {
      g_autofree char *found = describe (&reader, reader.p);

      fail (&reader, reader.p, "Text after the JSON value (%s)", found);
      return NULL;
    }
  return g_steal_pointer (&node);
}

/* ------------------------------------------------------------------------ */
/* Checking and writing                                                     */
/* ------------------------------------------------------------------------ */

static gboolean
check_node (JsonNode  *node,
            guint      depth,
            GError   **error)
{
  if (node == NULL)
    return TRUE;

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
    case JSON_NODE_ARRAY:
      if (depth >= NIX_EXEC_JSON_MAX_DEPTH)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "The value is nested deeper than %d levels", NIX_EXEC_JSON_MAX_DEPTH);
          return FALSE;
        }
      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObjectIter iter;
          const char *key;
          JsonNode *member;

          json_object_iter_init (&iter, json_node_get_object (node));
          while (json_object_iter_next (&iter, &key, &member))
            {
              if (!g_utf8_validate (key, -1, NULL))
                {
                  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                       "A member name is not valid UTF-8");
                  return FALSE;
                }
              if (!check_node (member, depth + 1, error))
                return FALSE;
            }
        }
      else
        {
          JsonArray *array = json_node_get_array (node);
          guint n = json_array_get_length (array);

          for (guint i = 0; i < n; i++)
            if (!check_node (json_array_get_element (array, i), depth + 1, error))
              return FALSE;
        }
      return TRUE;

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE && !isfinite (json_node_get_double (node)))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The value holds a number that JSON cannot write (infinity or NaN)");
          return FALSE;
        }
      if (json_node_get_value_type (node) == G_TYPE_STRING &&
          !g_utf8_validate (json_node_get_string (node), -1, NULL))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The value holds a string that is not valid UTF-8");
          return FALSE;
        }
      return TRUE;

    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

gboolean
nix_exec_json_check (JsonNode  *node,
                     GError   **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_node (node, 0, error);
}

static void
write_string (GString    *out,
              const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (c < 0x20 || c == 0x7F)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, c);
        }
    }
  g_string_append_c (out, '"');
}

/* The shortest text that reads back as @value, always with a point or an
 * exponent, so that it reads back as a double too. */
static void
write_double (GString *out,
              double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  for (int precision = 15; precision <= 17; precision++)
    {
      g_ascii_formatd (buffer, sizeof buffer, precision == 15 ? "%.15g" : precision == 16 ? "%.16g" : "%.17g",
                       value);
      if (g_ascii_strtod (buffer, NULL) == value)
        break;
    }
  g_string_append (out, buffer);
  if (strpbrk (buffer, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
write_indent (GString  *out,
              gboolean  pretty,
              guint     depth)
{
  if (!pretty)
    return;
  g_string_append_c (out, '\n');
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "  ");
}

static void
write_node (GString  *out,
            JsonNode *node,
            gboolean  pretty,
            guint     depth)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      g_string_append (out, "null");
      return;
    }

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *key;
      JsonNode *member;
      gboolean first = TRUE;

      g_string_append_c (out, '{');
      /* In the order the members were added (json_object_iter_init's is a
       * hash table's). */
      json_object_iter_init_ordered (&iter, json_node_get_object (node));
      while (json_object_iter_next_ordered (&iter, &key, &member))
        {
          if (!first)
            g_string_append_c (out, ',');
          first = FALSE;
          write_indent (out, pretty, depth + 1);
          write_string (out, key);
          g_string_append (out, pretty ? ": " : ":");
          write_node (out, member, pretty, depth + 1);
        }
      if (!first)
        write_indent (out, pretty, depth);
      g_string_append_c (out, '}');
      return;
    }

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      g_string_append_c (out, '[');
      for (guint i = 0; i < n; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          write_indent (out, pretty, depth + 1);
          write_node (out, json_array_get_element (array, i), pretty, depth + 1);
        }
      if (n > 0)
        write_indent (out, pretty, depth);
      g_string_append_c (out, ']');
      return;
    }

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      write_string (out, json_node_get_string (node));
      break;
    case G_TYPE_DOUBLE:
      write_double (out, json_node_get_double (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    default:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    }
}

char *
nix_exec_json_write (JsonNode  *node,
                     gboolean   pretty,
                     GError   **error)
{
  GString *out;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_node (node, 0, error))
    return NULL;
  out = g_string_new (NULL);
  write_node (out, node, pretty, 0);
  return g_string_free (out, FALSE);
}
