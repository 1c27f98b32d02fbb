/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "nixexec-error.h"
#include "nixexec-pydeps-private.h"

/*
 * Python dependencies. The scanner cases each hold a trap that catches one
 * part of the tokenizer if it breaks: a fake import that would be found, or
 * a real one that would be missed. Where the host has python3, every case
 * that python3 can parse is also run through its ast module
 * (pydeps-ast-imports.py), so the expectations are Python's own. The last
 * tests build python3.withPackages from the test flake with real nix,
 * offline, and import the flake's two fake packages.
 */

#define MAX_EXPECTED 10  /* with room for the NULL */

typedef struct
{
  const char *name;
  const char *code;
  const char *expected[MAX_EXPECTED];
} ScanCase;

static const ScanCase scan_cases[] = {
  { "import-list",
    "import alpha, beta as b\n"
    "import gamma.delta as gd, epsilon.zeta\n",
    { "alpha", "beta", "gamma", "epsilon" } },
  { "from",
    "from alpha.beta import gamma\n"
    "from delta import (\n"
    "    e,\n"
    "    f as g,\n"
    ")\n",
    { "alpha", "delta" } },
  { "relative",
    "from . import sibling\n"
    "from .pkg import x\n"
    "from ..up.mod import y\n"
    "from ... import z\n"
    "from ...deep import w\n"
    "from .\\\n  m import v\n"
    "import alpha\n",
    { "alpha" } },
  { "strings",
    "s1 = \"import fake_a\"\n"
    "s2 = 'import fake_b'\n"
    "s3 = \"\"\"\nimport fake_c\n\"\"\"\n"
    "s4 = '''import fake_d\n'''\n"
    "s5 = \"escaped \\\" import fake_e\"\n"
    "s6 = 'it\\'s; import fake_f'\n"
    "s7 = \"\"\" \"\" import fake_g \"\" \"\"\"\n"
    "s8 = r\"raw \\\" import fake_h\"\n"
    "s9 = b'import fake_i'\n"
    "s10 = Rb'import fake_j' + bR'x' + BR\"y\" + rB'z'\n"
    "s11 = u\"import fake_k\"\n"
    "import alpha\n",
    { "alpha" } },
  { "escapes",
    /* An escaped backslash does not escape the quote after it. */
    "s = \"a\\\\\"; import alpha\n"
    "t = 'b\\\\'; import beta\n"
    "u = r'c\\\\'; import gamma\n",
    { "alpha", "beta", "gamma" } },
  { "string-prefixes",
    "a = f\"import fake_a {y}\"\n"
    "b = rf'import fake_b'\n"
    "c = FR\"import fake_c\"\n"
    "d = Rf'''\nimport fake_d\n'''\n"
    "e = fR\"\"\"{x}\nimport fake_e\"\"\"\n"
    "import alpha\n",
    { "alpha" } },
  { "f-strings",
    "a = f\"{x!r:>10} import fake_a {{import fake_b}}\"\n"
    "b = f'{d[\"key\"]} import fake_c'\n"
    "c = f\"{x:'^10} import fake_d\"\n"
    "import alpha\n"
    "d = f\"\\N{BULLET} {x} import fake_e\"\n"
    "e = f\"\"\"{\n  y\n} import fake_f\"\"\"\n"
    "f = rf\"\\{x} import fake_g\"\n"
    "g = f\"{{ ' }}\"\n"
    "import beta\n"
    "h = f\"{x:{w}.{p}} import fake_h\"\n"
    "i = f\"{'}'} import fake_i\"\n"
    "import gamma\n"
    "j = f\"{'{'} import fake_j\"\n"
    "k = f\"{'#'} import fake_k\"\n"
    "l = rf\"\\N{'{'}\"\n"
    "import delta\n",
    { "alpha", "beta", "gamma", "delta" } },
  { "comments",
    "# import fake_a\n"
    "x = 1  # import fake_b\n"
    "s = '#'; import alpha\n"
    "t = \"#\" ; import beta  # import fake_c\n"
    "   # from fake_d import x\n",
    { "alpha", "beta" } },
  { "continuations",
    "import alpha, \\\n    beta\n"
    "from gamma import (a,\n  b)\n"
    "x = [1,\n  2]; import delta\n"
    "from \\\n  epsilon \\\n  import e\n"
    "import zeta; import eta\n"
    "if True: import theta\n",
    { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" } },
  { "nested",
    "def f():\n"
    "    import alpha\n"
    "    if x:\n"
    "        from beta.sub import y\n"
    "class C:\n"
    "    def m(self):\n"
    "        try:\n"
    "            import gamma\n"
    "        except ImportError:\n"
    "            import delta as gamma\n",
    { "alpha", "beta", "gamma", "delta" } },
  { "identifiers",
    "important = 1\n"
    "x.import_ = 2\n"
    "from_ = 3\n"
    "import_me = 4\n"
    "mod = __import__('fake_a')\n"
    "importlib.import_module('fake_b')\n"
    "import_ = from_\n",
    { NULL } },
  { "from-without-import",
    "def g():\n"
    "    yield from alpha_gen()\n"
    "try:\n"
    "    pass\n"
    "except E as e:\n"
    "    raise ValueError from e\n"
    "import alpha\n"
    "raise X from None; import beta\n",
    { "alpha", "beta" } },
  { "stdlib",
    "from __future__ import annotations\n"
    "import os, sys, json\n"
    "import collections.abc\n"
    "from os.path import join\n"
    "import numpy\n"
    "import __main__\n",
    { "numpy" } },
  { "order-and-duplicates",
    "import beta, alpha, beta.sub\n"
    "from alpha import x\n"
    "import alpha.y as z\n",
    { "beta", "alpha" } },
  { "namespace-packages",
    "import google.protobuf.message\n"
    "from google import genai, auth as ga\n"
    "from google.cloud import storage\n"
    "import ruamel.yaml\n"
    "from zope import (interface)\n"
    "from google import *\n",
    { "google.protobuf", "google.genai", "google.auth", "google.cloud", "ruamel.yaml",
      "zope.interface" } },
  { "crlf",
    "import alpha\r\n"
    "x = 1 \\\r\n  + 2; import beta\r\n"
    "# import fake\r\n"
    "from gamma import (a,\r\n b)\r\n",
    { "alpha", "beta", "gamma" } },
  { "numbers",
    "x = 1.e5; import alpha\n"
    "y = 0x_1f if z else 1_000j; import beta\n"
    "z = .5; import gamma\n",
    { "alpha", "beta", "gamma" } },
  { "non-ascii",
    "x = 'é'\n"
    "import na\xc3\xafve\n"
    "import alpha\n",
    { "na\xc3\xafve", "alpha" } },
  { "empty", "", { NULL } },
  { "no-imports",
    "def execute(x):\n"
    "    return x\n",
    { NULL } },
  /* Below, code only some Pythons parse. */
  { "pep701-f-strings",
    /* 3.12: the outer quote inside a field. */
    "a = f\"{x[\"import fake_a\"]}\"\n"
    "b = f\"{'\\n'.join(y)} {f\"{z}\"}\"\n"
    "import alpha\n"
    /* 3.12: fields over several lines, with comments. */
    "c = f\"playlist: {\", \".join([\n"
    "    'a',  # My, my, those eyes {\n"
    "    'b',\n"
    "])}\"\n"
    "import beta\n",
    { "alpha", "beta" } },
  { "t-strings",
    /* 3.14 */
    "a = t\"import fake_a {x}\"\n"
    "import alpha\n",
    { "alpha" } },
  { "unterminated-string",
    "s = 'abc\n"
    "import alpha\n",
    { "alpha" } },
};

static void
assert_strv_equal (const char * const *actual,
                   const char * const *expected)
{
  g_autofree char *joined = g_strjoinv (", ", (char **) actual);
  guint i;

  g_test_message ("got: %s", joined);
  for (i = 0; expected[i] != NULL; i++)
    {
      g_assert_nonnull (actual[i]);
      g_assert_cmpstr (actual[i], ==, expected[i]);
    }
  g_assert_cmpstr (actual[i], ==, NULL);
}

static void
test_scan_case (gconstpointer data)
{
  const ScanCase *scan_case = data;
  g_auto(GStrv) imports = nix_exec_pydeps_scan_imports (scan_case->code);

  g_assert_nonnull (imports);
  assert_strv_equal ((const char * const *) imports, scan_case->expected);
}

static const char *
host_python (void)
{
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("/usr/bin/python3 is not installed");
      return NULL;
    }
  return "/usr/bin/python3";
}

/* Runs @argv with @input on stdin; returns its stdout, sets its status. */
static char *
run_capture (const char * const *argv,
             const char         *input,
             int                *out_status,
             char              **out_stderr)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) stdout_bytes = NULL;
  g_autoptr(GBytes) stderr_bytes = NULL;
  gconstpointer data;
  gsize size;

  proc = g_subprocess_newv (argv,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE |
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                            G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  g_assert_no_error (error);

  stdin_bytes = g_bytes_new (input, strlen (input));
  g_subprocess_communicate (proc, stdin_bytes, NULL, &stdout_bytes, &stderr_bytes, &error);
  g_assert_no_error (error);

  *out_status = g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
  if (out_stderr != NULL)
    {
      data = g_bytes_get_data (stderr_bytes, &size);
      *out_stderr = size > 0 ? g_strndup (data, size) : g_strdup ("");
    }
  /* An empty GBytes may have NULL data. */
  data = g_bytes_get_data (stdout_bytes, &size);
  return size > 0 ? g_strndup (data, size) : g_strdup ("");
}

static void
test_scan_agrees_with_ast (void)
{
  const char *python = host_python ();
  g_autofree char *helper = NULL;
  guint compared = 0;

  g_test_summary ("Every scanner case that the host's Python parses gives what its ast module finds");

  if (python == NULL)
    return;
  helper = g_test_build_filename (G_TEST_DIST, "pydeps-ast-imports.py", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (scan_cases); i++)
    {
      const char *argv[] = { python, helper, NULL };
      g_autofree char *out = NULL;
      g_auto(GStrv) lines = NULL;
      int status;

      out = run_capture (argv, scan_cases[i].code, &status, NULL);
      if (status == 2)
        {
          g_test_message ("%s: not Python to this interpreter", scan_cases[i].name);
          continue;
        }
      g_assert_cmpint (status, ==, 0);

      g_test_message ("%s: ast finds:\n%s", scan_cases[i].name, out);
      /* One name a line, each ending in a newline. */
      g_assert_true (*out == '\0' || g_str_has_suffix (out, "\n"));
      if (*out != '\0')
        out[strlen (out) - 1] = '\0';
      lines = *out != '\0' ? g_strsplit (out, "\n", -1) : g_new0 (char *, 1);
      assert_strv_equal ((const char * const *) lines, scan_cases[i].expected);
      compared++;
    }

  /* All but the cases for newer or no Python. */
  g_assert_cmpuint (compared, >=, G_N_ELEMENTS (scan_cases) - 3);
}

static void
test_scan_deep_nesting (void)
{
  g_autoptr(GString) code = g_string_new ("x = ");
  g_auto(GStrv) imports = NULL;

  g_test_summary ("Deeply nested f-strings neither overflow the stack nor stop "
                  "a scan that stays within the limit");

  /* 20 levels, PEP 701 style: read through. */
  for (guint i = 0; i < 20; i++)
    g_string_append (code, "f\"{");
  g_string_append (code, "1");
  for (guint i = 0; i < 20; i++)
    g_string_append (code, "}\"");
  g_string_append (code, "\nimport alpha\n");
  imports = nix_exec_pydeps_scan_imports (code->str);
  assert_strv_equal ((const char * const *) imports, (const char *[]) { "alpha", NULL });
  g_clear_pointer (&imports, g_strfreev);

  /* 100000 levels: the scan gives up at its limit, and returns. */
  g_string_assign (code, "import alpha\nx = ");
  for (guint i = 0; i < 100000; i++)
    g_string_append (code, "f\"{");
  for (guint i = 0; i < 100000; i++)
    g_string_append (code, "}\"");
  g_string_append (code, "\nimport beta\n");
  imports = nix_exec_pydeps_scan_imports (code->str);
  g_assert_nonnull (imports);
  g_assert_cmpstr (imports[0], ==, "alpha");

  /* Unclosed brackets and strings up to the end. */
  g_clear_pointer (&imports, g_strfreev);
  imports = nix_exec_pydeps_scan_imports ("import alpha\nx = (f\"{'''\\");
  assert_strv_equal ((const char * const *) imports, (const char *[]) { "alpha", NULL });
}

static void
test_scan_random_input (void)
{
  /* Pieces of everything the tokenizer treats specially. */
  static const char * const pieces[] = {
    "\"", "'", "\"\"\"", "'''", "\\", "{", "}", "{{", "}}", "(", ")", "[", "]", "#", ":",
    ";", ".", ",", "\n", "\r", "\r\n", " ", "\t", "f", "rb", "Rf", "t", "u", "x", "\\N{",
    "import ", "from ", " as ", "requires:", "# requires: a, ", "1.5", "\xc3\xa9", "\xff",
    "==", "$", "!r",
  };

  g_test_summary ("Random sequences of the tokenizer's special pieces are scanned "
                  "without reading out of bounds (run under ASan)");

  for (guint n = 0; n < 3000; n++)
    {
      g_autoptr(GString) code = g_string_new (NULL);
      guint length = g_test_rand_int_range (0, 60);
      g_auto(GStrv) imports = NULL;
      g_auto(GStrv) attrs = NULL;
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < length; i++)
        g_string_append (code, pieces[g_test_rand_int_range (0, G_N_ELEMENTS (pieces))]);

      imports = nix_exec_pydeps_scan_imports (code->str);
      g_assert_nonnull (imports);
      attrs = nix_exec_pydeps_resolve (code->str, &error);
      g_assert_true ((attrs != NULL) != (error != NULL));
      for (guint i = 0; attrs != NULL && attrs[i] != NULL; i++)
        g_assert_true (nix_exec_pydeps_validate_attr (attrs[i], NULL));
    }
}

static void
test_stdlib (void)
{
  static const char * const stdlib[] = {
    "__future__", "_thread", "abc", "asyncio", "collections", "distutils", "json", "os",
    "sys", "tkinter", "tomllib", "typing", "zipfile", "zoneinfo",
  };
  static const char * const not_stdlib[] = {
    "", "Os", "numpy", "yaml", "requests", "__main__", "zzz", "_",
  };
  const char *python;

  g_test_summary ("The standard library table knows the 3.11 modules, and only those");

  for (gsize i = 0; i < G_N_ELEMENTS (stdlib); i++)
    g_assert_true (nix_exec_pydeps_is_stdlib (stdlib[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (not_stdlib); i++)
    g_assert_false (nix_exec_pydeps_is_stdlib (not_stdlib[i]));

  /* The whole table, and its order (a binary search finds every name only
   * if it is sorted), against the interpreter it was made from. */
  python = host_python ();
  if (python != NULL)
    {
      const char *argv[] = {
        python, "-c",
        "import sys\n"
        "if sys.version_info[:2] == (3, 11):\n"
        "    print('\\n'.join(sorted(sys.stdlib_module_names)))\n",
        NULL
      };
      g_autofree char *out = NULL;
      g_auto(GStrv) names = NULL;
      int status;

      out = run_capture (argv, "", &status, NULL);
      g_assert_cmpint (status, ==, 0);
      names = g_strsplit (g_strstrip (out), "\n", -1);
      if (names[0] == NULL || *names[0] == '\0')
        {
          g_test_message ("The host's Python is not 3.11; the full comparison is skipped");
          return;
        }
      g_assert_cmpuint (g_strv_length (names), >, 250);
      for (guint i = 0; names[i] != NULL; i++)
        {
          g_test_message ("%s", names[i]);
          g_assert_true (nix_exec_pydeps_is_stdlib (names[i]));
        }
    }
}

static void
test_attr_for_import (void)
{
  static const struct {
    const char *module;
    const char *attr;
  } cases[] = {
    /* The renames the issue names. */
    { "yaml", "pyyaml" },
    { "PIL", "pillow" },
    { "sklearn", "scikit-learn" },
    { "cv2", "opencv4" },
    { "bs4", "beautifulsoup4" },
    { "dateutil", "python-dateutil" },
    { "jwt", "pyjwt" },
    { "Crypto", "pycryptodome" },
    { "OpenSSL", "pyopenssl" },
    { "serial", "pyserial" },
    { "usb", "pyusb" },
    { "magic", "python-magic" },
    { "dotenv", "python-dotenv" },
    { "attr", "attrs" },
    { "skimage", "scikit-image" },
    { "docx", "python-docx" },
    { "pptx", "python-pptx" },
    { "fitz", "pymupdf" },
    { "Levenshtein", "levenshtein" },
    { "google.protobuf", "protobuf" },
    { "ruamel.yaml", "ruamel-yaml" },
    { "gi", "pygobject3" },
    /* Anything else is itself, case kept. */
    { "numpy", "numpy" },
    { "requests", "requests" },
    { "attrs", "attrs" },
    { "nixexec_fake_alpha", "nixexec_fake_alpha" },
    { "Foo_Bar", "Foo_Bar" },
    /* No telling. */
    { "google", NULL },
    { "google.cloud", NULL },
    { "azure.storage", NULL },
    { "na\xc3\xafve", NULL },
  };

  g_test_summary ("Imports map to python3Packages attributes through the rename table");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *attr = nix_exec_pydeps_attr_for_import (cases[i].module);

      g_test_message ("%s → %s", cases[i].module, attr);
      g_assert_cmpstr (attr, ==, cases[i].attr);
      if (attr != NULL)
        g_assert_true (nix_exec_pydeps_validate_attr (attr, NULL));
    }
}

static void
test_requires (void)
{
  const char *code =
    "#!/usr/bin/env python3\n"
    "# requires: numpy, python-dateutil\n"
    "#REQUIRES:scikit-learn,\n"
    "#  Requires :  nixexec_fake_alpha ,numpy\n"
    "\"\"\"Docstring.\n"
    "# requires: fake_in_string\n"
    "\"\"\"\n"
    "import os\n"
    "# requires: late-pkg\n"
    "def f():\n"
    "    # requires: fake_indented\n"
    "    x = 1  # requires: fake_trailing\n"
    "    y = [\n"
    "# requires: fake_in_brackets\n"
    "    ]\n"
    "# requirements: fake_other_word\n"
    "# requires fake_no_colon\n"
    "# requires:\n";
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) attrs = NULL;

  g_test_summary ("`# requires:` lines are comments starting a line, outside strings "
                  "and brackets, anywhere in the file");

  g_assert_true (nix_exec_pydeps_parse_requires (code, &attrs, &error));
  g_assert_no_error (error);
  assert_strv_equal ((const char * const *) attrs,
                     (const char *[]) { "numpy", "python-dateutil", "scikit-learn",
                                        "nixexec_fake_alpha", "late-pkg", NULL });

  /* Optional outputs. */
  g_assert_true (nix_exec_pydeps_parse_requires (code, NULL, NULL));
}

static void
test_requires_invalid (void)
{
  static const struct {
    const char *entry;
    const char *shown;  /* in the message */
    const char *reason;
  } cases[] = {
    { "foo; rm -rf /", "foo; rm -rf /", "not a nixpkgs attribute name" },
    { "foo bar", "foo bar", "not a nixpkgs attribute name" },
    { "'foo'", "'foo'", "not a nixpkgs attribute name" },
    { "\"foo\"", "\"foo\"", "not a nixpkgs attribute name" },
    { "${foo}", "${foo}", "not a nixpkgs attribute name" },
    { "$(foo)", "$(foo)", "not a nixpkgs attribute name" },
    { "`foo`", "`foo`", "not a nixpkgs attribute name" },
    { "-rf", "-rf", "not a nixpkgs attribute name" },
    { "9lives", "9lives", "not a nixpkgs attribute name" },
    { "foo/bar", "foo/bar", "not a nixpkgs attribute name" },
    { "ps.foo\tx", "ps.foo?x", "not a nixpkgs attribute name" },
    { "foo\xff", "foo\xef\xbf\xbd", "not a nixpkgs attribute name" },
    { "foo==1.2", "foo==1.2", "pip is not supported" },
    { "foo>=1.2", "foo>=1.2", "pip is not supported" },
    { "foo @ https://example.invalid/foo.tar.gz", "foo @ https://", "pip is not supported" },
  };

  g_test_summary ("An invalid `# requires:` entry fails the stage, with the line and the entry");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *code = g_strdup_printf ("import os\n# requires: numpy, %s\n", cases[i].entry);
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) attrs = NULL;

      g_assert_false (nix_exec_pydeps_parse_requires (code, &attrs, &error));
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
      g_assert_null (attrs);
      g_test_message ("%s", error->message);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, "Line 2"));
      g_assert_nonnull (strstr (error->message, cases[i].shown));
      g_assert_nonnull (strstr (error->message, cases[i].reason));
    }

  {
    g_autoptr(GString) code = g_string_new ("# requires: ");
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < 200; i++)
      g_string_append_c (code, 'a');
    g_assert_false (nix_exec_pydeps_parse_requires (code->str, NULL, &error));
    g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
    g_assert_nonnull (strstr (error->message, "longer than 128"));
  }
}

static void
test_requires_pip_refused (void)
{
  static const char * const entries[] = {
    "requests==2.31.0",
    "Foo_Bar==1!2.0+local.1",
    "requests>=2",
    "requests==2.0; python_version<'3'",
    "requests[socks]==2.0",
  };

  g_test_summary ("A `# requires:` entry that looks like a pip requirement, pinned or "
                  "not, is refused: pip is not supported");

  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_autofree char *line = g_strdup_printf ("# requires: numpy, %s\n", entries[i]);
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) attrs = NULL;

      g_assert_false (nix_exec_pydeps_parse_requires (line, &attrs, &error));
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
      g_assert_null (attrs);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "Line 1"));
      g_assert_nonnull (strstr (error->message, "pip is not supported"));
      g_assert_nonnull (strstr (error->message, "python3Packages attribute"));
    }
}

static void
test_resolve (void)
{
  const char *code =
    "import yaml\n"
    "import numpy, os\n"
    "from PIL import Image\n"
    "import sklearn.linear_model\n"
    "# requires: python-dateutil, numpy\n"
    "import google.protobuf\n"
    "import google.cloud.storage\n"
    "from . import local\n"
    "def execute(x):\n"
    "    import cv2\n"
    "    return x\n";
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) attrs = NULL;

  g_test_summary ("A stage's attributes are its mapped imports and its `# requires:`, "
                  "sorted, each once");

  attrs = nix_exec_pydeps_resolve (code, &error);
  g_assert_no_error (error);
  assert_strv_equal ((const char * const *) attrs,
                     (const char *[]) { "numpy", "opencv4", "pillow", "protobuf",
                                        "python-dateutil", "pyyaml", "scikit-learn", NULL });
  g_clear_pointer (&attrs, g_strfreev);

  /* Nothing to add: an empty list, not NULL. */
  attrs = nix_exec_pydeps_resolve ("import json\ndef execute(x):\n    return x\n", &error);
  g_assert_no_error (error);
  g_assert_nonnull (attrs);
  g_assert_null (attrs[0]);
  g_clear_pointer (&attrs, g_strfreev);

  /* An invalid entry fails the whole resolution. */
  attrs = nix_exec_pydeps_resolve ("import numpy\n# requires: foo;bar\n", &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_assert_null (attrs);
}

static void
test_resolve_pip_refused (void)
{
  const char *code =
    "# requires: PyYAML==6.0.1, requests==2.31.0, pillow\n"
    "import yaml, requests, numpy\n"
    "from PIL import Image\n";
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) attrs = NULL;

  g_test_summary ("A pip requirement fails the whole resolution: nothing is installed with pip");

  attrs = nix_exec_pydeps_resolve (code, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE);
  g_assert_nonnull (strstr (error->message, "pip is not supported"));
  g_assert_null (attrs);
}

static const struct {
  const char *text;
  const char *literal;
} nix_string_cases[] = {
  { "plain", "\"plain\"" },
  { "", "\"\"" },
  { "a\"b", "\"a\\\"b\"" },
  { "back\\slash", "\"back\\\\slash\"" },
  { "${x}", "\"\\${x}\"" },
  { "$x $ {x}", "\"$x $ {x}\"" },
  { "$${x}", "\"$\\${x}\"" },
  { "\\${x}", "\"\\\\\\${x}\"" },
  { "a\nb\tc\rd", "\"a\\nb\\tc\\rd\"" },
  { "''${x}''", "\"''\\${x}''\"" },
  { "end$", "\"end$\"" },
  { "path:/tmp/a\"b${c}\\d", "\"path:/tmp/a\\\"b\\${c}\\\\d\"" },
};

static void
test_nix_string (void)
{
  g_test_summary ("Nix string literals escape \\, \" and ${");

  for (gsize i = 0; i < G_N_ELEMENTS (nix_string_cases); i++)
    {
      g_autofree char *literal = nix_exec_pydeps_nix_string (nix_string_cases[i].text);

      g_assert_cmpstr (literal, ==, nix_string_cases[i].literal);
    }
}

static const char *
find_nix (void)
{
  static char *nix = NULL;

  if (nix == NULL)
    nix = g_find_program_in_path ("nix");
  if (nix == NULL)
    g_test_skip ("nix is not installed");
  return nix;
}

static void
test_nix_string_real (void)
{
  const char *nix = find_nix ();

  g_test_summary ("Real nix reads each literal back as the original text");

  if (nix == NULL)
    return;

  for (gsize i = 0; i < G_N_ELEMENTS (nix_string_cases); i++)
    {
      g_autofree char *literal = nix_exec_pydeps_nix_string (nix_string_cases[i].text);
      /* builtins.toJSON, so that the text comes back whole and unambiguous. */
      g_autofree char *expr = g_strdup_printf ("builtins.toJSON %s", literal);
      g_autofree char *expected = g_strescape (nix_string_cases[i].text, NULL);
      const char *argv[] = {
        nix, "--extra-experimental-features", "nix-command",
        "eval", "--raw", "--offline", "--expr", expr, NULL
      };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autoptr(JsonNode) node = NULL;
      g_autoptr(GError) error = NULL;
      int status;

      out = run_capture (argv, "", &status, &err);
      g_test_message ("%s → %s (%s)", expr, out, err);
      g_assert_cmpint (status, ==, 0);
      node = json_from_string (out, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_node_get_string (node), ==, nix_string_cases[i].text);
    }
}

static void
test_nix_expression (void)
{
  const char * const attrs[] = {
    "scikit-learn", "numpy", "if", "numpy", "__x", "a.b", "nixexec_fake_alpha", "Foo", NULL
  };
  const char * const reordered[] = {
    "nixexec_fake_alpha", "a.b", "numpy", "__x", "if", "scikit-learn", "Foo", NULL
  };
  g_autofree char *expr = NULL;
  g_autofree char *again = NULL;
  g_autofree char *empty = NULL;

  g_test_summary ("The withPackages expression escapes the flake reference and quotes "
                  "attributes that are not plain Nix identifiers");

  expr = nix_exec_pydeps_nix_expression ("path:/tmp/x\"y${z}\\w", "x86_64-linux", attrs);
  g_assert_cmpstr (expr, ==,
                   "(builtins.getFlake \"path:/tmp/x\\\"y\\${z}\\\\w\")"
                   ".packages.\"x86_64-linux\".python3.withPackages (ps: ["
                   " ps.Foo ps.\"__x\" ps.\"a.b\" ps.\"if\" ps.nixexec_fake_alpha ps.numpy"
                   " ps.scikit-learn ])");

  again = nix_exec_pydeps_nix_expression ("path:/tmp/x\"y${z}\\w", "x86_64-linux", reordered);
  g_assert_cmpstr (again, ==, expr);

  empty = nix_exec_pydeps_nix_expression ("github:NixOS/nixpkgs/nixos-24.05", "aarch64-linux", NULL);
  g_assert_cmpstr (empty, ==,
                   "(builtins.getFlake \"github:NixOS/nixpkgs/nixos-24.05\")"
                   ".packages.\"aarch64-linux\".python3.withPackages (ps: [ ])");
}

/* Builds @expr with real nix, offline, on the test flake; returns the
 * store path. */
static char *
nix_build_expr (const char *nix,
                const char *expr)
{
  const char *argv[] = {
    nix, "--extra-experimental-features", "nix-command flakes",
    "build", "--json", "--no-link", "--impure", "--offline",
    "--option", "substituters", "",
    "--option", "build-users-group", "",
    "--option", "sandbox", "false",
    "--expr", expr,
    NULL
  };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *outputs;
  int status;

  out = run_capture (argv, "", &status, &err);
  g_test_message ("nix build --expr '%s'\nstdout: %s\nstderr: %s", expr, out, err);
  g_assert_cmpint (status, ==, 0);

  node = json_from_string (out, &error);
  g_assert_no_error (error);
  outputs = json_object_get_object_member (json_array_get_object_element (json_node_get_array (node), 0),
                                           "outputs");
  return g_strdup (json_object_get_string_member (outputs, "out"));
}

static int
run_python (const char  *store_path,
            const char  *program,
            char       **out_stdout)
{
  g_autofree char *python = g_build_filename (store_path, "bin", "python3", NULL);
  const char *argv[] = { python, "-c", program, NULL };
  g_autofree char *err = NULL;
  int status;

  *out_stdout = run_capture (argv, "", &status, &err);
  g_test_message ("%s -c '%s': status %d\nstdout: %s\nstderr: %s",
                  python, program, status, *out_stdout, err);
  return status;
}

static void
test_with_packages_real (void)
{
  const char *nix = find_nix ();
  const char *flake = g_getenv ("NIXEXEC_TEST_FLAKE");
  const char *code =
    /* A dynamic import, which no scanner sees: what `# requires:` is for. */
    "# requires: nixexec.fake.beta\n"
    "import importlib\n"
    "import nixexec_fake_alpha\n"
    "def execute(x):\n"
    "    beta = importlib.import_module('nixexec_fake_beta')\n"
    "    return nixexec_fake_alpha.VALUE + beta.VALUE\n";
  const char * const beta_only[] = { "nixexec-fake-beta", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) attrs = NULL;
  g_autofree char *expr = NULL;
  g_autofree char *store_path = NULL;
  g_autofree char *out = NULL;

  g_test_summary ("python3.withPackages of the test flake, built by real nix offline, "
                  "imports what the stage needs and nothing else");

  if (nix == NULL)
    return;
  if (flake == NULL)
    {
      g_test_skip ("NIXEXEC_TEST_FLAKE is not set");
      return;
    }

  attrs = nix_exec_pydeps_resolve (code, &error);
  g_assert_no_error (error);
  assert_strv_equal ((const char * const *) attrs,
                     (const char *[]) { "nixexec.fake.beta", "nixexec_fake_alpha", NULL });

  /* A quoted attribute and a plain one. */
  expr = nix_exec_pydeps_nix_expression (flake, "x86_64-linux", (const char * const *) attrs);
  store_path = nix_build_expr (nix, expr);
  g_assert_cmpint (run_python (store_path,
                               "import nixexec_fake_alpha, nixexec_fake_beta; "
                               "print(nixexec_fake_alpha.VALUE + ',' + nixexec_fake_beta.VALUE)",
                               &out),
                   ==, 0);
  g_assert_cmpstr (out, ==, "alpha,beta\n");
  g_clear_pointer (&expr, g_free);
  g_clear_pointer (&store_path, g_free);
  g_clear_pointer (&out, g_free);

  /* A hyphenated attribute; and only what was asked for is there. */
  expr = nix_exec_pydeps_nix_expression (flake, "x86_64-linux", beta_only);
  store_path = nix_build_expr (nix, expr);
  g_assert_cmpint (run_python (store_path, "import nixexec_fake_beta; print(nixexec_fake_beta.VALUE)", &out),
                   ==, 0);
  g_assert_cmpstr (out, ==, "beta\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_python (store_path, "import nixexec_fake_alpha", &out), !=, 0);
}

int
main (int   argc,
      char *argv[])
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at /dev/null, and nix,
   * a real child here, needs a home for its caches. */
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (scan_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/nixexec/pydeps/scan/%s", scan_cases[i].name);

      g_test_add_data_func (path, &scan_cases[i], test_scan_case);
    }
  g_test_add_func ("/nixexec/pydeps/scan/agrees-with-ast", test_scan_agrees_with_ast);
  g_test_add_func ("/nixexec/pydeps/scan/deep-nesting", test_scan_deep_nesting);
  g_test_add_func ("/nixexec/pydeps/scan/random-input", test_scan_random_input);
  g_test_add_func ("/nixexec/pydeps/stdlib", test_stdlib);
  g_test_add_func ("/nixexec/pydeps/attr-for-import", test_attr_for_import);
  g_test_add_func ("/nixexec/pydeps/requires/parse", test_requires);
  g_test_add_func ("/nixexec/pydeps/requires/invalid", test_requires_invalid);
  g_test_add_func ("/nixexec/pydeps/requires/pip-refused", test_requires_pip_refused);
  g_test_add_func ("/nixexec/pydeps/resolve/basic", test_resolve);
  g_test_add_func ("/nixexec/pydeps/resolve/pip-refused", test_resolve_pip_refused);
  g_test_add_func ("/nixexec/pydeps/nix/string", test_nix_string);
  g_test_add_func ("/nixexec/pydeps/nix/string-real", test_nix_string_real);
  g_test_add_func ("/nixexec/pydeps/nix/expression", test_nix_expression);
  g_test_add_func ("/nixexec/pydeps/nix/with-packages-real", test_with_packages_real);

  return g_test_run ();
}
