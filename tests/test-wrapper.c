/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "nixexec-error.h"
#include "nixexec-wrapper-private.h"

/*
 * The wrappers are run for real here, by the host's interpreters (no nix):
 * the scripts that nix_exec_wrapper_ensure_script() writes are started with
 * /usr/bin/python3, /usr/bin/node and /bin/bash, the input on stdin, and
 * their stdout, stderr and exit status are checked. A test whose interpreter
 * is missing is skipped.
 */

typedef struct
{
  char *cache_dir;
} Fixture;

typedef struct
{
  int   status;  /* the exit status; -1 when killed by a signal */
  char *out;
  char *err;
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const char *summary = data;

  g_test_summary (summary);
  /* G_TEST_OPTION_ISOLATE_DIRS gives every test its own, removed afterwards. */
  f->cache_dir = g_build_filename (g_get_user_cache_dir (), "nixexec", NULL);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_pointer (&f->cache_dir, g_free);
}

static const char *
host_interpreter (NixExecLanguage language)
{
  switch (language)
    {
    case NIX_EXEC_LANGUAGE_PYTHON:
      return "/usr/bin/python3";
    case NIX_EXEC_LANGUAGE_JAVASCRIPT:
      return "/usr/bin/node";
    case NIX_EXEC_LANGUAGE_BASH:
      return "/bin/bash";
    default:
      g_assert_not_reached ();
    }
}

static gboolean
run_stage (Fixture         *f,
           NixExecLanguage  language,
           const char      *code,
           const char      *input,
           RunResult       *r)
{
  const char *interpreter = host_interpreter (language);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) stdout_bytes = NULL;
  g_autoptr(GBytes) stderr_bytes = NULL;
  const char *argv[3];
  gconstpointer data;
  gsize size;

  if (!g_file_test (interpreter, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_autofree char *message = g_strdup_printf ("%s is not installed", interpreter);
      g_test_skip (message);
      return FALSE;
    }

  path = nix_exec_wrapper_ensure_script (f->cache_dir, language, code, &error);
  g_assert_no_error (error);
  g_assert_nonnull (path);

  argv[0] = interpreter;
  argv[1] = path;
  argv[2] = NULL;
  proc = g_subprocess_newv (argv,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE |
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                            G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  g_assert_no_error (error);

  stdin_bytes = g_bytes_new (input, strlen (input));
  g_subprocess_communicate (proc, stdin_bytes, NULL, &stdout_bytes, &stderr_bytes, &error);
  g_assert_no_error (error);

  r->status = g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
  /* An empty GBytes may have NULL data. */
  data = g_bytes_get_data (stdout_bytes, &size);
  r->out = size > 0 ? g_strndup (data, size) : g_strdup ("");
  data = g_bytes_get_data (stderr_bytes, &size);
  r->err = size > 0 ? g_strndup (data, size) : g_strdup ("");

  g_test_message ("%s: status %d\nstdout: %s\nstderr: %s",
                  nix_exec_language_to_string (language), r->status, r->out, r->err);
  return TRUE;
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static void
assert_json_equal (const char *actual,
                   const char *expected)
{
  g_autoptr(JsonNode) actual_node = parse_json (actual);
  g_autoptr(JsonNode) expected_node = parse_json (expected);

  if (!json_node_equal (actual_node, expected_node))
    g_assert_cmpstr (actual, ==, expected);
}

static void
assert_result (RunResult  *r,
               const char *expected)
{
  g_assert_cmpint (r->status, ==, 0);
  assert_json_equal (r->out, expected);
}

/* Checks that @r is a report of @kind (and of @type and with @message in its
 * message, when given); returns the report for more checks. */
static JsonObject *
assert_report (RunResult  *r,
               const char *kind,
               const char *type,
               const char *message)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;

  g_assert_cmpint (r->status, ==, NIX_EXEC_WRAPPER_REPORT_STATUS);
  node = parse_json (r->out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);

  g_assert_cmpstr (json_object_get_string_member_with_default (object, "kind", NULL), ==, kind);
  g_assert_nonnull (json_object_get_string_member_with_default (object, "message", NULL));
  if (type != NULL)
    g_assert_cmpstr (json_object_get_string_member_with_default (object, "type", NULL), ==, type);
  if (message != NULL)
    g_assert_nonnull (strstr (json_object_get_string_member (object, "message"), message));

  return json_object_ref (object);
}

static const char *
report_traceback (JsonObject *report)
{
  return json_object_get_string_member_with_default (report, "traceback", NULL);
}

#define RUN(lang, code, input, r) \
  G_STMT_START { if (!run_stage (f, (lang), (code), (input), (r))) return; } G_STMT_END

#define PY NIX_EXEC_LANGUAGE_PYTHON
#define JS NIX_EXEC_LANGUAGE_JAVASCRIPT
#define SH NIX_EXEC_LANGUAGE_BASH

static const char identity_input[] =
  "{\"a\":[1,2.5,\"x\",true,false,null],\"b\":{\"c\":\"d\",\"e\":{}},\"f\":-3}";
static const char unicode_input[] =
  "{\"s\":\"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\","
  "\"\xc3\xa9\":\"key\"}";
/* A JSON string whose text is itself JSON: it must arrive as a string. */
static const char json_text_input[] = "\"[1, 2]\"";

/* Language tags and names */

static void
test_language_parse (void)
{
  static const struct {
    const char *tag;
    NixExecLanguage language;
  } good[] = {
    { "python", PY }, { "python3", PY }, { "Python", PY }, { "PYTHON3", PY },
    { "javascript", JS }, { "js", JS }, { "JavaScript", JS }, { "JS", JS },
    { "bash", SH }, { "sh", SH }, { "Bash", SH }, { "SH", SH },
  };
  static const char *bad[] = { "ruby", "py", "node", "python 3", " js", "js ", "shell", "python2" };

  g_test_summary ("Language tags are parsed case-insensitively; others are rejected with the accepted list");

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      NixExecLanguage language = (NixExecLanguage) -1;

      g_assert_true (nix_exec_language_from_tag (good[i].tag, &language, &error));
      g_assert_no_error (error);
      g_assert_cmpint (language, ==, good[i].language);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      NixExecLanguage language = SH;

      g_assert_false (nix_exec_language_from_tag (bad[i], &language, &error));
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
      g_assert_nonnull (strstr (error->message, bad[i]));
      g_assert_nonnull (strstr (error->message, "python, python3, javascript, js, bash or sh"));
      g_assert_cmpint (language, ==, SH);
    }

  {
    g_autoptr(GError) error = NULL;

    g_assert_false (nix_exec_language_from_tag ("", NULL, &error));
    g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
    g_clear_error (&error);
    g_assert_false (nix_exec_language_from_tag (NULL, NULL, &error));
    g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
    g_assert_nonnull (strstr (error->message, "python, python3"));
  }
}

static void
test_language_names (void)
{
  g_test_summary ("Each language's name, runtime attribute, interpreter and file extension");

  g_assert_cmpstr (nix_exec_language_to_string (PY), ==, "python");
  g_assert_cmpstr (nix_exec_language_to_string (JS), ==, "javascript");
  g_assert_cmpstr (nix_exec_language_to_string (SH), ==, "bash");
  g_assert_cmpstr (nix_exec_language_runtime_attr (PY), ==, "python3");
  g_assert_cmpstr (nix_exec_language_runtime_attr (JS), ==, "nodejs");
  g_assert_cmpstr (nix_exec_language_runtime_attr (SH), ==, "bash");
  g_assert_cmpstr (nix_exec_language_interpreter (PY), ==, "python3");
  g_assert_cmpstr (nix_exec_language_interpreter (JS), ==, "node");
  g_assert_cmpstr (nix_exec_language_interpreter (SH), ==, "bash");
  g_assert_cmpstr (nix_exec_language_file_extension (PY), ==, "py");
  g_assert_cmpstr (nix_exec_language_file_extension (JS), ==, "js");
  g_assert_cmpstr (nix_exec_language_file_extension (SH), ==, "sh");

  /* Every name is accepted back as a tag. */
  for (int i = 0; i < NIX_EXEC_N_LANGUAGES; i++)
    {
      NixExecLanguage language;

      g_assert_true (nix_exec_language_from_tag (nix_exec_language_to_string (i), &language, NULL));
      g_assert_cmpint (language, ==, i);
    }
}

/* Scripts, keys and the cache */

static void
test_build_script (void)
{
  static const char code[] = "def execute(input):\n    return \"\xc3\xa9\" + '\"' + \"\\\\\"\n";

  g_test_summary ("The stage code replaces the template's marker, base64 for Python and JavaScript");

  for (int i = 0; i < NIX_EXEC_N_LANGUAGES; i++)
    {
      g_autofree char *script = NULL;
      g_autofree char *encoded = g_base64_encode ((const guchar *) code, strlen (code));
      gsize length = 0;

      script = nix_exec_wrapper_build_script (i, code, &length);
      g_assert_nonnull (script);
      g_assert_cmpuint (length, ==, strlen (script));
      g_assert_true (g_str_has_prefix (script, i == JS ? "// SPDX-License-Identifier: " : "# SPDX-License-Identifier: "));
      g_assert_null (strstr (script, "@NIXEXEC_STAGE_CODE"));
      if (i == SH)
        g_assert_nonnull (strstr (script, code));
      else
        g_assert_nonnull (strstr (script, encoded));
    }

  /* A marker inside the code is code like any other. */
  {
    g_autofree char *script = nix_exec_wrapper_build_script (SH, "# @NIXEXEC_STAGE_CODE@\n", NULL);

    g_assert_nonnull (strstr (script, "\n# @NIXEXEC_STAGE_CODE@\n"));
  }
}

static gboolean
is_hex_sha256 (const char *key)
{
  if (strlen (key) != 64)
    return FALSE;
  for (const char *p = key; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static void
test_script_key (void)
{
  g_autofree char *py = nix_exec_wrapper_script_key (PY, "def execute(input):\n    return input\n");
  g_autofree char *py_again = nix_exec_wrapper_script_key (PY, "def execute(input):\n    return input\n");
  g_autofree char *py_other = nix_exec_wrapper_script_key (PY, "def execute(input):\n    return 1\n");
  g_autofree char *js = nix_exec_wrapper_script_key (JS, "def execute(input):\n    return input\n");
  g_autofree char *sh = nix_exec_wrapper_script_key (SH, "def execute(input):\n    return input\n");
  g_autofree char *empty = nix_exec_wrapper_script_key (SH, "");

  g_test_summary ("The script key is a stable SHA-256 that depends on language and code");

  g_assert_true (is_hex_sha256 (py));
  g_assert_true (is_hex_sha256 (js));
  g_assert_true (is_hex_sha256 (sh));
  g_assert_true (is_hex_sha256 (empty));
  g_assert_cmpstr (py, ==, py_again);
  g_assert_cmpstr (py, !=, py_other);
  g_assert_cmpstr (py, !=, js);
  g_assert_cmpstr (py, !=, sh);
  g_assert_cmpstr (js, !=, sh);
  g_assert_cmpstr (sh, !=, empty);
}

static char *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static void
test_ensure_script (Fixture       *f,
                    gconstpointer  data)
{
  static const char code[] = "execute() { printf '%s' \"$1\"; }\n";
  g_autoptr(GError) error = NULL;
  g_autofree char *nested = g_build_filename (f->cache_dir, "deeper", NULL);
  g_autofree char *scripts = g_build_filename (nested, "scripts", NULL);
  g_autofree char *key = nix_exec_wrapper_script_key (SH, code);
  g_autofree char *basename = g_strconcat (key, ".sh", NULL);
  g_autofree char *expected_path = g_build_filename (scripts, basename, NULL);
  g_autofree char *expected = nix_exec_wrapper_build_script (SH, code, NULL);
  g_autofree char *path = NULL;
  g_autofree char *again = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *repaired = NULL;
  struct stat st, st_again;

  path = nix_exec_wrapper_ensure_script (nested, SH, code, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, expected_path);

  g_assert_cmpint (g_stat (scripts, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (g_stat (nested, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  contents = read_file (path);
  g_assert_cmpstr (contents, ==, expected);

  /* An existing script is used as it is. */
  again = nix_exec_wrapper_ensure_script (nested, SH, code, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, path);
  g_assert_cmpint (g_lstat (path, &st_again), ==, 0);
  g_assert_cmpuint (st_again.st_ino, ==, st.st_ino);

  /* A damaged one is replaced. */
  g_assert_true (g_file_set_contents (path, "truncat", -1, NULL));
  g_clear_pointer (&again, g_free);
  again = nix_exec_wrapper_ensure_script (nested, SH, code, &error);
  g_assert_no_error (error);
  repaired = read_file (again);
  g_assert_cmpstr (repaired, ==, expected);
}

static void
test_ensure_script_tightens_dir (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *scripts = g_build_filename (f->cache_dir, "scripts", NULL);
  g_autofree char *path = NULL;
  struct stat st;

  g_assert_cmpint (g_mkdir_with_parents (scripts, 0755), ==, 0);
  g_assert_cmpint (g_chmod (scripts, 0777), ==, 0);

  path = nix_exec_wrapper_ensure_script (f->cache_dir, PY, "def execute(i):\n    return i\n", &error);
  g_assert_no_error (error);
  g_assert_nonnull (path);
  g_assert_cmpint (g_stat (scripts, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

static void
test_ensure_script_errors (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename (f->cache_dir, "a-file", NULL);
  g_autofree char *scripts = NULL;
  g_autofree char *path = NULL;

  g_assert_cmpint (g_mkdir_with_parents (f->cache_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (file, "", 0, NULL));

  /* The cache directory is a file. */
  path = nix_exec_wrapper_ensure_script (file, JS, "function execute(i) { return i; }", &error);
  g_assert_null (path);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR);
  g_assert_nonnull (strstr (error->message, file));
  g_clear_error (&error);

  /* "scripts" is a file. */
  scripts = g_build_filename (f->cache_dir, "scripts", NULL);
  g_assert_true (g_file_set_contents (scripts, "", 0, NULL));
  path = nix_exec_wrapper_ensure_script (f->cache_dir, JS, "function execute(i) { return i; }", &error);
  g_assert_null (path);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, scripts));
}

#define N_RACERS 8
#define N_ROUNDS 10

typedef struct
{
  const char *cache_dir;
  const char *code;
  int        *gate;
} Racer;

static gpointer
racer_thread (gpointer user_data)
{
  Racer *racer = user_data;
  g_autoptr(GError) error = NULL;
  char *path;

  while (!g_atomic_int_get (racer->gate))
    g_thread_yield ();

  path = nix_exec_wrapper_ensure_script (racer->cache_dir, PY, racer->code, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_ensure_script_race (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GString) code = g_string_new ("def execute(input):\n    return [\n");
  g_autofree char *expected = NULL;

  /* Big enough that a torn write would show. */
  for (int i = 0; i < 20000; i++)
    g_string_append_printf (code, "        %d,\n", i);
  g_string_append (code, "    ]\n");
  expected = nix_exec_wrapper_build_script (PY, code->str, NULL);

  for (int round = 0; round < N_ROUNDS; round++)
    {
      g_autofree char *cache_dir = g_strdup_printf ("%s/round-%d", f->cache_dir, round);
      g_autofree char *scripts = g_build_filename (cache_dir, "scripts", NULL);
      g_autofree char *first = NULL;
      g_autoptr(GDir) dir = NULL;
      GThread *threads[N_RACERS];
      Racer racers[N_RACERS];
      int gate = 0;
      guint n_entries = 0;

      for (int i = 0; i < N_RACERS; i++)
        {
          racers[i] = (Racer) { cache_dir, code->str, &gate };
          threads[i] = g_thread_new ("racer", racer_thread, &racers[i]);
        }
      g_atomic_int_set (&gate, 1);

      for (int i = 0; i < N_RACERS; i++)
        {
          g_autofree char *path = g_thread_join (threads[i]);
          g_autofree char *contents = NULL;

          g_assert_nonnull (path);
          if (first == NULL)
            first = g_strdup (path);
          g_assert_cmpstr (path, ==, first);
          contents = read_file (path);
          g_assert_cmpstr (contents, ==, expected);
        }

      /* No temporary file is left behind. */
      dir = g_dir_open (scripts, 0, NULL);
      g_assert_nonnull (dir);
      while (g_dir_read_name (dir) != NULL)
        n_entries++;
      g_assert_cmpuint (n_entries, ==, 1);
    }
}

/* Python */

static void
test_python_identity (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY, "def execute(input):\n    return input\n", identity_input, &r);
  assert_result (&r, identity_input);
}

static void
test_python_transform (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY,
       "import math\n"
       "def execute(input):\n"
       "    return {'n': input['n'] * 2, 's': input['s'].upper(), 'r': math.isqrt(49)}\n",
       "{\"n\": 21, \"s\": \"ab\"}", &r);
  assert_result (&r, "{\"n\": 42, \"s\": \"AB\", \"r\": 7}");
}

static void
test_python_async (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY,
       "import asyncio\n"
       "async def execute(input):\n"
       "    await asyncio.sleep(0.01)\n"
       "    return {'got': input}\n",
       "[1, 2]", &r);
  assert_result (&r, "{\"got\": [1, 2]}");
}

static void
test_python_print (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY,
       "import os, subprocess, sys\n"
       "print('top-level print')\n"
       "def execute(input):\n"
       "    print('print in execute')\n"
       "    sys.stdout.write('sys.stdout write\\n')\n"
       "    sys.__stdout__.write('dunder stdout\\n')\n"
       "    os.write(1, b'fd one write\\n')\n"
       "    subprocess.run(['/bin/sh', '-c', 'echo from a subprocess'], check=True)\n"
       "    return 'clean'\n",
       "null", &r);
  assert_result (&r, "\"clean\"");
  g_assert_nonnull (strstr (r.err, "top-level print"));
  g_assert_nonnull (strstr (r.err, "print in execute"));
  g_assert_nonnull (strstr (r.err, "sys.stdout write"));
  g_assert_nonnull (strstr (r.err, "dunder stdout"));
  g_assert_nonnull (strstr (r.err, "fd one write"));
  g_assert_nonnull (strstr (r.err, "from a subprocess"));
}

static void
test_python_exception (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_autoptr(JsonObject) report = NULL;
  const char *traceback;

  RUN (PY,
       "def helper(value):\n"
       "    raise ValueError('bad value: %s' % value)\n"
       "\n"
       "def execute(input):\n"
       "    return helper(input['x'])\n",
       "{\"x\": 7}", &r);
  report = assert_report (&r, "exception", "ValueError", NULL);
  g_assert_cmpstr (json_object_get_string_member (report, "message"), ==, "bad value: 7");
  traceback = report_traceback (report);
  g_assert_nonnull (traceback);
  g_assert_true (g_str_has_prefix (traceback, "Traceback (most recent call last):\n  File \"<stage>\", line 5, in execute\n"));
  g_assert_nonnull (strstr (traceback, "File \"<stage>\", line 2, in helper"));
  /* The source lines are shown. */
  g_assert_nonnull (strstr (traceback, "raise ValueError('bad value: %s' % value)"));
  g_assert_nonnull (strstr (traceback, "ValueError: bad value: 7"));
  g_assert_null (strstr (traceback, "_run"));
  g_assert_nonnull (strstr (r.err, "ValueError: bad value: 7"));
}

static void
test_python_exception_async (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_autoptr(JsonObject) report = NULL;

  RUN (PY,
       "async def execute(input):\n"
       "    raise KeyError('missing')\n",
       "1", &r);
  report = assert_report (&r, "exception", "KeyError", "missing");
  g_assert_true (g_str_has_prefix (report_traceback (report),
                                   "Traceback (most recent call last):\n  File \"<stage>\", line 2, in execute\n"));
}

static void
test_python_exception_at_import (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_autoptr(JsonObject) report = NULL;

  RUN (PY,
       "class StageError(Exception):\n"
       "    pass\n"
       "raise StageError('at import')\n"
       "def execute(input):\n"
       "    return input\n",
       "1", &r);
  report = assert_report (&r, "exception", "StageError", "at import");
  g_assert_nonnull (strstr (report_traceback (report), "line 3, in <module>"));
}

static void
test_python_no_execute (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;
  g_autoptr(JsonObject) report3 = NULL;

  RUN (PY, "def run(input):\n    return input\n", "1", &r);
  report = assert_report (&r, "no-execute", NULL, "execute");
  RUN (PY, "execute = 42\n", "1", &r2);
  report2 = assert_report (&r2, "no-execute", NULL, "int");
  /* Only a top-level execute counts. */
  RUN (PY, "class Stage:\n    def execute(self, input):\n        return input\n", "1", &r3);
  report3 = assert_report (&r3, "no-execute", NULL, NULL);
}

static void
test_python_syntax (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;

  RUN (PY, "import os\n\ndef execute(input)\n    return input\n", "1", &r);
  report = assert_report (&r, "syntax", "SyntaxError", "line 3");
  g_assert_nonnull (report_traceback (report));
  g_assert_nonnull (strstr (report_traceback (report), "def execute(input)"));
  g_assert_nonnull (strstr (r.err, "SyntaxError"));

  RUN (PY, "from __future__ import braces\ndef execute(input):\n    return input\n", "1", &r2);
  report2 = assert_report (&r2, "syntax", "SyntaxError", "braces");
}

static void
test_python_future (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_autoptr(JsonObject) report = NULL;

  /* A future import after other statements still takes effect (annotations
   * stay unevaluated strings), and line numbers do not move. */
  RUN (PY,
       "\"\"\"A stage.\"\"\"\n"
       "import sys\n"
       "from __future__ import annotations\n"
       "def execute(input: UndefinedName) -> AlsoUndefined:\n"
       "    return [execute.__annotations__['input'], annotations.compiler_flag > 0]\n",
       "null", &r);
  assert_result (&r, "[\"UndefinedName\", true]");

  RUN (PY,
       "import os\n"
       "from __future__ import annotations, division\n"
       "def execute(input):\n"
       "    raise RuntimeError('where')\n",
       "null", &r2);
  report = assert_report (&r2, "exception", "RuntimeError", "where");
  g_assert_nonnull (strstr (report_traceback (report), "line 4, in execute"));
}

static void
test_python_main_guard (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY,
       "def execute(input):\n"
       "    import sys\n"
       "    return [__name__, sys.modules[__name__].execute is execute]\n"
       "if __name__ == '__main__':\n"
       "    raise SystemExit('the main block ran')\n",
       "null", &r);
  assert_result (&r, "[\"__nixexec_stage__\", true]");
}

static void
test_python_json_text_input (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY, "def execute(input):\n    return [type(input).__name__, input]\n", json_text_input, &r);
  assert_result (&r, "[\"str\", \"[1, 2]\"]");
}

static void
test_python_null_input (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY, "def execute(input):\n    return [input is None, input]\n", "null", &r);
  assert_result (&r, "[true, null]");
}

static void
test_python_unicode (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (PY,
       "def execute(input):\n"
       "    assert input['s'].endswith('\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e')\n"
       "    return input\n",
       unicode_input, &r);
  assert_result (&r, unicode_input);
  /* Written as UTF-8, not as \u escapes. */
  g_assert_nonnull (strstr (r.out, "\xf0\x9f\x98\x80"));
}

static void
test_python_bad_result (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;
  g_autoptr(JsonObject) report3 = NULL;

  RUN (PY, "def execute(input):\n    return {1, 2}\n", "null", &r);
  report = assert_report (&r, "bad-result", "TypeError", "set");
  RUN (PY, "def execute(input):\n    return [float('nan')]\n", "null", &r2);
  report2 = assert_report (&r2, "bad-result", "ValueError", NULL);
  RUN (PY, "def execute(input):\n    a = []\n    a.append(a)\n    return a\n", "null", &r3);
  report3 = assert_report (&r3, "bad-result", "ValueError", "ircular");
}

static void
test_python_exit (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };

  RUN (PY, "import sys\ndef execute(input):\n    print('bye')\n    sys.exit(5)\n", "null", &r);
  g_assert_cmpint (r.status, ==, 5);
  g_assert_cmpstr (r.out, ==, "");
  g_assert_nonnull (strstr (r.err, "bye"));

  RUN (PY, "import sys\nsys.exit(0)\n", "null", &r2);
  g_assert_cmpint (r2.status, ==, 0);
  g_assert_cmpstr (r2.out, ==, "");
}

static void
test_python_stray_thread (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  gint64 start = g_get_monotonic_time ();

  RUN (PY,
       "import threading, time\n"
       "def execute(input):\n"
       "    threading.Thread(target=time.sleep, args=(60,)).start()\n"
       "    return 'done'\n",
       "null", &r);
  assert_result (&r, "\"done\"");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);
}

/* JavaScript */

static void
test_js_identity (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (JS, "function execute(input) {\n  return input;\n}\n", identity_input, &r);
  assert_result (&r, identity_input);
}

static void
test_js_transform (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };

  RUN (JS,
       "const path = require('path');\n"
       "const execute = (input) => ({ n: input.n * 2, s: input.s.toUpperCase(), b: path.basename('/a/b.txt') });\n",
       "{\"n\": 21, \"s\": \"ab\"}", &r);
  assert_result (&r, "{\"n\": 42, \"s\": \"AB\", \"b\": \"b.txt\"}");

  /* CommonJS style. */
  RUN (JS, "module.exports = { execute: (input) => input + 1 };\n", "41", &r2);
  assert_result (&r2, "42");
  RUN (JS, "exports.execute = function (input) { return [typeof __filename, typeof __dirname]; };\n", "1", &r3);
  assert_result (&r3, "[\"string\", \"string\"]");
}

static void
test_js_async (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };

  RUN (JS,
       "async function execute(input) {\n"
       "  await new Promise(resolve => setTimeout(resolve, 10));\n"
       "  const os = await import('os');\n"
       "  return { got: input, os: typeof os.platform() };\n"
       "}\n",
       "[1, 2]", &r);
  assert_result (&r, "{\"got\": [1, 2], \"os\": \"string\"}");

  RUN (JS, "function execute(input) {\n  return { then(resolve) { resolve(input * 3); } };\n}\n", "3", &r2);
  assert_result (&r2, "9");
}

static void
test_js_print (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (JS,
       "console.log('top-level log');\n"
       "function execute(input) {\n"
       "  console.log('log in execute');\n"
       "  console.info('info in execute');\n"
       "  console.error('error in execute');\n"
       "  process.stdout.write('stdout write\\n');\n"
       "  return 'clean';\n"
       "}\n",
       "null", &r);
  assert_result (&r, "\"clean\"");
  g_assert_nonnull (strstr (r.err, "top-level log"));
  g_assert_nonnull (strstr (r.err, "log in execute"));
  g_assert_nonnull (strstr (r.err, "info in execute"));
  g_assert_nonnull (strstr (r.err, "error in execute"));
  g_assert_nonnull (strstr (r.err, "stdout write"));
}

static void
test_js_exception (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };
  g_auto(RunResult) r4 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;
  g_autoptr(JsonObject) report3 = NULL;
  g_autoptr(JsonObject) report4 = NULL;
  const char *traceback;

  RUN (JS,
       "function helper(value) {\n"
       "  throw new TypeError(`nope: ${value}`);\n"
       "}\n"
       "function execute(input) {\n"
       "  return helper(input.x);\n"
       "}\n",
       "{\"x\": 7}", &r);
  report = assert_report (&r, "exception", "TypeError", NULL);
  g_assert_cmpstr (json_object_get_string_member (report, "message"), ==, "nope: 7");
  traceback = report_traceback (report);
  g_assert_nonnull (traceback);
  g_assert_true (g_str_has_prefix (traceback, "TypeError: nope: 7\n"));
  g_assert_nonnull (strstr (traceback, "at helper (<stage>:2:"));
  g_assert_nonnull (strstr (traceback, "at execute (<stage>:5:"));
  g_assert_null (strstr (traceback, "node:internal"));
  g_assert_null (strstr (traceback, "/scripts/"));
  g_assert_nonnull (strstr (r.err, "TypeError: nope: 7"));

  /* A subclass that keeps .name = "Error" is still named. */
  RUN (JS,
       "class StageError extends Error {}\n"
       "async function execute(input) { throw new StageError('async'); }\n",
       "null", &r2);
  report2 = assert_report (&r2, "exception", "StageError", "async");

  /* Not an Error at all. */
  RUN (JS, "function execute(input) { throw 'plain string'; }\n", "null", &r3);
  report3 = assert_report (&r3, "exception", NULL, "plain string");
  g_assert_false (json_object_has_member (report3, "type"));

  /* At load time. */
  RUN (JS, "null.x;\nfunction execute(input) { return 1; }\n", "null", &r4);
  report4 = assert_report (&r4, "exception", "TypeError", NULL);
}

static void
test_js_async_errors (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;
  g_autoptr(JsonObject) report3 = NULL;

  /* An unhandled rejection elsewhere fails the stage. */
  RUN (JS,
       "function execute(input) {\n"
       "  Promise.reject(new RangeError('later'));\n"
       "  return new Promise(resolve => setTimeout(() => resolve(1), 2000));\n"
       "}\n",
       "null", &r);
  report = assert_report (&r, "exception", "RangeError", "later");

  /* So does an exception thrown from a timer. */
  RUN (JS,
       "function execute(input) {\n"
       "  setTimeout(() => { throw new SyntaxError('in a timer'); }, 1);\n"
       "  return new Promise(() => {});\n"
       "}\n",
       "null", &r2);
  report2 = assert_report (&r2, "exception", "SyntaxError", "in a timer");

  /* A promise that can never settle. */
  RUN (JS, "function execute(input) { return new Promise(() => {}); }\n", "null", &r3);
  report3 = assert_report (&r3, "bad-result", NULL, "never settled");
}

static void
test_js_no_execute (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;

  RUN (JS, "function run(input) { return input; }\n", "1", &r);
  report = assert_report (&r, "no-execute", NULL, "execute");
  RUN (JS, "const execute = 42;\n", "1", &r2);
  report2 = assert_report (&r2, "no-execute", NULL, "number");
}

static void
test_js_syntax (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_autoptr(JsonObject) report = NULL;

  RUN (JS, "function execute(input) {\n  return (;\n}\n", "1", &r);
  report = assert_report (&r, "syntax", "SyntaxError", NULL);
  g_assert_nonnull (strstr (report_traceback (report), "<stage>:2"));
}

static void
test_js_json_text_input (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (JS, "function execute(input) { return [typeof input, input]; }\n", json_text_input, &r);
  assert_result (&r, "[\"string\", \"[1, 2]\"]");
}

static void
test_js_null_input (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };

  RUN (JS, "function execute(input) { return [input === null, input]; }\n", "null", &r);
  assert_result (&r, "[true, null]");

  /* undefined is written as null. */
  RUN (JS, "function execute(input) {}\n", "1", &r2);
  assert_result (&r2, "null");
}

static void
test_js_unicode (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (JS,
       "function execute(input) {\n"
       "  if (!input.s.endsWith('\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e')) throw new Error('mangled');\n"
       "  return input;\n"
       "}\n",
       unicode_input, &r);
  assert_result (&r, unicode_input);
  g_assert_nonnull (strstr (r.out, "\xf0\x9f\x98\x80"));
}

static void
test_js_bad_result (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;
  g_autoptr(JsonObject) report3 = NULL;

  RUN (JS, "function execute(input) { return { n: 10n }; }\n", "null", &r);
  report = assert_report (&r, "bad-result", "TypeError", "BigInt");
  RUN (JS, "function execute(input) { const a = []; a.push(a); return a; }\n", "null", &r2);
  report2 = assert_report (&r2, "bad-result", "TypeError", "ircular");
  RUN (JS, "function execute(input) { return () => 1; }\n", "null", &r3);
  report3 = assert_report (&r3, "bad-result", NULL, "function");
}

static void
test_js_exit (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  gint64 start;

  RUN (JS, "function execute(input) { process.exit(6); }\n", "null", &r);
  g_assert_cmpint (r.status, ==, 6);
  g_assert_cmpstr (r.out, ==, "");

  /* A timer left running does not hold the process. */
  start = g_get_monotonic_time ();
  RUN (JS, "function execute(input) { setInterval(() => {}, 1000); return 'done'; }\n", "null", &r2);
  assert_result (&r2, "\"done\"");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);
}

/* Bash */

static void
test_bash_identity (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  static const char multiline[] = "{\n  \"a\": \"two  spaces\",\n  \"b\": \"\\\\ and \\\" \"\n}\n";

  RUN (SH, "execute() {\n  printf '%s' \"$1\"\n}\n", identity_input, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, identity_input);

  /* Whitespace, newlines and backslashes come through untouched. */
  RUN (SH, "execute() { printf '%s' \"$1\"; }", multiline, &r2);
  g_assert_cmpint (r2.status, ==, 0);
  g_assert_cmpstr (r2.out, ==, multiline);
}

static void
test_bash_transform (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (SH,
       "double() { echo $(( $1 * 2 )); }\n"
       "execute() {\n"
       "  local n=$1\n"
       "  printf '{\"n\": %d}' \"$(double \"$n\")\"\n"
       "}\n",
       "21", &r);
  assert_result (&r, "{\"n\": 42}");
}

static void
test_bash_print (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (SH,
       "echo 'top-level echo'\n"
       "printf 'top-level printf\\n'\n"
       "/bin/sh -c 'echo top-level subprocess'\n"
       "execute() {\n"
       "  echo 'execute to stderr' >&2\n"
       "  echo '\"clean\"'\n"
       "}\n",
       "null", &r);
  assert_result (&r, "\"clean\"");
  g_assert_nonnull (strstr (r.err, "top-level echo"));
  g_assert_nonnull (strstr (r.err, "top-level printf"));
  g_assert_nonnull (strstr (r.err, "top-level subprocess"));
  g_assert_nonnull (strstr (r.err, "execute to stderr"));
}

static void
test_bash_failure (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_auto(RunResult) r3 = { 0 };
  g_auto(RunResult) r4 = { 0 };

  /* set -e: the first failing command ends the stage with its status. */
  RUN (SH, "execute() {\n  ( exit 4 )\n  echo '\"unreachable\"'\n}\n", "null", &r);
  g_assert_cmpint (r.status, ==, 4);
  g_assert_cmpstr (r.out, ==, "");

  RUN (SH, "execute() { echo 'it failed' >&2; exit 3; }\n", "null", &r2);
  g_assert_cmpint (r2.status, ==, 3);
  g_assert_nonnull (strstr (r2.err, "it failed"));

  /* set -u and pipefail are on too. */
  RUN (SH, "execute() { echo \"$undefined_variable\"; }\n", "null", &r3);
  g_assert_cmpint (r3.status, !=, 0);
  g_assert_cmpint (r3.status, !=, NIX_EXEC_WRAPPER_REPORT_STATUS);
  RUN (SH, "execute() { false | true; echo 1; }\n", "null", &r4);
  g_assert_cmpint (r4.status, ==, 1);
  g_assert_cmpstr (r4.out, ==, "");
}

static void
test_bash_no_execute (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_autoptr(JsonObject) report = NULL;

  RUN (SH, "run() { echo 1; }\nexecute=1\n", "1", &r);
  report = assert_report (&r, "no-execute", NULL, "execute");
}

static void
test_bash_syntax (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };
  g_auto(RunResult) r2 = { 0 };
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(JsonObject) report2 = NULL;

  /* Nothing runs, not even the lines before the error. */
  RUN (SH,
       "echo 'should not run'\n"
       "execute() {\n"
       "  if true; then\n"
       "    echo 1\n"
       "}\n",
       "1", &r);
  report = assert_report (&r, "syntax", NULL, "<stage>: line 5:");
  g_assert_null (strstr (r.err, "should not run"));

  /* An open here-document would swallow the wrapper. */
  RUN (SH, "execute() { echo 1; }\ncat <<EOF\n", "1", &r2);
  report2 = assert_report (&r2, "syntax", NULL, "here-document");

  /* extglob patterns parse once the stage turns extglob on. */
  {
    g_auto(RunResult) r3 = { 0 };

    RUN (SH,
         "shopt -s extglob\n"
         "execute() {\n"
         "  echo \"${1//+([0-9])/N}\"\n"
         "}\n",
         "\"a12b3\"", &r3);
    assert_result (&r3, "\"aNbN\"");
  }
}

static void
test_bash_json_text_input (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (SH, "execute() { printf '%s' \"$1\"; }\n", json_text_input, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, json_text_input);
}

static void
test_bash_null_input (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (SH, "execute() { if [[ $1 == null ]]; then echo true; else echo false; fi; }\n", "null", &r);
  assert_result (&r, "true");
}

static void
test_bash_unicode (Fixture *f, gconstpointer data)
{
  g_auto(RunResult) r = { 0 };

  RUN (SH, "execute() { printf '%s' \"$1\"; }\n", unicode_input, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, unicode_input);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/nixexec/wrapper/language/parse", test_language_parse);
  g_test_add_func ("/nixexec/wrapper/language/names", test_language_names);
  g_test_add_func ("/nixexec/wrapper/script/build", test_build_script);
  g_test_add_func ("/nixexec/wrapper/script/key", test_script_key);

#define ADD(path, func, summary) \
  g_test_add ("/nixexec/wrapper/" path, Fixture, summary, fixture_setup, func, fixture_teardown)

  ADD ("cache/ensure", test_ensure_script,
       "ensure_script creates a 0700 directory and a 0600 file holding the whole script, reuses it and replaces a damaged one");
  ADD ("cache/tightens-dir", test_ensure_script_tightens_dir,
       "An existing scripts directory open to others is made private");
  ADD ("cache/errors", test_ensure_script_errors,
       "ensure_script reports unusable cache paths, naming them");
  ADD ("cache/race", test_ensure_script_race,
       "Threads creating the same script at once all get the complete file");

  ADD ("python/identity", test_python_identity,
       "A Python stage returns its input unchanged");
  ADD ("python/transform", test_python_transform,
       "A Python stage computes a new value from its input");
  ADD ("python/async", test_python_async,
       "An async def execute is awaited");
  ADD ("python/print", test_python_print,
       "What a Python stage prints, even on fd 1 or from a subprocess, goes to stderr");
  ADD ("python/exception", test_python_exception,
       "An exception gives an exception report with type, message and the stage's traceback");
  ADD ("python/exception-async", test_python_exception_async,
       "An exception in an async execute is reported without asyncio's frames");
  ADD ("python/exception-at-import", test_python_exception_at_import,
       "An exception at import gives an exception report");
  ADD ("python/no-execute", test_python_no_execute,
       "A stage without a top-level callable execute gives a no-execute report");
  ADD ("python/syntax", test_python_syntax,
       "A syntax error gives a syntax report");
  ADD ("python/future", test_python_future,
       "from __future__ imports anywhere at top level take effect, line numbers unchanged");
  ADD ("python/main-guard", test_python_main_guard,
       "The stage runs as a module of its own, not as __main__");
  ADD ("python/json-text-input", test_python_json_text_input,
       "A string input whose text is JSON stays a string");
  ADD ("python/null-input", test_python_null_input,
       "A null input is None");
  ADD ("python/unicode", test_python_unicode,
       "Non-ASCII text round-trips and is written as UTF-8");
  ADD ("python/bad-result", test_python_bad_result,
       "A result with no JSON form gives a bad-result report");
  ADD ("python/exit", test_python_exit,
       "sys.exit(n) ends the stage with status n and no report");
  ADD ("python/stray-thread", test_python_stray_thread,
       "A thread left running does not hold the process after the result");

  ADD ("javascript/identity", test_js_identity,
       "A JavaScript stage returns its input unchanged");
  ADD ("javascript/transform", test_js_transform,
       "Arrow functions, require and CommonJS exports work");
  ADD ("javascript/async", test_js_async,
       "A returned promise or thenable is awaited; dynamic import works");
  ADD ("javascript/print", test_js_print,
       "console.* and process.stdout.write go to stderr");
  ADD ("javascript/exception", test_js_exception,
       "A throw gives an exception report with type, message and the stage's stack");
  ADD ("javascript/async-errors", test_js_async_errors,
       "Unhandled rejections, timer exceptions and unsettled promises are reported");
  ADD ("javascript/no-execute", test_js_no_execute,
       "A stage without a function execute gives a no-execute report");
  ADD ("javascript/syntax", test_js_syntax,
       "A syntax error gives a syntax report");
  ADD ("javascript/json-text-input", test_js_json_text_input,
       "A string input whose text is JSON stays a string");
  ADD ("javascript/null-input", test_js_null_input,
       "A null input is null; an undefined result is written as null");
  ADD ("javascript/unicode", test_js_unicode,
       "Non-ASCII text round-trips");
  ADD ("javascript/bad-result", test_js_bad_result,
       "A result with no JSON form gives a bad-result report");
  ADD ("javascript/exit", test_js_exit,
       "process.exit(n) ends the stage with status n; stray timers do not hold it");

  ADD ("bash/identity", test_bash_identity,
       "The input text reaches execute as $1 byte for byte");
  ADD ("bash/transform", test_bash_transform,
       "A Bash stage computes a result");
  ADD ("bash/print", test_bash_print,
       "Top-level output goes to stderr; execute's stdout is the result");
  ADD ("bash/failure", test_bash_failure,
       "set -euo pipefail: a failing command ends the stage with its status");
  ADD ("bash/no-execute", test_bash_no_execute,
       "A script without a function execute gives a no-execute report");
  ADD ("bash/syntax", test_bash_syntax,
       "A syntax error gives a syntax report with the stage's line numbers, before anything runs");
  ADD ("bash/json-text-input", test_bash_json_text_input,
       "A JSON string input is passed as its JSON text");
  ADD ("bash/null-input", test_bash_null_input,
       "A null input is the text null");
  ADD ("bash/unicode", test_bash_unicode,
       "Non-ASCII text round-trips");

#undef ADD

  return g_test_run ();
}
