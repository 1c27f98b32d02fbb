/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "nixexec-effect-set.h"
#include "nixexec-error.h"
#include "nixexec-json-private.h"

/**
 * NixExecEffectSet:
 *
 * The effects a stage declares: whether it is pure, touches the network,
 * reads or writes host paths, calls a language model, costs money, and so
 * on.
 *
 * An effect set is a literal set. It holds exactly the effects added to it,
 * each once, in the order they were first added; nothing is implied,
 * absorbed or normalised:
 *
 * - [ctor@NixExec.EffectSet.new] is the empty set. It declares nothing and
 *   is neither pure nor unknown.
 * - [ctor@NixExec.EffectSet.new_pure] is `{Pure}` and
 *   [ctor@NixExec.EffectSet.new_unknown] is `{Unknown}`; the latter is what a
 *   stage gets when it declares nothing at all.
 * - Adding `Network` to `{Pure}` gives `{Pure, Network}`, which
 *   [method@NixExec.EffectSet.is_pure] no longer calls pure; `Unknown` does
 *   not swallow the effects beside it either.
 * - Two entries are the same when they have the same kind and the same
 *   payload: the path of `FsRead` and `FsWrite`, the model of `Llm`, the
 *   amount of `Cost`. Adding an entry that is already there does nothing,
 *   so `FsRead /a` and `FsRead /b` are two entries, but adding
 *   `Cost 5` twice leaves one `Cost 5`.
 *
 * The JSON form is the one of the reference implementation (noether), with
 * the entries in the set's order, so the reference's compact JSON reads in
 * and writes back unchanged:
 *
 * ```json
 * {"effects":[{"effect":"Network"},{"effect":"FsRead","path":"/data"},{"effect":"Cost","cents":5},{"effect":"Llm","model":"m"}]}
 * ```
 *
 * The effect names are `Pure`, `Fallible`, `Network`, `NonDeterministic`,
 * `Process`, `FsRead`, `FsWrite`, `Llm`, `Cost` and `Unknown`.
 *
 * Paths are kept as given; they are not checked or made canonical here.
 *
 * Since: 1.0
 */

typedef struct
{
  NixExecEffectKind  kind;
  /* Owned. The path of FsRead/FsWrite, the model of Llm; NULL otherwise. */
  char              *detail;
  /* Cost only. */
  guint64            cents;
} Entry;

struct _NixExecEffectSet
{
  GObject    parent_instance;

  /* Owned Entry pointers, in insertion order, without duplicates. */
  GPtrArray *entries;

  /* The answers of the get_*_paths/get_llm_models accessors, kept up to date
   * on every add. Each ends in a NULL element so pdata is a NULL-terminated
   * array; the strings are borrowed from the entries, which live as long as
   * the set since nothing is ever removed. */
  GPtrArray *read_paths;
  GPtrArray *write_paths;
  GPtrArray *llm_models;
};

G_DEFINE_FINAL_TYPE (NixExecEffectSet, nix_exec_effect_set, G_TYPE_OBJECT)

static const char * const kind_names[] = {
  [NIX_EXEC_EFFECT_KIND_PURE] = "Pure",
  [NIX_EXEC_EFFECT_KIND_FALLIBLE] = "Fallible",
  [NIX_EXEC_EFFECT_KIND_NETWORK] = "Network",
  [NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC] = "NonDeterministic",
  [NIX_EXEC_EFFECT_KIND_PROCESS] = "Process",
  [NIX_EXEC_EFFECT_KIND_FS_READ] = "FsRead",
  [NIX_EXEC_EFFECT_KIND_FS_WRITE] = "FsWrite",
  [NIX_EXEC_EFFECT_KIND_LLM] = "Llm",
  [NIX_EXEC_EFFECT_KIND_COST] = "Cost",
  [NIX_EXEC_EFFECT_KIND_UNKNOWN] = "Unknown",
};

G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == NIX_EXEC_EFFECT_KIND_UNKNOWN + 1);

static gboolean
kind_is_valid (NixExecEffectKind kind)
{
  return (guint) kind < G_N_ELEMENTS (kind_names);
}

static gboolean
kind_from_name (const char        *name,
                NixExecEffectKind *out_kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    {
      if (g_strcmp0 (kind_names[i], name) == 0)
        {
          *out_kind = (NixExecEffectKind) i;
          return TRUE;
        }
    }
  return FALSE;
}

/* The JSON member that carries the payload of a kind, or NULL. */
static const char *
kind_payload_member (NixExecEffectKind kind)
{
  switch (kind)
    {
    case NIX_EXEC_EFFECT_KIND_FS_READ:
    case NIX_EXEC_EFFECT_KIND_FS_WRITE:
      return "path";
    case NIX_EXEC_EFFECT_KIND_LLM:
      return "model";
    case NIX_EXEC_EFFECT_KIND_COST:
      return "cents";
    case NIX_EXEC_EFFECT_KIND_PURE:
    case NIX_EXEC_EFFECT_KIND_FALLIBLE:
    case NIX_EXEC_EFFECT_KIND_NETWORK:
    case NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC:
    case NIX_EXEC_EFFECT_KIND_PROCESS:
    case NIX_EXEC_EFFECT_KIND_UNKNOWN:
    default:
      return NULL;
    }
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->detail);
  g_free (entry);
}

static gboolean
entry_matches (const Entry       *entry,
               NixExecEffectKind  kind,
               const char        *detail,
               guint64            cents)
{
  return entry->kind == kind &&
         g_strcmp0 (entry->detail, detail) == 0 &&
         entry->cents == cents;
}

static gboolean
has_entry (NixExecEffectSet  *self,
           NixExecEffectKind  kind,
           const char        *detail,
           guint64            cents)
{
  for (guint i = 0; i < self->entries->len; i++)
    {
      if (entry_matches (g_ptr_array_index (self->entries, i), kind, detail, cents))
        return TRUE;
    }
  return FALSE;
}

static GPtrArray *
null_terminated_new (void)
{
  GPtrArray *array = g_ptr_array_new ();

  g_ptr_array_add (array, NULL);
  return array;
}

static void
null_terminated_append (GPtrArray  *array,
                        const char *string)
{
  g_assert (array->len > 0);
  g_assert (g_ptr_array_index (array, array->len - 1) == NULL);

  g_ptr_array_insert (array, array->len - 1, (gpointer) string);
}

/* Adds an entry unless it is already there. @detail is copied. */
static void
add_entry (NixExecEffectSet  *self,
           NixExecEffectKind  kind,
           const char        *detail,
           guint64            cents)
{
  Entry *entry;

  g_assert (kind_is_valid (kind));
  g_assert ((kind_payload_member (kind) != NULL) == (detail != NULL || kind == NIX_EXEC_EFFECT_KIND_COST));

  if (has_entry (self, kind, detail, cents))
    return;

  entry = g_new0 (Entry, 1);
  entry->kind = kind;
  entry->detail = g_strdup (detail);
  entry->cents = cents;
  g_ptr_array_add (self->entries, entry);

  switch (kind)
    {
    case NIX_EXEC_EFFECT_KIND_FS_READ:
      null_terminated_append (self->read_paths, entry->detail);
      break;
    case NIX_EXEC_EFFECT_KIND_FS_WRITE:
      null_terminated_append (self->write_paths, entry->detail);
      break;
    case NIX_EXEC_EFFECT_KIND_LLM:
      null_terminated_append (self->llm_models, entry->detail);
      break;
    case NIX_EXEC_EFFECT_KIND_PURE:
    case NIX_EXEC_EFFECT_KIND_FALLIBLE:
    case NIX_EXEC_EFFECT_KIND_NETWORK:
    case NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC:
    case NIX_EXEC_EFFECT_KIND_PROCESS:
    case NIX_EXEC_EFFECT_KIND_COST:
    case NIX_EXEC_EFFECT_KIND_UNKNOWN:
    default:
      break;
    }
}

static void
nix_exec_effect_set_finalize (GObject *object)
{
  NixExecEffectSet *self = NIX_EXEC_EFFECT_SET (object);

  /* The caches borrow their strings from the entries: free them first. */
  g_clear_pointer (&self->read_paths, g_ptr_array_unref);
  g_clear_pointer (&self->write_paths, g_ptr_array_unref);
  g_clear_pointer (&self->llm_models, g_ptr_array_unref);
  g_clear_pointer (&self->entries, g_ptr_array_unref);

  G_OBJECT_CLASS (nix_exec_effect_set_parent_class)->finalize (object);
}

static void
nix_exec_effect_set_class_init (NixExecEffectSetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = nix_exec_effect_set_finalize;
}

static void
nix_exec_effect_set_init (NixExecEffectSet *self)
{
  self->entries = g_ptr_array_new_with_free_func (entry_free);
  self->read_paths = null_terminated_new ();
  self->write_paths = null_terminated_new ();
  self->llm_models = null_terminated_new ();
}

/**
 * nix_exec_effect_set_new:
 *
 * Creates an empty effect set. It declares nothing: it is neither pure
 * (see [ctor@NixExec.EffectSet.new_pure]) nor unknown (see
 * [ctor@NixExec.EffectSet.new_unknown]).
 *
 * Returns: (transfer full): a new empty [class@NixExec.EffectSet]
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_effect_set_new (void)
{
  return g_object_new (NIX_EXEC_TYPE_EFFECT_SET, NULL);
}

/**
 * nix_exec_effect_set_new_pure:
 *
 * Creates the set `{Pure}`.
 *
 * Returns: (transfer full): a new [class@NixExec.EffectSet]
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_effect_set_new_pure (void)
{
  NixExecEffectSet *self = nix_exec_effect_set_new ();

  add_entry (self, NIX_EXEC_EFFECT_KIND_PURE, NULL, 0);
  return self;
}

/**
 * nix_exec_effect_set_new_unknown:
 *
 * Creates the set `{Unknown}`, the effects of a stage that declares none.
 *
 * Returns: (transfer full): a new [class@NixExec.EffectSet]
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_effect_set_new_unknown (void)
{
  NixExecEffectSet *self = nix_exec_effect_set_new ();

  add_entry (self, NIX_EXEC_EFFECT_KIND_UNKNOWN, NULL, 0);
  return self;
}

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
node_holds (JsonNode *node,
            GType     value_type)
{
  return node != NULL &&
         JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == value_type;
}

static gboolean
parse_entry (NixExecEffectSet  *self,
             JsonNode          *node,
             guint              index,
             GError           **error)
{
  JsonObject *object;
  JsonNode *name_node;
  JsonNode *payload_node = NULL;
  const char *name;
  const char *payload_member;
  NixExecEffectKind kind;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "effects[%u]: expected an object, found %s",
                   index, describe_node (node));
      return FALSE;
    }

  object = json_node_get_object (node);
  name_node = json_object_get_member (object, "effect");
  if (!node_holds (name_node, G_TYPE_STRING))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "effects[%u]: %s “effect” member",
                   index, name_node == NULL ? "no" : "not a string in the");
      return FALSE;
    }

  name = json_node_get_string (name_node);
  if (!kind_from_name (name, &kind))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "effects[%u]: unknown effect “%s”", index, name);
      return FALSE;
    }

  /* Members that do not belong to the kind are refused rather than ignored:
   * a {"effect":"Network","path":"/x"} probably means something the set
   * cannot express, and effects decide what a sandbox lets through. */
  payload_member = kind_payload_member (kind);
  members = json_object_get_members (object);
  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;

      if (g_str_equal (member, "effect") ||
          g_strcmp0 (member, payload_member) == 0)
        continue;

      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "effects[%u]: unexpected member “%s” in a “%s” effect",
                   index, member, name);
      return FALSE;
    }

  if (payload_member != NULL)
    payload_node = json_object_get_member (object, payload_member);

  switch (kind)
    {
    case NIX_EXEC_EFFECT_KIND_FS_READ:
    case NIX_EXEC_EFFECT_KIND_FS_WRITE:
    case NIX_EXEC_EFFECT_KIND_LLM:
      if (!node_holds (payload_node, G_TYPE_STRING))
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                       "effects[%u]: a “%s” effect needs a string “%s”, found %s",
                       index, name, payload_member,
                       payload_node == NULL ? "none" : describe_node (payload_node));
          return FALSE;
        }
      /* A node built by json-glib's own parser or by hand may hold any
       * bytes; the set could not be written as JSON. */
      if (!g_utf8_validate (json_node_get_string (payload_node), -1, NULL))
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                       "effects[%u]: the “%s” of a “%s” effect is not valid UTF-8",
                       index, payload_member, name);
          return FALSE;
        }
      add_entry (self, kind, json_node_get_string (payload_node), 0);
      break;

    case NIX_EXEC_EFFECT_KIND_COST:
      if (!node_holds (payload_node, G_TYPE_INT64) ||
          json_node_get_int (payload_node) < 0)
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                       "effects[%u]: a “Cost” effect needs a non-negative integer “cents”",
                       index);
          return FALSE;
        }
      add_entry (self, kind, NULL, (guint64) json_node_get_int (payload_node));
      break;

    case NIX_EXEC_EFFECT_KIND_PURE:
    case NIX_EXEC_EFFECT_KIND_FALLIBLE:
    case NIX_EXEC_EFFECT_KIND_NETWORK:
    case NIX_EXEC_EFFECT_KIND_NON_DETERMINISTIC:
    case NIX_EXEC_EFFECT_KIND_PROCESS:
    case NIX_EXEC_EFFECT_KIND_UNKNOWN:
    default:
      add_entry (self, kind, NULL, 0);
      break;
    }

  return TRUE;
}

/**
 * nix_exec_effect_set_new_from_json:
 * @node: (transfer none): a JSON node in the form written by
 *   [method@NixExec.EffectSet.to_json]
 * @error: return location for a #GError, or %NULL
 *
 * Reads an effect set from its JSON form,
 * `{"effects":[{"effect":"Network"},{"effect":"FsRead","path":"/data"}]}`.
 *
 * The form is checked strictly: anything but an object holding exactly one
 * member, an `effects` array of known effects each carrying exactly the
 * members of its kind (a string `path` for `FsRead` and `FsWrite`, a string
 * `model` for `Llm`, a non-negative integer `cents` for `Cost`), fails with
 * %NIX_EXEC_ERROR_INVALID_EFFECTS and a message naming what is wrong and
 * where, such as `effects[2]: unknown effect “Foo”`. Repeated entries are
 * kept once.
 *
 * Returns: (transfer full) (nullable): a new [class@NixExec.EffectSet], or
 *   %NULL with @error set
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_effect_set_new_from_json (JsonNode  *node,
                                   GError   **error)
{
  g_autoptr(NixExecEffectSet) self = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *object;
  JsonNode *effects_node;
  JsonArray *effects;
  guint n_effects;

  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "expected an object with an “effects” array, found %s",
                   describe_node (node));
      return NULL;
    }

  object = json_node_get_object (node);
  effects_node = json_object_get_member (object, "effects");
  if (effects_node == NULL)
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                           "no “effects” member");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (effects_node))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "effects: expected an array, found %s",
                   describe_node (effects_node));
      return NULL;
    }

  members = json_object_get_members (object);
  for (const GList *l = members; l != NULL; l = l->next)
    {
      if (!g_str_equal (l->data, "effects"))
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                       "unexpected member “%s” beside “effects”",
                       (const char *) l->data);
          return NULL;
        }
    }

  self = nix_exec_effect_set_new ();
  effects = json_node_get_array (effects_node);
  n_effects = json_array_get_length (effects);
  for (guint i = 0; i < n_effects; i++)
    {
      if (!parse_entry (self, json_array_get_element (effects, i), i, error))
        return NULL;
    }

  return g_steal_pointer (&self);
}

/**
 * nix_exec_effect_set_new_from_string:
 * @json: a JSON text in the form written by
 *   [method@NixExec.EffectSet.to_string]
 * @error: return location for a #GError, or %NULL
 *
 * Parses @json and reads an effect set from it as
 * [ctor@NixExec.EffectSet.new_from_json] does. Text that is not JSON also
 * fails with %NIX_EXEC_ERROR_INVALID_EFFECTS.
 *
 * Returns: (transfer full) (nullable): a new [class@NixExec.EffectSet], or
 *   %NULL with @error set
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_effect_set_new_from_string (const char  *json,
                                     GError     **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (json != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = nix_exec_json_read (json, strlen (json), &local_error);
  if (root == NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "not valid JSON: %s", local_error->message);
      return NULL;
    }

  return nix_exec_effect_set_new_from_json (root, error);
}

/**
 * nix_exec_effect_set_copy:
 * @self: a [class@NixExec.EffectSet]
 *
 * Copies @self: the copy has the same entries in the same order, and later
 * changes to either set do not show in the other.
 *
 * Returns: (transfer full): a new [class@NixExec.EffectSet]
 *
 * Since: 1.0
 */
NixExecEffectSet *
nix_exec_effect_set_copy (NixExecEffectSet *self)
{
  NixExecEffectSet *copy;

  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), NULL);

  copy = nix_exec_effect_set_new ();
  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = g_ptr_array_index (self->entries, i);

      add_entry (copy, entry->kind, entry->detail, entry->cents);
    }
  return copy;
}

/**
 * nix_exec_effect_set_add:
 * @self: a [class@NixExec.EffectSet]
 * @kind: an effect kind without a payload
 *
 * Adds an effect of @kind, unless it is already in the set.
 *
 * @kind must not be %NIX_EXEC_EFFECT_KIND_FS_READ,
 * %NIX_EXEC_EFFECT_KIND_FS_WRITE, %NIX_EXEC_EFFECT_KIND_LLM or
 * %NIX_EXEC_EFFECT_KIND_COST, which carry a payload: use
 * [method@NixExec.EffectSet.add_fs_read],
 * [method@NixExec.EffectSet.add_fs_write], [method@NixExec.EffectSet.add_llm]
 * and [method@NixExec.EffectSet.add_cost] for those.
 *
 * Since: 1.0
 */
void
nix_exec_effect_set_add (NixExecEffectSet  *self,
                         NixExecEffectKind  kind)
{
  g_return_if_fail (NIX_EXEC_IS_EFFECT_SET (self));
  g_return_if_fail (kind_is_valid (kind));
  g_return_if_fail (kind_payload_member (kind) == NULL);

  add_entry (self, kind, NULL, 0);
}

/**
 * nix_exec_effect_set_add_fs_read:
 * @self: a [class@NixExec.EffectSet]
 * @path: the host path the stage reads
 *
 * Adds `FsRead(path)`, unless it is already in the set. @path is kept as
 * given.
 *
 * Since: 1.0
 */
void
nix_exec_effect_set_add_fs_read (NixExecEffectSet *self,
                                 const char       *path)
{
  g_return_if_fail (NIX_EXEC_IS_EFFECT_SET (self));
  g_return_if_fail (path != NULL);

  add_entry (self, NIX_EXEC_EFFECT_KIND_FS_READ, path, 0);
}

/**
 * nix_exec_effect_set_add_fs_write:
 * @self: a [class@NixExec.EffectSet]
 * @path: the host path the stage writes
 *
 * Adds `FsWrite(path)`, unless it is already in the set. @path is kept as
 * given.
 *
 * Since: 1.0
 */
void
nix_exec_effect_set_add_fs_write (NixExecEffectSet *self,
                                  const char       *path)
{
  g_return_if_fail (NIX_EXEC_IS_EFFECT_SET (self));
  g_return_if_fail (path != NULL);

  add_entry (self, NIX_EXEC_EFFECT_KIND_FS_WRITE, path, 0);
}

/**
 * nix_exec_effect_set_add_cost:
 * @self: a [class@NixExec.EffectSet]
 * @cents: what a run costs, in cents; at most %G_MAXINT64, the largest
 *   integer the JSON form carries
 *
 * Adds `Cost(cents)`, unless an entry of that same amount is already in the
 * set (see the set semantics in [class@NixExec.EffectSet]).
 *
 * Since: 1.0
 */
void
nix_exec_effect_set_add_cost (NixExecEffectSet *self,
                              guint64           cents)
{
  g_return_if_fail (NIX_EXEC_IS_EFFECT_SET (self));
  g_return_if_fail (cents <= G_MAXINT64);

  add_entry (self, NIX_EXEC_EFFECT_KIND_COST, NULL, cents);
}

/**
 * nix_exec_effect_set_add_llm:
 * @self: a [class@NixExec.EffectSet]
 * @model: the language model the stage calls
 *
 * Adds `Llm(model)`, unless it is already in the set.
 *
 * Since: 1.0
 */
void
nix_exec_effect_set_add_llm (NixExecEffectSet *self,
                             const char       *model)
{
  g_return_if_fail (NIX_EXEC_IS_EFFECT_SET (self));
  g_return_if_fail (model != NULL);

  add_entry (self, NIX_EXEC_EFFECT_KIND_LLM, model, 0);
}

/**
 * nix_exec_effect_set_contains:
 * @self: a [class@NixExec.EffectSet]
 * @kind: an effect kind
 *
 * Checks whether the set has an entry of @kind, whatever its payload.
 *
 * Returns: %TRUE if an entry of @kind is in the set
 *
 * Since: 1.0
 */
gboolean
nix_exec_effect_set_contains (NixExecEffectSet  *self,
                              NixExecEffectKind  kind)
{
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), FALSE);
  g_return_val_if_fail (kind_is_valid (kind), FALSE);

  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = g_ptr_array_index (self->entries, i);

      if (entry->kind == kind)
        return TRUE;
    }
  return FALSE;
}

/**
 * nix_exec_effect_set_is_pure:
 * @self: a [class@NixExec.EffectSet]
 *
 * Checks whether the set is exactly `{Pure}`. The empty set declares
 * nothing and is not pure; `{Pure, Network}` is not pure either.
 *
 * Returns: %TRUE if `Pure` is the set's only entry
 *
 * Since: 1.0
 */
gboolean
nix_exec_effect_set_is_pure (NixExecEffectSet *self)
{
  const Entry *entry;

  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), FALSE);

  if (self->entries->len != 1)
    return FALSE;
  entry = g_ptr_array_index (self->entries, 0);
  return entry->kind == NIX_EXEC_EFFECT_KIND_PURE;
}

/**
 * nix_exec_effect_set_get_read_paths:
 * @self: a [class@NixExec.EffectSet]
 *
 * Gets the paths of the set's `FsRead` entries, in the set's order.
 *
 * Returns: (transfer none) (array zero-terminated=1): the paths, possibly
 *   none; valid until @self is next changed or freed
 *
 * Since: 1.0
 */
const char * const *
nix_exec_effect_set_get_read_paths (NixExecEffectSet *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), NULL);

  return (const char * const *) self->read_paths->pdata;
}

/**
 * nix_exec_effect_set_get_write_paths:
 * @self: a [class@NixExec.EffectSet]
 *
 * Gets the paths of the set's `FsWrite` entries, in the set's order.
 *
 * Returns: (transfer none) (array zero-terminated=1): the paths, possibly
 *   none; valid until @self is next changed or freed
 *
 * Since: 1.0
 */
const char * const *
nix_exec_effect_set_get_write_paths (NixExecEffectSet *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), NULL);

  return (const char * const *) self->write_paths->pdata;
}

/**
 * nix_exec_effect_set_get_llm_models:
 * @self: a [class@NixExec.EffectSet]
 *
 * Gets the models of the set's `Llm` entries, in the set's order.
 *
 * Returns: (transfer none) (array zero-terminated=1): the models, possibly
 *   none; valid until @self is next changed or freed
 *
 * Since: 1.0
 */
const char * const *
nix_exec_effect_set_get_llm_models (NixExecEffectSet *self)
{
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), NULL);

  return (const char * const *) self->llm_models->pdata;
}

/**
 * nix_exec_effect_set_get_cost_cents:
 * @self: a [class@NixExec.EffectSet]
 *
 * Sums the amounts of the set's `Cost` entries. Equal amounts are one entry
 * (see [class@NixExec.EffectSet]), so `Cost 5` added twice sums to 5. The
 * sum saturates at %G_MAXUINT64.
 *
 * Returns: the total cost in cents, 0 if the set has no `Cost` entry
 *
 * Since: 1.0
 */
guint64
nix_exec_effect_set_get_cost_cents (NixExecEffectSet *self)
{
  guint64 total = 0;

  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), 0);

  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = g_ptr_array_index (self->entries, i);

      if (entry->kind != NIX_EXEC_EFFECT_KIND_COST)
        continue;
      if (entry->cents > G_MAXUINT64 - total)
        return G_MAXUINT64;
      total += entry->cents;
    }
  return total;
}

/**
 * nix_exec_effect_set_to_json:
 * @self: a [class@NixExec.EffectSet]
 *
 * Writes the set in its JSON form, the entries in the set's order:
 * `{"effects":[{"effect":"Network"},{"effect":"FsRead","path":"/data"},{"effect":"Cost","cents":5},{"effect":"Llm","model":"m"}]}`.
 *
 * Returns: (transfer full): a new JSON object node
 *
 * Since: 1.0
 */
JsonNode *
nix_exec_effect_set_to_json (NixExecEffectSet *self)
{
  g_autoptr(JsonBuilder) builder = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), NULL);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "effects");
  json_builder_begin_array (builder);

  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = g_ptr_array_index (self->entries, i);
      const char *payload_member = kind_payload_member (entry->kind);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "effect");
      json_builder_add_string_value (builder, kind_names[entry->kind]);
      if (payload_member != NULL)
        {
          json_builder_set_member_name (builder, payload_member);
          if (entry->kind == NIX_EXEC_EFFECT_KIND_COST)
            json_builder_add_int_value (builder, (gint64) entry->cents);
          else
            json_builder_add_string_value (builder, entry->detail);
        }
      json_builder_end_object (builder);
    }

  json_builder_end_array (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/**
 * nix_exec_effect_set_to_string:
 * @self: a [class@NixExec.EffectSet]
 *
 * Writes the set's JSON form (see [method@NixExec.EffectSet.to_json]) as
 * compact text, without spaces or newlines.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 1.0
 */
char *
nix_exec_effect_set_to_string (NixExecEffectSet *self)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), NULL);

  node = nix_exec_effect_set_to_json (self);
  /* Paths and models are UTF-8 checked when they are added. */
  return nix_exec_json_write (node, FALSE, NULL);
}

/**
 * nix_exec_effect_set_equal:
 * @self: a [class@NixExec.EffectSet]
 * @other: another [class@NixExec.EffectSet]
 *
 * Checks whether two sets hold the same entries, in any order.
 *
 * Returns: %TRUE if the sets are equal
 *
 * Since: 1.0
 */
gboolean
nix_exec_effect_set_equal (NixExecEffectSet *self,
                           NixExecEffectSet *other)
{
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (self), FALSE);
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (other), FALSE);

  if (self == other)
    return TRUE;

  /* Neither set has duplicates, so equal sizes and one inclusion suffice. */
  if (self->entries->len != other->entries->len)
    return FALSE;

  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = g_ptr_array_index (self->entries, i);

      if (!has_entry (other, entry->kind, entry->detail, entry->cents))
        return FALSE;
    }
  return TRUE;
}
