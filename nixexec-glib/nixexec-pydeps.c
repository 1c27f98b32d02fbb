/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Python dependencies: what a Python stage imports, which nixpkgs
 * python3Packages attributes provide it, and the Nix expression of an
 * interpreter that has them.
 *
 * Finding imports. The code is read by a tokenizer that knows as much of
 * Python's lexical grammar as it takes never to mistake text for code:
 * comments; every string literal form (' " ''' """, the prefixes r u b f t
 * and their two-letter combinations in any case, backslash escapes, raw
 * strings); f-strings down to their replacement fields, so that quotes
 * nested inside a field (Python 3.12 allows the outer quote itself), a
 * format spec holding a quote character, `{{`, `\N{...}` and nested
 * f-strings all end where Python ends them; bracket depth and backslash
 * continuations, which join physical lines into logical ones; `;`. It does
 * not need statement structure beyond that: `import` and `from` are hard
 * keywords, so a NAME token `import` is always the start of an import list
 * and `from` starts a from-import exactly when it is followed by a dotted
 * name (or dots) and `import` — anything else (`raise E from e`,
 * `yield from g`) is left alone. Imports anywhere count, indented ones in a
 * function, an `if` or a `try` included: the runtime has to have whatever
 * the stage may import. Relative imports name the stage's own package and
 * are ignored, as are `__future__` and the standard library.
 *
 * Code Python would reject (an unterminated string, say) is read on as well
 * as it can; the stage then fails on its syntax error anyway. A pathological
 * nesting of f-strings deeper than MAX_NESTING ends the scan there.
 *
 * Module names. An import counts by its first dotted component
 * (`import a.b.c` needs `a`), except under the namespace packages in
 * namespace_roots[] that many distributions share, where the second
 * component tells them apart (`google.protobuf`).
 *
 * Attributes. import_renames[] maps the import names whose nixpkgs attribute
 * differs (yaml → pyyaml, PIL → pillow, ...). Any other name maps to itself,
 * case kept: most nixpkgs attributes are the import name. A name that
 * cannot be an attribute (non-ASCII), a namespace root alone and a
 * namespace package the table does not know map to nothing: a stage that
 * needs one names the attribute in a `# requires:` line.
 *
 * `# requires: name, name2` lines add nixpkgs attributes explicitly. They
 * are comments whose `#` is the first character of its line, outside any
 * string or bracket, anywhere in the file (a module docstring may come
 * first); "requires" is matched in any case. An indented or trailing
 * comment is not a `# requires:` line. Each entry is validated as an
 * attribute name. Nothing is installed with pip: an entry that looks like a
 * pip requirement (`name==1.2`, `name>=1`, a URL) is refused with a message
 * that says so.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "nixexec-error.h"
#include "nixexec-pydeps-private.h"
#include "nixexec-wrapper-private.h"

/* Nested strings and replacement fields of f-strings; CPython allows 150. */
#define MAX_NESTING 64

#define MAX_ATTR_LENGTH 128

/* sys.stdlib_module_names of CPython 3.11, sorted by strcmp(), made with
 *   python3 -c 'import sys; print(sorted(sys.stdlib_module_names))'
 * Kept as of 3.11 where later versions dropped a module (distutils, imp,
 * ...): a stage on a newer runtime that needs one names its replacement in
 * a `# requires:` line. */
static const char * const stdlib_modules[] = {
  "__future__", "_abc", "_aix_support", "_ast", "_asyncio", "_bisect",
  "_blake2", "_bootsubprocess", "_bz2", "_codecs", "_codecs_cn",
  "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr", "_codecs_tw",
  "_collections", "_collections_abc", "_compat_pickle", "_compression",
  "_contextvars", "_crypt", "_csv", "_ctypes", "_curses", "_curses_panel",
  "_datetime", "_dbm", "_decimal", "_elementtree", "_frozen_importlib",
  "_frozen_importlib_external", "_functools", "_gdbm", "_hashlib", "_heapq",
  "_imp", "_io", "_json", "_locale", "_lsprof", "_lzma", "_markupbase",
  "_md5", "_msi", "_multibytecodec", "_multiprocessing", "_opcode",
  "_operator", "_osx_support", "_overlapped", "_pickle", "_posixshmem",
  "_posixsubprocess", "_py_abc", "_pydecimal", "_pyio", "_queue", "_random",
  "_scproxy", "_sha1", "_sha256", "_sha3", "_sha512", "_signal",
  "_sitebuiltins", "_socket", "_sqlite3", "_sre", "_ssl", "_stat",
  "_statistics", "_string", "_strptime", "_struct", "_symtable", "_thread",
  "_threading_local", "_tkinter", "_tokenize", "_tracemalloc", "_typing",
  "_uuid", "_warnings", "_weakref", "_weakrefset", "_winapi", "_zoneinfo",
  "abc", "aifc", "antigravity", "argparse", "array", "ast", "asynchat",
  "asyncio", "asyncore", "atexit", "audioop", "base64", "bdb", "binascii",
  "bisect", "builtins", "bz2", "cProfile", "calendar", "cgi", "cgitb",
  "chunk", "cmath", "cmd", "code", "codecs", "codeop", "collections",
  "colorsys", "compileall", "concurrent", "configparser", "contextlib",
  "contextvars", "copy", "copyreg", "crypt", "csv", "ctypes", "curses",
  "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis",
  "distutils", "doctest", "email", "encodings", "ensurepip", "enum",
  "errno", "faulthandler", "fcntl", "filecmp", "fileinput", "fnmatch",
  "fractions", "ftplib", "functools", "gc", "genericpath", "getopt",
  "getpass", "gettext", "glob", "graphlib", "grp", "gzip", "hashlib",
  "heapq", "hmac", "html", "http", "idlelib", "imaplib", "imghdr", "imp",
  "importlib", "inspect", "io", "ipaddress", "itertools", "json", "keyword",
  "lib2to3", "linecache", "locale", "logging", "lzma", "mailbox", "mailcap",
  "marshal", "math", "mimetypes", "mmap", "modulefinder", "msilib",
  "msvcrt", "multiprocessing", "netrc", "nis", "nntplib", "nt", "ntpath",
  "nturl2path", "numbers", "opcode", "operator", "optparse", "os",
  "ossaudiodev", "pathlib", "pdb", "pickle", "pickletools", "pipes",
  "pkgutil", "platform", "plistlib", "poplib", "posix", "posixpath",
  "pprint", "profile", "pstats", "pty", "pwd", "py_compile", "pyclbr",
  "pydoc", "pydoc_data", "pyexpat", "queue", "quopri", "random", "re",
  "readline", "reprlib", "resource", "rlcompleter", "runpy", "sched",
  "secrets", "select", "selectors", "shelve", "shlex", "shutil", "signal",
  "site", "smtpd", "smtplib", "sndhdr", "socket", "socketserver", "spwd",
  "sqlite3", "sre_compile", "sre_constants", "sre_parse", "ssl", "stat",
  "statistics", "string", "stringprep", "struct", "subprocess", "sunau",
  "symtable", "sys", "sysconfig", "syslog", "tabnanny", "tarfile",
  "telnetlib", "tempfile", "termios", "textwrap", "this", "threading",
  "time", "timeit", "tkinter", "token", "tokenize", "tomllib", "trace",
  "traceback", "tracemalloc", "tty", "turtle", "turtledemo", "types",
  "typing", "unicodedata", "unittest", "urllib", "uu", "uuid", "venv",
  "warnings", "wave", "weakref", "webbrowser", "winreg", "winsound",
  "wsgiref", "xdrlib", "xml", "xmlrpc", "zipapp", "zipfile", "zipimport",
  "zlib", "zoneinfo",
};

/* Top-level packages that several distributions install into; an import
 * under one is known by its first two components. */
static const char * const namespace_roots[] = {
  "azure", "backports", "google", "jaraco", "opentelemetry", "ruamel",
  "sphinxcontrib", "zope",
};

/* Import names whose python3Packages attribute is not the import name. */
static const struct {
  const char *module;
  const char *attr;
} import_renames[] = {
  { "Bio", "biopython" },
  { "Crypto", "pycryptodome" },
  { "Cryptodome", "pycryptodomex" },
  { "Cython", "cython" },
  { "IPython", "ipython" },
  { "Levenshtein", "levenshtein" },
  { "MySQLdb", "mysqlclient" },
  { "OpenGL", "pyopengl" },
  { "OpenSSL", "pyopenssl" },
  { "PIL", "pillow" },
  { "PyPDF2", "pypdf2" },
  { "PyQt5", "pyqt5" },
  { "PyQt6", "pyqt6" },
  { "PySide2", "pyside2" },
  { "PySide6", "pyside6" },
  { "SimpleITK", "simpleitk" },
  { "_pytest", "pytest" },
  { "antlr4", "antlr4-python3-runtime" },
  { "argon2", "argon2-cffi" },
  { "attr", "attrs" },
  { "bs4", "beautifulsoup4" },
  { "bson", "pymongo" },
  { "cairo", "pycairo" },
  { "charset_normalizer", "charset-normalizer" },
  { "cv2", "opencv4" },
  { "dateutil", "python-dateutil" },
  { "dbus", "dbus-python" },
  { "discord", "discordpy" },
  { "dns", "dnspython" },
  { "docx", "python-docx" },
  { "dotenv", "python-dotenv" },
  { "email_validator", "email-validator" },
  { "engineio", "python-engineio" },
  { "ffmpeg", "ffmpeg-python" },
  { "fitz", "pymupdf" },
  { "flask_cors", "flask-cors" },
  { "flask_login", "flask-login" },
  { "flask_sqlalchemy", "flask-sqlalchemy" },
  { "flask_wtf", "flask-wtf" },
  { "fpdf", "fpdf2" },
  { "gi", "pygobject3" },
  { "git", "gitpython" },
  { "github", "pygithub" },
  { "gnupg", "python-gnupg" },
  { "google.api_core", "google-api-core" },
  { "google.auth", "google-auth" },
  { "google.generativeai", "google-generativeai" },
  { "google.oauth2", "google-auth" },
  { "google.protobuf", "protobuf" },
  { "googleapiclient", "google-api-python-client" },
  { "grpc", "grpcio" },
  { "huggingface_hub", "huggingface-hub" },
  { "imblearn", "imbalanced-learn" },
  { "jose", "python-jose" },
  { "jsonpath_ng", "jsonpath-ng" },
  { "jwt", "pyjwt" },
  { "kafka", "kafka-python" },
  { "ldap", "python-ldap" },
  { "magic", "python-magic" },
  { "markdown_it", "markdown-it-py" },
  { "more_itertools", "more-itertools" },
  { "mpl_toolkits", "matplotlib" },
  { "multipart", "python-multipart" },
  { "nacl", "pynacl" },
  { "netCDF4", "netcdf4" },
  { "nmap", "python-nmap" },
  { "paho", "paho-mqtt" },
  { "pdfminer", "pdfminer-six" },
  { "pkg_resources", "setuptools" },
  { "pptx", "python-pptx" },
  { "prometheus_client", "prometheus-client" },
  { "pydantic_settings", "pydantic-settings" },
  { "pywt", "pywavelets" },
  { "pyximport", "cython" },
  { "requests_oauthlib", "requests-oauthlib" },
  { "requests_toolbelt", "requests-toolbelt" },
  { "rest_framework", "djangorestframework" },
  { "ruamel.yaml", "ruamel-yaml" },
  { "sentence_transformers", "sentence-transformers" },
  { "sentry_sdk", "sentry-sdk" },
  { "serial", "pyserial" },
  { "skimage", "scikit-image" },
  { "sklearn", "scikit-learn" },
  { "skopt", "scikit-optimize" },
  { "slack_sdk", "slack-sdk" },
  { "slugify", "python-slugify" },
  { "socketio", "python-socketio" },
  { "speech_recognition", "speechrecognition" },
  { "sqlite_utils", "sqlite-utils" },
  { "telegram", "python-telegram-bot" },
  { "tomli_w", "tomli-w" },
  { "typing_extensions", "typing-extensions" },
  { "umap", "umap-learn" },
  { "usb", "pyusb" },
  { "vlc", "python-vlc" },
  { "websocket", "websocket-client" },
  { "wx", "wxpython" },
  { "yaml", "pyyaml" },
  { "zmq", "pyzmq" },
  { "zope.event", "zope-event" },
  { "zope.interface", "zope-interface" },
};

/* Printable form of a piece of stage code, for an error message. */
static char *
printable (const char *text,
           gssize      length)
{
  char *valid = g_utf8_make_valid (text, length);

  for (char *p = valid; *p != '\0'; p++)
    {
      if ((guchar) *p < 0x20 || *p == 0x7f)
        *p = '?';
    }
  return valid;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static gboolean
in_sorted_table (const char * const *table,
                 gsize               n,
                 const char         *name)
{
  return bsearch (&name, table, n, sizeof (char *), compare_strings) != NULL;
}

/* ---------------------------------------------------------------------- */
/* The tokenizer                                                           */

typedef enum {
  TOKEN_END,
  TOKEN_NEWLINE,  /* the end of a logical line, or ';' */
  TOKEN_NAME,
  TOKEN_OP,       /* one punctuation character */
  TOKEN_OTHER,    /* a string, a number, a stray character */
  TOKEN_COMMENT,  /* only when Lexer.comments */
} TokenKind;

typedef struct
{
  TokenKind   kind;
  const char *start;
  gsize       length;
  gboolean    line_start;  /* COMMENT: its '#' starts its line, outside brackets */
} Token;

typedef struct
{
  const char *code;
  const char *p;
  guint       brackets;
  gboolean    comments;
} Lexer;

static inline gboolean
is_name_start (char c)
{
  /* Bytes of non-ASCII UTF-8 sequences: Python's identifiers may have them,
   * and nothing else in the grammar does. */
  return g_ascii_isalpha (c) || c == '_' || (guchar) c >= 0x80;
}

static inline gboolean
is_name_char (char c)
{
  return is_name_start (c) || g_ascii_isdigit (c);
}

static inline gboolean
is_quote (char c)
{
  return c == '\'' || c == '"';
}

static inline gboolean
is_line_end (char c)
{
  return c == '\n' || c == '\r';
}

/* Whether @start (@length bytes, directly followed by a quote) is a string
 * prefix: r u b f t, or rb br fr rf tr rt, in any case. */
static gboolean
parse_string_prefix (const char *start,
                     gsize       length,
                     gboolean   *out_raw,
                     gboolean   *out_format)
{
  gboolean r = FALSE, u = FALSE, b = FALSE, f = FALSE, t = FALSE;

  if (length == 0 || length > 2)
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      gboolean *flag;

      switch (g_ascii_tolower (start[i]))
        {
        case 'r': flag = &r; break;
        case 'u': flag = &u; break;
        case 'b': flag = &b; break;
        case 'f': flag = &f; break;
        case 't': flag = &t; break;
        default: return FALSE;
        }
      if (*flag)
        return FALSE;
      *flag = TRUE;
    }

  if (length == 2 && !r)
    return FALSE;  /* the only pairs are r with one of b f t */
  if (u && length != 1)
    return FALSE;

  *out_raw = r;
  /* t-strings (3.14) have the f-string syntax. */
  *out_format = f || t;
  return TRUE;
}

static const char *skip_string (const char *p,
                                gboolean    raw,
                                gboolean    format,
                                guint       nesting);

/* Past the backslash escape at @p (which is a backslash), inside a string
 * literal. */
static const char *
skip_escape (const char *p,
             gboolean    raw,
             gboolean    format)
{
  g_assert (*p == '\\');

  if (p[1] == '\0')
    return p + 1;
  /* In an f-string a backslash before a brace is a plain character and the
   * brace still opens or closes a field. */
  if (format && (p[1] == '{' || p[1] == '}'))
    return p + 1;
  /* \N{NAME} is an escape, not a field. */
  if (format && !raw && p[1] == 'N' && p[2] == '{')
    {
      p += 3;
      while (g_ascii_isalnum (*p) || *p == ' ' || *p == '-')
        p++;
      return *p == '}' ? p + 1 : p;
    }
  if (p[1] == '\r' && p[2] == '\n')
    return p + 3;
  /* Also in a raw string, where the pair stays in the value: a backslash
   * still keeps the quote after it from ending the string. */
  return p + 2;
}

static const char *skip_replacement_field (const char *p,
                                           char        quote,
                                           gboolean    triple,
                                           guint       nesting);

static gboolean
at_string_end (const char *p,
               char        quote,
               gboolean    triple)
{
  return *p == quote && (!triple || (p[1] == quote && p[2] == quote));
}

/* The format spec of a replacement field, after its ':': literal text of the
 * enclosing string (@quote, @triple) that may hold nested fields. Returns
 * past the field's '}', or at the end of the enclosing string if the spec
 * runs into it (code Python rejects). */
static const char *
skip_format_spec (const char *p,
                  char        quote,
                  gboolean    triple,
                  guint       nesting)
{
  while (*p != '\0')
    {
      if (at_string_end (p, quote, triple) || (!triple && is_line_end (*p)))
        return p;
      if (*p == '}')
        return p + 1;
      if (*p == '{')
        {
          p = skip_replacement_field (p + 1, quote, triple, nesting + 1);
          continue;
        }
      if (*p == '\\')
        {
          p = skip_escape (p, TRUE, TRUE);
          continue;
        }
      p++;
    }
  return p;
}

/* The expression part of a replacement field, after its '{': code, with
 * strings of its own. Returns past the field's '}'. */
static const char *
skip_replacement_field (const char *p,
                        char        quote,
                        gboolean    triple,
                        guint       nesting)
{
  guint brackets = 0;

  if (nesting > MAX_NESTING)
    return p + strlen (p);

  while (*p != '\0')
    {
      char c = *p;

      if (is_quote (c))
        {
          p = skip_string (p, FALSE, FALSE, nesting + 1);
          continue;
        }
      if (is_name_start (c))
        {
          const char *start = p;
          gboolean raw, format;

          while (is_name_char (*p))
            p++;
          if (is_quote (*p) && parse_string_prefix (start, p - start, &raw, &format))
            p = skip_string (p, raw, format, nesting + 1);
          continue;
        }
      if (c == '#')
        {
          /* A comment in a multi-line field (3.12). */
          while (*p != '\0' && !is_line_end (*p))
            p++;
          continue;
        }

      switch (c)
        {
        case '\\':
          p += p[1] != '\0' ? 2 : 1;
          continue;
        case '(':
        case '[':
        case '{':
          brackets++;
          break;
        case ')':
        case ']':
          if (brackets > 0)
            brackets--;
          break;
        case '}':
          if (brackets == 0)
            return p + 1;
          brackets--;
          break;
        case ':':
          /* Outside brackets a colon starts the format spec (even `:=`;
           * a walrus or a lambda in a field has to be parenthesised). */
          if (brackets == 0)
            return skip_format_spec (p + 1, quote, triple, nesting);
          break;
        default:
          break;
        }
      p++;
    }
  return p;
}

/* Past the string literal whose opening quote is at @p. An unterminated
 * single-quoted string ends with its line, a triple-quoted one with the
 * code. */
static const char *
skip_string (const char *p,
             gboolean    raw,
             gboolean    format,
             guint       nesting)
{
  const char quote = *p;
  gboolean triple;

  g_assert (is_quote (quote));

  if (nesting > MAX_NESTING)
    return p + strlen (p);

  triple = p[1] == quote && p[2] == quote;
  p += triple ? 3 : 1;

  while (*p != '\0')
    {
      if (at_string_end (p, quote, triple))
        return p + (triple ? 3 : 1);
      if (!triple && is_line_end (*p))
        return p;
      if (*p == '\\')
        {
          p = skip_escape (p, raw, format);
          continue;
        }
      if (format && *p == '{')
        {
          if (p[1] == '{')
            p += 2;
          else
            p = skip_replacement_field (p + 1, quote, triple, nesting + 1);
          continue;
        }
      p++;
    }
  return p;
}

static void
lexer_init (Lexer      *lexer,
            const char *code,
            gboolean    comments)
{
  lexer->code = code;
  lexer->p = code;
  lexer->brackets = 0;
  lexer->comments = comments;
}

static void
lexer_next (Lexer *lexer,
            Token *token)
{
  const char *p = lexer->p;

  token->line_start = FALSE;

  for (;;)
    {
      const char *start = p;
      char c = *p;

      token->start = start;

      if (c == '\0')
        {
          token->kind = TOKEN_END;
          break;
        }
      if (c == ' ' || c == '\t' || c == '\f')
        {
          p++;
          continue;
        }
      if (c == '\\' && is_line_end (p[1]))
        {
          /* A continuation: the next line is part of this one. */
          p += (p[1] == '\r' && p[2] == '\n') ? 3 : 2;
          continue;
        }
      if (c == '#')
        {
          while (*p != '\0' && !is_line_end (*p))
            p++;
          if (!lexer->comments)
            continue;
          token->kind = TOKEN_COMMENT;
          token->line_start = lexer->brackets == 0 &&
                              (start == lexer->code || is_line_end (start[-1]));
          break;
        }
      if (is_line_end (c))
        {
          p += (c == '\r' && p[1] == '\n') ? 2 : 1;
          if (lexer->brackets > 0)
            continue;
          token->kind = TOKEN_NEWLINE;
          break;
        }
      if (c == ';')
        {
          p++;
          token->kind = TOKEN_NEWLINE;
          break;
        }
      if (is_quote (c))
        {
          p = skip_string (p, FALSE, FALSE, 0);
          token->kind = TOKEN_OTHER;
          break;
        }
      if (is_name_start (c))
        {
          gboolean raw, format;

          while (is_name_char (*p))
            p++;
          if (is_quote (*p) && parse_string_prefix (start, p - start, &raw, &format))
            {
              p = skip_string (p, raw, format, 0);
              token->kind = TOKEN_OTHER;
            }
          else
            {
              token->kind = TOKEN_NAME;
            }
          break;
        }
      if (g_ascii_isdigit (c) || (c == '.' && g_ascii_isdigit (p[1])))
        {
          /* A number; its exponent's sign, if any, is read as an operator,
           * which is harmless here. */
          while (is_name_char (*p) || *p == '.')
            p++;
          token->kind = TOKEN_OTHER;
          break;
        }

      if (c == '(' || c == '[' || c == '{')
        lexer->brackets++;
      else if ((c == ')' || c == ']' || c == '}') && lexer->brackets > 0)
        lexer->brackets--;
      p++;
      token->kind = TOKEN_OP;
      break;
    }

  token->length = p - token->start;
  lexer->p = p;
}

static gboolean
token_is_name (const Token *token,
               const char  *name)
{
  return token->kind == TOKEN_NAME &&
         token->length == strlen (name) &&
         memcmp (token->start, name, token->length) == 0;
}

/* A NAME that can name a module: not one of Python's hard keywords. */
static gboolean
token_is_identifier (const Token *token)
{
  static const char * const keywords[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break",
    "class", "continue", "def", "del", "elif", "else", "except", "finally",
    "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
  };

  if (token->kind != TOKEN_NAME)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (keywords); i++)
    {
      if (token_is_name (token, keywords[i]))
        return FALSE;
    }
  return TRUE;
}

static gboolean
token_is_op (const Token *token,
             char         op)
{
  return token->kind == TOKEN_OP && token->start[0] == op;
}

/* ---------------------------------------------------------------------- */
/* Imports                                                                 */

typedef struct
{
  GPtrArray  *names;  /* (element-type utf8), owned */
  GHashTable *seen;   /* borrows the strings of names */
} ImportList;

static gboolean
is_namespace_root (const char *name)
{
  return in_sorted_table (namespace_roots, G_N_ELEMENTS (namespace_roots), name);
}

/* Adds the module that @dotted (a.b.c) makes the stage depend on. */
static void
import_list_add (ImportList *list,
                 const char *dotted)
{
  const char *dot = strchr (dotted, '.');
  g_autofree char *first = dot != NULL ? g_strndup (dotted, dot - dotted) : g_strdup (dotted);
  g_autofree char *module = NULL;

  if (nix_exec_pydeps_is_stdlib (first) || strcmp (first, "__main__") == 0)
    return;

  if (dot != NULL && is_namespace_root (first))
    {
      const char *second_end = strchr (dot + 1, '.');

      module = second_end != NULL ? g_strndup (dotted, second_end - dotted) : g_strdup (dotted);
    }
  else
    {
      module = g_steal_pointer (&first);
    }

  if (g_hash_table_contains (list->seen, module))
    return;
  g_hash_table_add (list->seen, module);
  g_ptr_array_add (list->names, g_steal_pointer (&module));
}

/* NAME ('.' NAME)*, appended to @out. On FALSE nothing was read. */
static gboolean
read_dotted_name (Lexer   *lexer,
                  GString *out)
{
  Lexer before = *lexer;
  Token token;

  lexer_next (lexer, &token);
  if (!token_is_identifier (&token))
    {
      *lexer = before;
      return FALSE;
    }
  g_string_append_len (out, token.start, token.length);

  for (;;)
    {
      Token name;

      before = *lexer;
      lexer_next (lexer, &token);
      if (!token_is_op (&token, '.'))
        break;
      lexer_next (lexer, &name);
      if (!token_is_identifier (&name))
        break;
      g_string_append_c (out, '.');
      g_string_append_len (out, name.start, name.length);
    }

  *lexer = before;
  return TRUE;
}

/* Past an optional `as NAME`. */
static void
skip_alias (Lexer *lexer)
{
  Lexer before = *lexer;
  Token token;

  lexer_next (lexer, &token);
  if (!token_is_name (&token, "as"))
    {
      *lexer = before;
      return;
    }
  before = *lexer;
  lexer_next (lexer, &token);
  if (token.kind != TOKEN_NAME)
    *lexer = before;
}

/* Past a ',' if there is one. */
static gboolean
skip_comma (Lexer *lexer)
{
  Lexer before = *lexer;
  Token token;

  lexer_next (lexer, &token);
  if (token_is_op (&token, ','))
    return TRUE;
  *lexer = before;
  return FALSE;
}

/* After `import`: a.b [as c], d, ... */
static void
parse_import (Lexer      *lexer,
              ImportList *list)
{
  g_autoptr(GString) name = g_string_new (NULL);

  do
    {
      g_string_truncate (name, 0);
      if (!read_dotted_name (lexer, name))
        return;
      import_list_add (list, name->str);
      skip_alias (lexer);
    }
  while (skip_comma (lexer));
}

/* After `from`: ('.'* dotted | '.'+) `import`, or nothing at all (`yield
 * from`, `raise ... from`), in which case the lexer is left where it was. */
static void
parse_from (Lexer      *lexer,
            ImportList *list)
{
  Lexer after_from = *lexer;
  g_autoptr(GString) module = g_string_new (NULL);
  gboolean has_module;
  guint dots = 0;
  Token token;

  for (;;)
    {
      Lexer before = *lexer;

      lexer_next (lexer, &token);
      if (!token_is_op (&token, '.'))
        {
          *lexer = before;
          break;
        }
      dots++;
    }

  has_module = read_dotted_name (lexer, module);
  lexer_next (lexer, &token);
  if ((!has_module && dots == 0) || !token_is_name (&token, "import"))
    {
      *lexer = after_from;
      return;
    }

  /* Relative: the stage's own package, never a dependency. */
  if (dots > 0)
    return;

  if (!is_namespace_root (module->str))
    {
      import_list_add (list, module->str);
      return;
    }

  /* `from google import protobuf, auth as a`: the names imported are the
   * packages. */
  {
    Lexer before = *lexer;
    gboolean parenthesised;

    lexer_next (lexer, &token);
    parenthesised = token_is_op (&token, '(');
    if (!parenthesised)
      *lexer = before;

    do
      {
        lexer_next (lexer, &token);
        if (!token_is_identifier (&token))
          break;
        g_string_append_c (module, '.');
        g_string_append_len (module, token.start, token.length);
        import_list_add (list, module->str);
        g_string_truncate (module, strchr (module->str, '.') - module->str);
        skip_alias (lexer);
      }
    while (skip_comma (lexer));
  }
}

/**
 * nix_exec_pydeps_scan_imports:
 * @code: Python source
 *
 * The modules @code imports that are not part of the standard library: the
 * first dotted component of each (the first two under a namespace package
 * such as `google`), in the order first seen, each once. Relative imports
 * and `__future__` are left out.
 *
 * Returns: (transfer full): the module names, possibly none
 */
GStrv
nix_exec_pydeps_scan_imports (const char *code)
{
  ImportList list;
  Lexer lexer;
  Token token;

  g_return_val_if_fail (code != NULL, NULL);

  list.names = g_ptr_array_new_with_free_func (g_free);
  list.seen = g_hash_table_new (g_str_hash, g_str_equal);

  lexer_init (&lexer, code, FALSE);
  for (lexer_next (&lexer, &token); token.kind != TOKEN_END; lexer_next (&lexer, &token))
    {
      if (token_is_name (&token, "import"))
        parse_import (&lexer, &list);
      else if (token_is_name (&token, "from"))
        parse_from (&lexer, &list);
    }

  g_hash_table_unref (list.seen);
  g_ptr_array_add (list.names, NULL);
  return (GStrv) g_ptr_array_free (list.names, FALSE);
}

/**
 * nix_exec_pydeps_is_stdlib:
 * @module: a top-level module name
 *
 * Returns: whether @module is part of Python's standard library (as of
 *   3.11), `__future__` included
 */
gboolean
nix_exec_pydeps_is_stdlib (const char *module)
{
  g_return_val_if_fail (module != NULL, FALSE);

  return in_sorted_table (stdlib_modules, G_N_ELEMENTS (stdlib_modules), module);
}

static gboolean
is_valid_attr (const char *attr)
{
  gsize length = strlen (attr);

  if (length == 0 || length > MAX_ATTR_LENGTH)
    return FALSE;
  if (!g_ascii_isalpha (attr[0]) && attr[0] != '_')
    return FALSE;
  for (const char *p = attr + 1; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '_' && *p != '.' && *p != '-')
        return FALSE;
    }
  return TRUE;
}

/**
 * nix_exec_pydeps_attr_for_import:
 * @module: a module name as nix_exec_pydeps_scan_imports() gives it
 *
 * The python3Packages attribute that provides @module: the table's entry
 * for a known rename, otherwise @module itself, case kept.
 *
 * Returns: (transfer full) (nullable): the attribute, or %NULL when there is
 *   no telling (a namespace package the table does not know, a name that
 *   cannot be an attribute)
 */
char *
nix_exec_pydeps_attr_for_import (const char *module)
{
  const char *dot;

  g_return_val_if_fail (module != NULL, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (import_renames); i++)
    {
      if (strcmp (import_renames[i].module, module) == 0)
        return g_strdup (import_renames[i].attr);
    }

  dot = strchr (module, '.');
  if (dot != NULL || is_namespace_root (module) || !is_valid_attr (module))
    return NULL;

  return g_strdup (module);
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */

/**
 * nix_exec_pydeps_validate_attr:
 * @attr: what a `# requires:` line names
 * @error: return location for a %NIX_EXEC_ERROR_INVALID_STAGE error
 *
 * Checks that @attr can be a python3Packages attribute name: a letter or
 * `_`, then letters, digits, `_`, `.` and `-`, at most 128 characters.
 *
 * Returns: %TRUE if it can
 */
gboolean
nix_exec_pydeps_validate_attr (const char  *attr,
                               GError     **error)
{
  g_autofree char *shown = NULL;

  g_return_val_if_fail (attr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (is_valid_attr (attr))
    return TRUE;

  shown = printable (attr, -1);
  if (strlen (attr) > MAX_ATTR_LENGTH)
    g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                 "“%.40s…” is not a nixpkgs attribute name: it is longer than %d characters",
                 shown, MAX_ATTR_LENGTH);
  else
    g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                 "“%s” is not a nixpkgs attribute name: it must start with a "
                 "letter or “_” and hold only letters, digits, “_”, “.” and “-”",
                 shown);
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* `# requires:`                                                           */

static guint
line_number (const char *code,
             const char *at)
{
  guint line = 1;

  for (const char *p = code; p < at; p++)
    {
      if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
        line++;
    }
  return line;
}

/* The text after "requires:" if @comment (from its '#') is a `# requires:`
 * line. */
static const char *
requires_list (const char *comment,
               gsize       length,
               gsize      *out_length)
{
  const char *end = comment + length;
  const char *p = comment + 1;

  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if ((gsize) (end - p) < strlen ("requires") ||
      g_ascii_strncasecmp (p, "requires", strlen ("requires")) != 0)
    return NULL;
  p += strlen ("requires");
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p != ':')
    return NULL;
  p++;

  *out_length = end - p;
  return p;
}

static gboolean
looks_like_pip (const char *entry)
{
  return strpbrk (entry, "=<>~@") != NULL || strstr (entry, "://") != NULL;
}

static void
add_unique (GPtrArray  *array,
            const char *item)
{
  for (guint i = 0; i < array->len; i++)
    {
      if (strcmp (g_ptr_array_index (array, i), item) == 0)
        return;
    }
  g_ptr_array_add (array, g_strdup (item));
}

/**
 * nix_exec_pydeps_parse_requires:
 * @code: Python source
 * @out_attrs: (out) (optional) (transfer full): the python3Packages
 *   attributes named, in order, each once
 * @error: return location for a %NIX_EXEC_ERROR_INVALID_STAGE error
 *
 * Reads the `# requires: name, name2` lines of @code: comment lines whose
 * `#` is the first character of the line, outside strings and brackets,
 * anywhere in the file. Entries are separated by commas; empty entries are
 * skipped. Every entry must be a valid attribute name, or the whole call
 * fails; one that looks like a pip requirement fails with a message saying
 * that pip is not supported.
 *
 * Returns: %TRUE on success
 */
gboolean
nix_exec_pydeps_parse_requires (const char  *code,
                                GStrv       *out_attrs,
                                GError     **error)
{
  g_autoptr(GPtrArray) attrs = NULL;
  Lexer lexer;
  Token token;

  g_return_val_if_fail (code != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  attrs = g_ptr_array_new_with_free_func (g_free);

  lexer_init (&lexer, code, TRUE);
  for (lexer_next (&lexer, &token); token.kind != TOKEN_END; lexer_next (&lexer, &token))
    {
      g_auto(GStrv) entries = NULL;
      g_autofree char *list = NULL;
      const char *list_start;
      gsize list_length;

      if (token.kind != TOKEN_COMMENT || !token.line_start)
        continue;
      list_start = requires_list (token.start, token.length, &list_length);
      if (list_start == NULL)
        continue;

      list = g_strndup (list_start, list_length);
      entries = g_strsplit (list, ",", -1);
      for (guint i = 0; entries[i] != NULL; i++)
        {
          g_autoptr(GError) local_error = NULL;
          const char *entry = g_strstrip (entries[i]);

          if (*entry == '\0')
            continue;

          if (looks_like_pip (entry))
            {
              g_autofree char *shown = printable (entry, -1);

              g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                           "Line %u of the stage: “%s” in “# requires:” looks like a "
                           "pip requirement, and pip is not supported: name the nixpkgs "
                           "python3Packages attribute instead (such as “requests”)",
                           line_number (code, token.start), shown);
              return FALSE;
            }

          if (nix_exec_pydeps_validate_attr (entry, &local_error))
            {
              add_unique (attrs, entry);
              continue;
            }

          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                       "Line %u of the stage, “# requires:”: %s",
                       line_number (code, token.start), local_error->message);
          return FALSE;
        }
    }

  if (out_attrs != NULL)
    {
      g_ptr_array_add (attrs, NULL);
      *out_attrs = (GStrv) g_ptr_array_free (g_steal_pointer (&attrs), FALSE);
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Resolution and the Nix expression                                       */

/* A sorted copy of @strv without duplicates. */
static GStrv
sorted_unique (const char * const *strv)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    g_ptr_array_add (sorted, (gpointer) strv[i]);
  g_ptr_array_sort (sorted, compare_strings);

  for (guint i = 0; i < sorted->len; i++)
    {
      const char *item = g_ptr_array_index (sorted, i);

      if (i == 0 || strcmp (item, g_ptr_array_index (sorted, i - 1)) != 0)
        g_ptr_array_add (out, g_strdup (item));
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

/**
 * nix_exec_pydeps_resolve:
 * @code: Python source
 * @error: return location for a %NIX_EXEC_ERROR_INVALID_STAGE error
 *
 * The python3Packages attributes a stage needs: those its imports map to
 * and those its `# requires:` lines name, sorted, each once.
 *
 * Returns: (transfer full) (nullable): the attributes, possibly none, or
 *   %NULL on error
 */
GStrv
nix_exec_pydeps_resolve (const char  *code,
                         GError     **error)
{
  g_auto(GStrv) required = NULL;
  g_auto(GStrv) imports = NULL;
  g_autoptr(GPtrArray) attrs = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (code != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!nix_exec_pydeps_parse_requires (code, &required, error))
    return NULL;

  for (guint i = 0; required[i] != NULL; i++)
    g_ptr_array_add (attrs, g_strdup (required[i]));

  imports = nix_exec_pydeps_scan_imports (code);
  for (guint i = 0; imports[i] != NULL; i++)
    {
      g_autofree char *attr = nix_exec_pydeps_attr_for_import (imports[i]);

      if (attr == NULL)
        continue;
      g_ptr_array_add (attrs, g_steal_pointer (&attr));
    }
  g_ptr_array_add (attrs, NULL);

  return sorted_unique ((const char * const *) attrs->pdata);
}

/**
 * nix_exec_pydeps_nix_string:
 * @text: any text
 *
 * @text as a Nix string literal: in double quotes, with `\`, `"` and the `$`
 * of `${` escaped (and newlines, returns and tabs written as escapes), so
 * that nothing in it is interpolated.
 *
 * Returns: (transfer full): the literal
 */
char *
nix_exec_pydeps_nix_string (const char *text)
{
  GString *out;

  g_return_val_if_fail (text != NULL, NULL);

  out = g_string_sized_new (strlen (text) + 2);
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '$':
          g_string_append (out, p[1] == '{' ? "\\$" : "$");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          g_string_append_c (out, *p);
          break;
        }
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

/* Whether @attr can follow `ps.` unquoted: a Nix identifier that is no
 * keyword (nor one of the __ names the parser treats specially). */
static gboolean
is_plain_nix_identifier (const char *attr)
{
  static const char * const keywords[] = {
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
  };

  if (!g_ascii_isalpha (attr[0]) && attr[0] != '_')
    return FALSE;
  if (g_str_has_prefix (attr, "__"))
    return FALSE;
  for (const char *p = attr + 1; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
        return FALSE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (keywords); i++)
    {
      if (strcmp (attr, keywords[i]) == 0)
        return FALSE;
    }
  return TRUE;
}

/**
 * nix_exec_pydeps_nix_expression:
 * @flake_ref: the configured flake
 * @system: the Nix system, such as `x86_64-linux`
 * @attrs: (array zero-terminated=1): python3Packages attributes
 *
 * The expression, for `nix build --impure --expr`, of the flake's python3
 * with @attrs:
 *
 *     (builtins.getFlake "<flake_ref>").packages."<system>".python3.withPackages (ps: [ ps.a ps."b-c" ])
 *
 * @flake_ref and @system are Nix string literals, an attribute that is not
 * a plain Nix identifier is quoted, and the attributes are sorted and
 * deduplicated, so that the same set always gives the same expression.
 * getFlake on a flake reference that is not locked needs `--impure`.
 *
 * Returns: (transfer full): the expression
 */
char *
nix_exec_pydeps_nix_expression (const char         *flake_ref,
                                const char         *system,
                                const char * const *attrs)
{
  g_autofree char *flake_literal = NULL;
  g_autofree char *system_literal = NULL;
  g_auto(GStrv) sorted = NULL;
  GString *expr;

  g_return_val_if_fail (flake_ref != NULL, NULL);
  g_return_val_if_fail (system != NULL, NULL);

  flake_literal = nix_exec_pydeps_nix_string (flake_ref);
  system_literal = nix_exec_pydeps_nix_string (system);
  sorted = sorted_unique (attrs);

  expr = g_string_new (NULL);
  g_string_append_printf (expr, "(builtins.getFlake %s).packages.%s.%s.withPackages (ps: [",
                          flake_literal, system_literal,
                          nix_exec_language_runtime_attr (NIX_EXEC_LANGUAGE_PYTHON));
  for (guint i = 0; sorted[i] != NULL; i++)
    {
      if (is_plain_nix_identifier (sorted[i]))
        {
          g_string_append_printf (expr, " ps.%s", sorted[i]);
        }
      else
        {
          g_autofree char *literal = nix_exec_pydeps_nix_string (sorted[i]);

          g_string_append_printf (expr, " ps.%s", literal);
        }
    }
  g_string_append (expr, " ])");
  return g_string_free (expr, FALSE);
}
