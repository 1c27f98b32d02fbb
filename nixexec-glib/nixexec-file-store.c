/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "nixexec-error.h"
#include "nixexec-file-store.h"
#include "nixexec-json-private.h"
#include "nixexec-stage-store.h"

/**
 * NixExecFileStore:
 *
 * A [iface@NixExec.StageStore] kept in one JSON file, in the `store.json`
 * layout of the reference implementation (noether):
 *
 * ```json
 * {
 *   "stages": [
 *     {
 *       "id": "3f2a…",
 *       "name": "double",
 *       "signature": {
 *         "input": "Number",
 *         "output": "Number",
 *         "effects": {
 *           "effects": [{"effect": "Pure"}]
 *         }
 *       },
 *       "implementation_code": "def execute(x):\n    return 2 * x\n",
 *       "implementation_language": "python",
 *       "lifecycle": "Active"
 *     }
 *   ]
 * }
 * ```
 *
 * Of each stage the store reads `id` (a non-empty string, unique in the
 * file), `name`, `implementation_code`, `implementation_language` (strings,
 * or absent, or `null`) and `signature.effects` (the JSON form of
 * [class@NixExec.EffectSet]; absent or `null` is `{Unknown}`). A stage
 * without code or language is still a stage of the store, with an empty
 * [property@NixExec.Stage:code] or [property@NixExec.Stage:language]: it is
 * listed, but [ctor@NixExec.Executor.new_from_store] leaves it out.
 *
 * Everything else in the file (members beside `stages`, the other members
 * of each stage and of its `signature`) is written back as it was read, in
 * its order. The store rewrites only the members it owns, and only those of
 * the stage being added, and only where their value changes. The file is
 * written pretty-printed with an indent of two spaces, as the reference
 * writes it.
 *
 * It is also a [iface@Gio.ListModel] of [class@NixExec.Stage], so a user
 * interface can show it directly: [method@NixExec.FileStore.add],
 * [method@NixExec.FileStore.remove] and [method@NixExec.FileStore.reload]
 * emit [signal@Gio.ListModel::items-changed] for what changed.
 *
 * ## Saving
 *
 * Each [method@NixExec.FileStore.add] and [method@NixExec.FileStore.remove]
 * saves at once. A save never leaves a partly written file behind: the new
 * contents are written to a file beside the store and flushed to disk, and
 * that file is then renamed over the store, so a reader (or a crash) sees
 * either the old file or the new one.
 *
 * That file has no name while it is written (`O_TMPFILE`), so a save that
 * is killed meanwhile leaves nothing; it is given a temporary name,
 * `store.json.nixexec-save-` and six letters or digits, only for the
 * moment before the rename. Where the file system cannot make unnamed
 * files, or `/proc` is not mounted, the file has that name from the start.
 * A save killed while the name exists leaves that file behind (the store
 * never reads it); the next add or remove, holding the writers' lock that
 * every save holds while its temporary file exists, removes the regular
 * files of that exact name pattern beside the store, and nothing else
 * (not the `store.json.XXXXXX` files that saves of earlier versions could
 * leave, a name other programs use too).
 *
 * An existing file keeps its permissions; a new one is created readable
 * and writable by its owner only. If the store's path is a symbolic link,
 * the file it points to is replaced.
 *
 * Writers are serialised by an exclusive lock (`flock(2)`) on a file
 * beside the store, named after it with `.lock` appended, which is created
 * when needed and never removed. Holding the lock, a writer reads the file
 * again, applies its one change to what it read and writes the result, so
 * stores in several threads or processes adding and removing stages in the
 * same file never lose each other's changes. Adding or removing a stage
 * blocks while another writer holds the lock. Loading takes no lock, so a
 * store can be read from a file or directory the caller cannot write.
 *
 * Since every save reads the file first, the store's stages are those of
 * the file as last read: changes other writers made show up after the next
 * add, remove or reload. An add or a remove reads, checks and writes the
 * whole file, in time linear in the number of stages: about what loading
 * the store takes, plus writing it.
 *
 * ## Errors
 *
 * The file is read by the library's strict JSON reader, and must be
 * exactly one JSON text as RFC 8259 defines it, with white space around it
 * and nothing else: no second document after the first, no byte order
 * mark, comments, trailing commas, single quotes or hexadecimal numbers,
 * and valid UTF-8. It is also refused, rather than changed on the next
 * save, when it holds what could not be written back as it was read: an
 * object with the same member name twice (such as two `stages`, or two
 * `id` in one stage), arrays and objects nested more than 512 levels deep
 * (the file's own object being the first), an integer outside the 64-bit
 * range, a number beyond the range of a double, or a string holding
 * U+0000 or a lone UTF-16 surrogate.
 *
 * Such a file, and one that is empty or does not follow the layout, fails
 * to load with %NIX_EXEC_ERROR_INVALID_STORE, and a message that names the
 * file and says what is wrong and where, such as `/home/me/store.json: The
 * key “stages” appears twice in one object at line 3, column 3`. The file
 * is never written in that case: adding and removing fail too, and leave
 * it byte for byte as it was; a store that loaded before keeps its stages.
 * A file that does not exist is an empty store; it is created by the first
 * add.
 *
 * What the store writes is always valid JSON, which that reader and any
 * other reads back. A fractional number is written back as the shortest
 * text that reads as the same double, so `0.1` stays `0.1`; strings may be
 * escaped differently than they were (`\u00e9` is written as `é`), with
 * the same value.
 *
 * A store object, like any [iface@Gio.ListModel], belongs to the thread
 * that uses it; use one store per thread.
 *
 * Since: 1.0
 */

struct _NixExecFileStore
{
  GObject    parent_instance;

  /* Absolute; set once, at construction. */
  char      *path;

  /* Owned references to NixExecStage, in file order; ids are unique. */
  GPtrArray *stages;
  /* The same stages by id: keys are the stages' own (construct-only) id
   * strings, values borrowed from @stages. */
  GHashTable *index;
};

static void nix_exec_file_store_list_model_init (GListModelInterface *iface);
static void nix_exec_file_store_stage_store_init (NixExecStageStoreInterface *iface);
static void nix_exec_file_store_initable_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NixExecFileStore, nix_exec_file_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      nix_exec_file_store_list_model_init)
                               G_IMPLEMENT_INTERFACE (NIX_EXEC_TYPE_STAGE_STORE,
                                                      nix_exec_file_store_stage_store_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      nix_exec_file_store_initable_init))

enum {
  PROP_0,
  PROP_PATH,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One reading of the store file. */
typedef struct
{
  /* The file's bytes, NUL-terminated; NULL when the file does not exist. */
  char      *contents;
  gsize      length;
  /* Owned; an object with a "stages" array. */
  JsonNode  *root;
  /* Owned references to NixExecStage, one per element of "stages". */
  GPtrArray *stages;
} StoreDocument;

static void
store_document_free (StoreDocument *doc)
{
  g_free (doc->contents);
  g_clear_pointer (&doc->root, json_node_unref);
  g_clear_pointer (&doc->stages, g_ptr_array_unref);
  g_free (doc);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreDocument, store_document_free)

static JsonArray *
store_document_get_array (StoreDocument *doc)
{
  return json_object_get_array_member (json_node_get_object (doc->root), "stages");
}

/* Reading */

static const char *
describe_node (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      return "an object";
    case JSON_NODE_ARRAY:
      return "an array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
    default:
      break;
    }

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    case G_TYPE_INT64:
    case G_TYPE_DOUBLE:
    default:
      return "a number";
    }
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

/* Reads an optional string member: absent and null give NULL. */
static gboolean
read_string_member (JsonObject  *object,
                    const char  *member,
                    const char  *stage_id,
                    const char **out_value,
                    GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  *out_value = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_is_string (node))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "stage “%s”: “%s” is %s, expected a string",
                   stage_id, member, describe_node (node));
      return FALSE;
    }
  *out_value = json_node_get_string (node);
  return TRUE;
}

/* The effects a stage object declares: signature.effects, or {Unknown}
 * when there is none. */
static NixExecEffectSet *
read_effects (JsonObject  *object,
              const char  *stage_id,
              GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *signature = json_object_get_member (object, "signature");
  JsonNode *effects;
  NixExecEffectSet *set;

  if (signature == NULL || JSON_NODE_HOLDS_NULL (signature))
    return nix_exec_effect_set_new_unknown ();
  if (!JSON_NODE_HOLDS_OBJECT (signature))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "stage “%s”: “signature” is %s, expected an object",
                   stage_id, describe_node (signature));
      return NULL;
    }

  effects = json_object_get_member (json_node_get_object (signature), "effects");
  if (effects == NULL || JSON_NODE_HOLDS_NULL (effects))
    return nix_exec_effect_set_new_unknown ();

  set = nix_exec_effect_set_new_from_json (effects, &local_error);
  if (set == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "stage “%s”: signature.effects: %s", stage_id, local_error->message);
      return NULL;
    }
  return set;
}

/* Whether @stage reads as these members do. Effects compare as sets, as
 * update_stage_object() compares them. */
static gboolean
stage_matches (NixExecStage     *stage,
               const char       *name,
               const char       *code,
               const char       *language,
               NixExecEffectSet *effects)
{
  return g_strcmp0 (nix_exec_stage_get_name (stage), name) == 0 &&
         g_str_equal (nix_exec_stage_get_code (stage), code != NULL ? code : "") &&
         g_str_equal (nix_exec_stage_get_language (stage), language != NULL ? language : "") &&
         nix_exec_effect_set_equal (nix_exec_stage_get_effects (stage), effects);
}

/* The stage @node describes. When @known (id → stage, or NULL) has one
 * that reads the same, that very object is returned, so that a model's
 * items stay the same objects where nothing changed, and a save does not
 * build (and then drop) an object for every stage of the file. */
static NixExecStage *
stage_from_node (JsonNode    *node,
                 guint        index,
                 GHashTable  *known,
                 GError     **error)
{
  NixExecStage *same;
  g_autoptr(NixExecEffectSet) effects = NULL;
  JsonObject *object;
  JsonNode *id_node;
  const char *id;
  const char *name;
  const char *code;
  const char *language;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "stages[%u] is %s, expected an object", index, describe_node (node));
      return NULL;
    }
  object = json_node_get_object (node);

  id_node = json_object_get_member (object, "id");
  if (id_node == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "stages[%u] has no “id”", index);
      return NULL;
    }
  if (!node_is_string (id_node) || *json_node_get_string (id_node) == '\0')
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "stages[%u]: “id” is %s, expected a non-empty string", index,
                   node_is_string (id_node) ? "empty" : describe_node (id_node));
      return NULL;
    }
  id = json_node_get_string (id_node);

  if (!read_string_member (object, "name", id, &name, error) ||
      !read_string_member (object, "implementation_code", id, &code, error) ||
      !read_string_member (object, "implementation_language", id, &language, error))
    return NULL;

  effects = read_effects (object, id, error);
  if (effects == NULL)
    return NULL;

  same = known != NULL ? g_hash_table_lookup (known, id) : NULL;
  if (same != NULL && stage_matches (same, name, code, language, effects))
    return g_object_ref (same);

  return g_object_new (NIX_EXEC_TYPE_STAGE,
                       "id", id,
                       "code", code != NULL ? code : "",
                       "language", language != NULL ? language : "",
                       "effects", effects,
                       "name", name,
                       NULL);
}

/* Parses @contents, which may be NULL for a file that does not exist,
 * reusing the stages of @known (see stage_from_node()). On error, the
 * message has no file name yet. */
static StoreDocument *
store_document_parse (char        *contents,
                      gsize        length,
                      GHashTable  *known,
                      GError     **error)
{
  g_autoptr(StoreDocument) doc = g_new0 (StoreDocument, 1);
  g_autoptr(GHashTable) ids = NULL;
  JsonObject *root_object;
  JsonNode *stages_node;
  JsonArray *array;
  guint n_stages;

  doc->contents = contents;
  doc->length = length;
  doc->stages = g_ptr_array_new_with_free_func (g_object_unref);

  if (contents == NULL)
    {
      root_object = json_object_new ();
      json_object_set_array_member (root_object, "stages", json_array_new ());
      doc->root = json_node_init_object (json_node_alloc (), root_object);
      json_object_unref (root_object);
      return g_steal_pointer (&doc);
    }

  /* The strict reader: one RFC 8259 text and nothing after it, no key
   * twice in an object, bounded depth, and only values that are written
   * back as they were read. JSON-GLib's parser would take a second
   * document or a second "stages" and drop them on the next save. */
  {
    g_autoptr(GError) local_error = NULL;
    gsize i;

    /* Only what RFC 8259 counts as white space. */
    for (i = 0; i < length; i++)
      if (contents[i] != ' ' && contents[i] != '\t' && contents[i] != '\n' && contents[i] != '\r')
        break;
    if (i == length)
      {
        g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                             "the file is empty");
        return NULL;
      }

    doc->root = nix_exec_json_read (contents, length, &local_error);
    if (doc->root == NULL)
      {
        g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                             local_error->message);
        return NULL;
      }
    if (!JSON_NODE_HOLDS_OBJECT (doc->root))
      {
        g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                     "the file holds %s, expected an object with a “stages” array",
                     describe_node (doc->root));
        return NULL;
      }
  }

  root_object = json_node_get_object (doc->root);
  stages_node = json_object_get_member (root_object, "stages");
  if (stages_node == NULL)
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                           "there is no “stages” array");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (stages_node))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "“stages” is %s, expected an array", describe_node (stages_node));
      return NULL;
    }

  array = json_node_get_array (stages_node);
  n_stages = json_array_get_length (array);
  ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n_stages; i++)
    {
      NixExecStage *stage = stage_from_node (json_array_get_element (array, i), i, known, error);
      gpointer first;

      if (stage == NULL)
        return NULL;
      g_ptr_array_add (doc->stages, stage);

      if (g_hash_table_lookup_extended (ids, nix_exec_stage_get_id (stage), NULL, &first))
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                       "stages[%u] and stages[%u] have the same id “%s”",
                       GPOINTER_TO_UINT (first), i, nix_exec_stage_get_id (stage));
          return NULL;
        }
      g_hash_table_insert (ids, (gpointer) nix_exec_stage_get_id (stage), GUINT_TO_POINTER (i));
    }

  return g_steal_pointer (&doc);
}

/* Reads and parses the file at @path; a missing file is an empty store. */
static StoreDocument *
store_document_load (const char  *path,
                     GHashTable  *known,
                     GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  char *contents = NULL;
  gsize length = 0;
  StoreDocument *doc;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      contents = NULL;
      length = 0;
    }

  doc = store_document_parse (contents, length, known, &local_error);
  if (doc == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "%s: %s", path, local_error->message);
      return NULL;
    }
  return doc;
}

/* Writing */

/* Sets or removes @member so that it reads as @value, leaving it untouched
 * when it already does. With @empty_is_absent, "" and NULL are the same. */
static void
update_string_member (JsonObject *object,
                      const char *member,
                      const char *value,
                      gboolean    empty_is_absent)
{
  JsonNode *node = json_object_get_member (object, member);
  const char *current = NULL;

  if (node != NULL && node_is_string (node))
    current = json_node_get_string (node);

  if (empty_is_absent)
    {
      if (current != NULL && *current == '\0')
        current = NULL;
      if (value != NULL && *value == '\0')
        value = NULL;
    }

  if (g_strcmp0 (current, value) == 0)
    return;

  if (value == NULL)
    json_object_remove_member (object, member);
  else
    json_object_set_string_member (object, member, value);
}

/* Brings the members the store owns in @object in line with @stage. The
 * object was read by store_document_parse(), so its members are of the
 * right types. */
static void
update_stage_object (JsonObject   *object,
                     NixExecStage *stage)
{
  NixExecEffectSet *effects = nix_exec_stage_get_effects (stage);
  g_autoptr(NixExecEffectSet) current = NULL;
  JsonNode *signature;

  update_string_member (object, "id", nix_exec_stage_get_id (stage), FALSE);
  update_string_member (object, "name", nix_exec_stage_get_name (stage), FALSE);
  update_string_member (object, "implementation_code", nix_exec_stage_get_code (stage), TRUE);
  update_string_member (object, "implementation_language", nix_exec_stage_get_language (stage), TRUE);

  current = read_effects (object, nix_exec_stage_get_id (stage), NULL);
  g_assert (current != NULL);
  if (nix_exec_effect_set_equal (current, effects))
    return;

  signature = json_object_get_member (object, "signature");
  if (signature == NULL || JSON_NODE_HOLDS_NULL (signature))
    {
      JsonObject *new_signature = json_object_new ();

      json_object_set_member (new_signature, "effects", nix_exec_effect_set_to_json (effects));
      json_object_set_object_member (object, "signature", new_signature);
    }
  else
    {
      json_object_set_member (json_node_get_object (signature), "effects",
                              nix_exec_effect_set_to_json (effects));
    }
}

/* A stage the file does not have yet: the members the store owns, with
 * the effects always spelt out. */
static JsonObject *
new_stage_object (NixExecStage *stage)
{
  JsonObject *object = json_object_new ();
  JsonObject *signature = json_object_new ();

  json_object_set_string_member (object, "id", nix_exec_stage_get_id (stage));
  update_string_member (object, "name", nix_exec_stage_get_name (stage), FALSE);
  update_string_member (object, "implementation_code", nix_exec_stage_get_code (stage), TRUE);
  update_string_member (object, "implementation_language", nix_exec_stage_get_language (stage), TRUE);
  json_object_set_member (signature, "effects",
                          nix_exec_effect_set_to_json (nix_exec_stage_get_effects (stage)));
  json_object_set_object_member (object, "signature", signature);
  return object;
}

static gboolean
set_error_from_errno (GError     **error,
                      int          saved_errno,
                      const char  *action,
                      const char  *path)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "Cannot %s “%s”: %s", action, display, g_strerror (saved_errno));
  return FALSE;
}

/* Temporary files of a save are named after the store, with this and six
 * letters or digits appended: `store.json.nixexec-save-a1B2c3`. */
#define TEMP_INFIX       ".nixexec-save-"
#define TEMP_SUFFIX_LEN  6

static const char temp_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static gboolean
is_temp_name (const char *name,
              const char *base)
{
  gsize base_len = strlen (base);
  const char *suffix;

  if (strncmp (name, base, base_len) != 0 ||
      strncmp (name + base_len, TEMP_INFIX, strlen (TEMP_INFIX)) != 0)
    return FALSE;
  suffix = name + base_len + strlen (TEMP_INFIX);
  if (strlen (suffix) != TEMP_SUFFIX_LEN)
    return FALSE;
  for (const char *p = suffix; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  return TRUE;
}

/* Removes what interrupted saves of @path left: regular files named as
 * its temporary files are, and nothing else. Called with the writers'
 * lock held. Every save holds that lock from the moment its temporary
 * file has a name until it is renamed or removed, so one that exists now
 * belongs to a save that was killed (the kernel released its lock). Best
 * effort: what cannot be removed is left. */
static void
remove_stale_temps (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = NULL;
      struct stat st;

      if (!is_temp_name (name, base))
        continue;
      child = g_build_filename (dir, name, NULL);
      if (lstat (child, &st) == 0 && S_ISREG (st.st_mode) && g_unlink (child) != 0)
        g_debug ("Cannot remove the stale temporary file %s: %s", child, g_strerror (errno));
    }
}

static gboolean
write_all (int          fd,
           const char  *data,
           gsize        length)
{
  gsize written = 0;

  while (written < length)
    {
      gssize n = write (fd, data + written, length - written);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      written += n;
    }
  return TRUE;
}

/* @data in a file of @mode, flushed to disk, in @fd. The file was created
 * without the umask in mind; it gets the mode the store had, exactly. */
static gboolean
fill (int          fd,
      const char  *data,
      gsize        length,
      mode_t       mode)
{
  return write_all (fd, data, length) && fchmod (fd, mode) == 0 && fsync (fd) == 0;
}

/* Gives the unnamed file @fd (opened with O_TMPFILE) a temporary name
 * beside @path, which is returned; NULL with errno set when it cannot.
 * linkat() cannot replace a file, hence a fresh name, renamed over @path
 * afterwards. */
static char *
link_unnamed (int         fd,
              const char *path)
{
  g_autofree char *proc_path = g_strdup_printf ("/proc/self/fd/%d", fd);

  for (guint attempt = 0; attempt < 100; attempt++)
    {
      g_autoptr(GString) name = g_string_new (path);
      int ret;

      g_string_append (name, TEMP_INFIX);
      for (guint i = 0; i < TEMP_SUFFIX_LEN; i++)
        g_string_append_c (name, temp_alphabet[g_random_int_range (0, sizeof temp_alphabet - 1)]);

      ret = linkat (AT_FDCWD, proc_path, AT_FDCWD, name->str, AT_SYMLINK_FOLLOW);
      /* Without /proc, a process with CAP_DAC_READ_SEARCH can still. */
      if (ret != 0 && errno == ENOENT)
        ret = linkat (fd, "", AT_FDCWD, name->str, AT_EMPTY_PATH);
      if (ret == 0)
        return g_string_free (g_steal_pointer (&name), FALSE);
      if (errno != EEXIST)
        return NULL;
    }
  errno = EEXIST;
  return NULL;
}

/* Replaces @path with @data so that readers and crashes see either the old
 * file or the new one, then flushes the directory for the rename. The new
 * contents are written and flushed in an unnamed file (O_TMPFILE) in
 * @path's directory, which a crash leaves nothing of, then linked to a
 * temporary name and renamed over @path at once. Where the file system
 * has no O_TMPFILE (or /proc is missing), the file is a named temporary
 * file from the start. Either way a save that is killed can leave a
 * temporary file behind; remove_stale_temps() removes it on a later
 * save. */
static gboolean
write_atomically (const char  *path,
                  const char  *data,
                  gsize        length,
                  GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tmp_path = NULL;
  struct stat st;
  mode_t mode = 0600;
  int fd = -1;
  int dir_fd;

  if (stat (path, &st) == 0)
    mode = st.st_mode & 07777;
  else if (errno != ENOENT)
    return set_error_from_errno (error, errno, "read", path);

#ifdef O_TMPFILE
  fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      if (!fill (fd, data, length, mode))
        goto fail;
      tmp_path = link_unnamed (fd, path);
      if (tmp_path == NULL)
        {
          /* Not for want of space: that was written already. */
          close (fd);
          fd = -1;
        }
    }
#endif

  if (tmp_path == NULL)
    {
      tmp_path = g_strconcat (path, TEMP_INFIX "XXXXXX", NULL);
      fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          int saved_errno = errno;

          return set_error_from_errno (error, saved_errno, "create the temporary file", tmp_path);
        }
      if (!fill (fd, data, length, mode))
        goto fail;
    }

  if (close (fd) != 0)
    {
      fd = -1;
      goto fail;
    }
  fd = -1;

  if (g_rename (tmp_path, path) != 0)
    goto fail;

  /* Not every file system can sync a directory; the rename happened
   * either way. */
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0)
    {
      (void) fsync (dir_fd);
      close (dir_fd);
    }
  return TRUE;

fail:
  {
    int saved_errno = errno;

    if (fd >= 0)
      close (fd);
    if (tmp_path != NULL)
      g_unlink (tmp_path);
    return set_error_from_errno (error, saved_errno, "write", path);
  }
}

/* The file a save reads and replaces: @path, or where it points if it is
 * a symbolic link, so that saving keeps the link. */
static char *
resolve_target (const char *path)
{
  char *resolved = realpath (path, NULL);
  char *target;

  if (resolved == NULL)
    return g_strdup (path);
  target = g_strdup (resolved);
  free (resolved);
  return target;
}

/* Takes the writers' lock of the store file @target, waiting for it.
 * Returns the descriptor holding it, which close() releases. */
static int
lock_store (const char  *target,
            GError     **error)
{
  g_autofree char *lock_path = g_strconcat (target, ".lock", NULL);
  int fd;

  fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  /* flock() needs no write access: a lock file someone else created is
   * good enough when it is readable. */
  if (fd < 0 && errno == EACCES)
    fd = open (lock_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      set_error_from_errno (error, errno, "open the lock file", lock_path);
      return -1;
    }

  while (flock (fd, LOCK_EX) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == EINTR)
        continue;
      close (fd);
      set_error_from_errno (error, saved_errno, "lock", lock_path);
      return -1;
    }
  return fd;
}

static void
unlock_store (int fd)
{
  close (fd);
}

/* Serialises @doc and writes it to @target, unless that would not change
 * the file. The writer's pretty layout is serde_json's, which the
 * reference uses: two-space indent, "key": value, [] and {} when empty. */
static gboolean
store_document_save (StoreDocument  *doc,
                     const char     *target,
                     GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *out = NULL;
  gsize length;

  out = nix_exec_json_write (doc->root, TRUE, &local_error);
  if (out == NULL)
    {
      /* Everything read passed the reader, and what add puts in is valid
       * UTF-8, so this is not expected; refuse rather than write. */
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STORE,
                   "%s: cannot be written back: %s", target, local_error->message);
      return FALSE;
    }
  length = strlen (out);

  remove_stale_temps (target);

  if (doc->contents != NULL &&
      length == doc->length &&
      memcmp (out, doc->contents, length) == 0)
    return TRUE;

  return write_atomically (target, out, length, error);
}

/* The model */

/* Where the stage @stage_id is in @stages, or -1; one pass, for the one
 * stage an add or a remove is about. */
static gint
find_position (GPtrArray  *stages,
               const char *stage_id)
{
  for (guint i = 0; i < stages->len; i++)
    {
      if (g_str_equal (nix_exec_stage_get_id (g_ptr_array_index (stages, i)), stage_id))
        return (gint) i;
    }
  return -1;
}

static GHashTable *
index_stages (GPtrArray *stages)
{
  GHashTable *index = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < stages->len; i++)
    {
      NixExecStage *stage = g_ptr_array_index (stages, i);

      g_hash_table_insert (index, (gpointer) nix_exec_stage_get_id (stage), stage);
    }
  return index;
}

/* Makes @stages the store's list and tells observers what changed. The
 * stages that did not change are the objects the store held before
 * (store_document_parse() reused them), so comparing pointers finds what
 * did. */
static void
set_stages (NixExecFileStore *self,
            GPtrArray        *stages)
{
  g_autoptr(GPtrArray) old = self->stages;
  G_GNUC_UNUSED g_autoptr(GHashTable) old_index = self->index;  /* dropped on return */
  guint old_n = old->len;
  guint new_n = stages->len;
  guint shortest = MIN (old_n, new_n);
  guint prefix = 0;
  guint suffix = 0;

  self->stages = g_ptr_array_ref (stages);
  self->index = index_stages (self->stages);

  while (prefix < shortest &&
         g_ptr_array_index (old, prefix) == g_ptr_array_index (stages, prefix))
    prefix++;
  while (suffix < shortest - prefix &&
         g_ptr_array_index (old, old_n - 1 - suffix) == g_ptr_array_index (stages, new_n - 1 - suffix))
    suffix++;

  if (prefix + suffix < old_n || prefix + suffix < new_n)
    g_list_model_items_changed (G_LIST_MODEL (self), prefix,
                                old_n - prefix - suffix, new_n - prefix - suffix);
  if (old_n != new_n)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static GType
nix_exec_file_store_get_item_type (GListModel *model)
{
  return NIX_EXEC_TYPE_STAGE;
}

static guint
nix_exec_file_store_get_n_items (GListModel *model)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (model);

  return self->stages->len;
}

static gpointer
nix_exec_file_store_get_item (GListModel *model,
                              guint       position)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (model);

  if (position >= self->stages->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->stages, position));
}

static void
nix_exec_file_store_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = nix_exec_file_store_get_item_type;
  iface->get_n_items = nix_exec_file_store_get_n_items;
  iface->get_item = nix_exec_file_store_get_item;
}

static GPtrArray *
nix_exec_file_store_list_stages (NixExecStageStore *store)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (store);
  GPtrArray *stages = g_ptr_array_new_full (self->stages->len, g_object_unref);

  for (guint i = 0; i < self->stages->len; i++)
    g_ptr_array_add (stages, g_object_ref (g_ptr_array_index (self->stages, i)));
  return stages;
}

static NixExecStage *
nix_exec_file_store_lookup (NixExecStageStore *store,
                            const char        *stage_id)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (store);
  NixExecStage *stage = g_hash_table_lookup (self->index, stage_id);

  return stage != NULL ? g_object_ref (stage) : NULL;
}

static void
nix_exec_file_store_stage_store_init (NixExecStageStoreInterface *iface)
{
  iface->list_stages = nix_exec_file_store_list_stages;
  iface->lookup = nix_exec_file_store_lookup;
}

static gboolean
nix_exec_file_store_initable_init_impl (GInitable     *initable,
                                        GCancellable  *cancellable,
                                        GError       **error)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (initable);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  if (self->path == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "A NixExecFileStore needs a path");
      return FALSE;
    }

  return nix_exec_file_store_reload (self, error);
}

static void
nix_exec_file_store_initable_init (GInitableIface *iface)
{
  iface->init = nix_exec_file_store_initable_init_impl;
}

static void
nix_exec_file_store_finalize (GObject *object)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (object);

  /* Stages hold nothing that leads back here, so there is no cycle for a
   * dispose to break; they are dropped with the array. */
  g_clear_pointer (&self->index, g_hash_table_unref);
  g_clear_pointer (&self->stages, g_ptr_array_unref);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (nix_exec_file_store_parent_class)->finalize (object);
}

static void
nix_exec_file_store_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->stages->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_file_store_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NixExecFileStore *self = NIX_EXEC_FILE_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      {
        const char *path = g_value_get_string (value);

        g_assert (self->path == NULL);
        /* Absolute, so that a later chdir() does not move the store. */
        if (path != NULL)
          self->path = g_canonicalize_filename (path, NULL);
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nix_exec_file_store_class_init (NixExecFileStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = nix_exec_file_store_finalize;
  object_class->get_property = nix_exec_file_store_get_property;
  object_class->set_property = nix_exec_file_store_set_property;

  /**
   * NixExecFileStore:path: (type filename)
   *
   * The store file. A relative path given at construction is made absolute
   * against the current directory of that moment.
   *
   * Since: 1.0
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * NixExecFileStore:n-items:
   *
   * The number of stages in the store, as
   * [method@Gio.ListModel.get_n_items] returns.
   *
   * Since: 1.0
   */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
nix_exec_file_store_init (NixExecFileStore *self)
{
  self->stages = g_ptr_array_new_with_free_func (g_object_unref);
  self->index = g_hash_table_new (g_str_hash, g_str_equal);
}

/**
 * nix_exec_file_store_new:
 * @path: (type filename): the store file
 * @error: return location for a #GError
 *
 * Opens the store kept in @path and loads its stages. A file that does not
 * exist is an empty store; it is created by the first
 * [method@NixExec.FileStore.add].
 *
 * Returns: (transfer full): a new [class@NixExec.FileStore], or %NULL with
 *   %NIX_EXEC_ERROR_INVALID_STORE when the file is not a valid store, or a
 *   %G_FILE_ERROR when it cannot be read
 *
 * Since: 1.0
 */
NixExecFileStore *
nix_exec_file_store_new (const char  *path,
                         GError     **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (NIX_EXEC_TYPE_FILE_STORE, NULL, error,
                         "path", path,
                         NULL);
}

/**
 * nix_exec_file_store_get_path:
 * @self: a [class@NixExec.FileStore]
 *
 * Gets [property@NixExec.FileStore:path].
 *
 * Returns: (type filename) (transfer none): the absolute path of the store
 *   file
 *
 * Since: 1.0
 */
const char *
nix_exec_file_store_get_path (NixExecFileStore *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_FILE_STORE (self), NULL);

  return self->path;
}

/**
 * nix_exec_file_store_reload:
 * @self: a [class@NixExec.FileStore]
 * @error: return location for a #GError
 *
 * Reads the store file again, to see changes other writers made to it.
 * Stages that did not change stay the same objects;
 * [signal@Gio.ListModel::items-changed] is emitted for the rest.
 *
 * On error the store keeps the stages it had.
 *
 * Returns: %TRUE on success, or %FALSE with %NIX_EXEC_ERROR_INVALID_STORE
 *   when the file is not a valid store, or a %G_FILE_ERROR when it cannot
 *   be read
 *
 * Since: 1.0
 */
gboolean
nix_exec_file_store_reload (NixExecFileStore  *self,
                            GError           **error)
{
  g_autoptr(StoreDocument) doc = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_FILE_STORE (self), FALSE);
  g_return_val_if_fail (self->path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  doc = store_document_load (self->path, self->index, error);
  if (doc == NULL)
    return FALSE;

  set_stages (self, doc->stages);
  return TRUE;
}

/**
 * nix_exec_file_store_add:
 * @self: a [class@NixExec.FileStore]
 * @stage: (transfer none): the stage to add
 * @error: return location for a #GError
 *
 * Adds @stage to the store file and saves it. If the file already has a
 * stage with @stage's id, @stage takes its place and position: its `id`,
 * `name`, `implementation_code`, `implementation_language` and
 * `signature.effects` are set from @stage, and its other members are kept.
 * Otherwise @stage is added at the end, as an object with `id`, `name`,
 * `implementation_code`, `implementation_language` and
 * `signature.effects`.
 *
 * An empty [property@NixExec.Stage:code] or
 * [property@NixExec.Stage:language] is written as no member at all, and a
 * %NULL [property@NixExec.Stage:name] as no `name`.
 *
 * This reads the file again under the writers' lock (see
 * [class@NixExec.FileStore]), so the store afterwards also shows what other
 * writers changed; it blocks while another writer holds the lock. The
 * store holds @stage itself afterwards, not a copy.
 *
 * On error the file is left as it was and the store keeps the stages it
 * had.
 *
 * Returns: %TRUE on success, or %FALSE with %NIX_EXEC_ERROR_INVALID_STORE
 *   when the file is not a valid store, or a %G_FILE_ERROR when it cannot
 *   be read, locked or written
 *
 * Since: 1.0
 */
gboolean
nix_exec_file_store_add (NixExecFileStore  *self,
                         NixExecStage      *stage,
                         GError           **error)
{
  g_autoptr(StoreDocument) doc = NULL;
  g_autofree char *target = NULL;
  JsonArray *array;
  gint position;
  int lock_fd;

  g_return_val_if_fail (NIX_EXEC_IS_FILE_STORE (self), FALSE);
  g_return_val_if_fail (self->path != NULL, FALSE);
  g_return_val_if_fail (NIX_EXEC_IS_STAGE (stage), FALSE);
  g_return_val_if_fail (*nix_exec_stage_get_id (stage) != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The file must stay readable: JSON text is UTF-8. */
  if (!g_utf8_validate (nix_exec_stage_get_id (stage), -1, NULL) ||
      !g_utf8_validate (nix_exec_stage_get_code (stage), -1, NULL) ||
      !g_utf8_validate (nix_exec_stage_get_language (stage), -1, NULL) ||
      (nix_exec_stage_get_name (stage) != NULL &&
       !g_utf8_validate (nix_exec_stage_get_name (stage), -1, NULL)))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_STAGE,
                   "Stage “%s” cannot be saved in %s: its id, name, code and language must be "
                   "valid UTF-8", nix_exec_stage_get_id (stage), self->path);
      return FALSE;
    }

  target = resolve_target (self->path);
  lock_fd = lock_store (target, error);
  if (lock_fd < 0)
    return FALSE;

  doc = store_document_load (target, self->index, error);
  if (doc == NULL)
    {
      unlock_store (lock_fd);
      return FALSE;
    }

  array = store_document_get_array (doc);
  position = find_position (doc->stages, nix_exec_stage_get_id (stage));
  if (position >= 0)
    {
      update_stage_object (json_array_get_object_element (array, position), stage);
      g_object_unref (g_ptr_array_index (doc->stages, position));
      g_ptr_array_index (doc->stages, position) = g_object_ref (stage);
    }
  else
    {
      json_array_add_object_element (array, new_stage_object (stage));
      g_ptr_array_add (doc->stages, g_object_ref (stage));
    }

  if (!store_document_save (doc, target, error))
    {
      unlock_store (lock_fd);
      return FALSE;
    }
  unlock_store (lock_fd);

  set_stages (self, doc->stages);
  return TRUE;
}

/**
 * nix_exec_file_store_remove:
 * @self: a [class@NixExec.FileStore]
 * @stage_id: the id of the stage to remove
 * @error: return location for a #GError
 *
 * Removes the stage whose id is @stage_id from the store file and saves it.
 * The stages after it keep their order.
 *
 * Like [method@NixExec.FileStore.add], this reads the file again under the
 * writers' lock, and blocks while another writer holds it. If the file has
 * no such stage (another writer may have removed it), the file is not
 * written, the store is brought up to date with what it read, and the call
 * fails with %NIX_EXEC_ERROR_STAGE_NOT_FOUND.
 *
 * On other errors the file is left as it was and the store keeps the
 * stages it had.
 *
 * Returns: %TRUE on success, or %FALSE with %NIX_EXEC_ERROR_STAGE_NOT_FOUND,
 *   %NIX_EXEC_ERROR_INVALID_STORE when the file is not a valid store, or a
 *   %G_FILE_ERROR when it cannot be read, locked or written
 *
 * Since: 1.0
 */
gboolean
nix_exec_file_store_remove (NixExecFileStore  *self,
                            const char        *stage_id,
                            GError           **error)
{
  g_autoptr(StoreDocument) doc = NULL;
  g_autofree char *target = NULL;
  gint position;
  int lock_fd;

  g_return_val_if_fail (NIX_EXEC_IS_FILE_STORE (self), FALSE);
  g_return_val_if_fail (self->path != NULL, FALSE);
  g_return_val_if_fail (stage_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  target = resolve_target (self->path);
  lock_fd = lock_store (target, error);
  if (lock_fd < 0)
    return FALSE;

  doc = store_document_load (target, self->index, error);
  if (doc == NULL)
    {
      unlock_store (lock_fd);
      return FALSE;
    }

  position = find_position (doc->stages, stage_id);
  if (position < 0)
    {
      unlock_store (lock_fd);
      set_stages (self, doc->stages);
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_STAGE_NOT_FOUND,
                   "%s: no stage with id “%s”", self->path, stage_id);
      return FALSE;
    }

  json_array_remove_element (store_document_get_array (doc), position);
  g_ptr_array_remove_index (doc->stages, position);

  if (!store_document_save (doc, target, error))
    {
      unlock_store (lock_fd);
      return FALSE;
    }
  unlock_store (lock_fd);

  set_stages (self, doc->stages);
  return TRUE;
}
