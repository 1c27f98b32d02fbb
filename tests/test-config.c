/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "nixexec-glib.h"
#include "nixexec-test-util.h"

/* A config and a count of notifications per property name. */
typedef struct
{
  NixExecConfig *config;
  GHashTable    *notified;   /* property name → count */
} ConfigFixture;

static void
record_notify (GObject    *object,
               GParamSpec *pspec,
               gpointer    user_data)
{
  ConfigFixture *fixture = user_data;
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (fixture->notified, pspec->name));

  g_hash_table_insert (fixture->notified, (gpointer) pspec->name, GUINT_TO_POINTER (count + 1));
}

static guint
notified (ConfigFixture *fixture,
          const char    *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (fixture->notified, name));
}

static guint
notified_total (ConfigFixture *fixture)
{
  GHashTableIter iter;
  gpointer value;
  guint total = 0;

  g_hash_table_iter_init (&iter, fixture->notified);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    total += GPOINTER_TO_UINT (value);
  return total;
}

static void
config_fixture_set_up (ConfigFixture *fixture,
                       gconstpointer  data)
{
  fixture->config = nix_exec_config_new ();
  fixture->notified = g_hash_table_new (g_str_hash, g_str_equal);
  g_signal_connect (fixture->config, "notify", G_CALLBACK (record_notify), fixture);
}

static void
config_fixture_tear_down (ConfigFixture *fixture,
                          gconstpointer  data)
{
  g_clear_object (&fixture->config);
  g_clear_pointer (&fixture->notified, g_hash_table_unref);
}

static char *
default_cache_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "nixexec-glib", NULL);
}

static void
test_defaults (ConfigFixture *fixture,
               gconstpointer  data)
{
  NixExecConfig *config = fixture->config;
  g_autofree char *cache_dir = default_cache_dir ();
  guint timeout_secs = 0;
  guint64 max_output_bytes = 0;
  guint64 max_stderr_bytes = 0;
  g_autofree char *flake_ref = NULL;
  g_autofree char *prop_cache_dir = NULL;
  g_autofree char *nix_path = NULL;
  gboolean offline = TRUE;
  g_auto(GStrv) nix_options = NULL;

  g_assert_cmpuint (nix_exec_config_get_timeout_secs (config), ==, 30);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (config), ==, NIX_EXEC_DEFAULT_TIMEOUT_SECS);
  g_assert_cmpuint (nix_exec_config_get_max_output_bytes (config), ==, 10 * 1024 * 1024);
  g_assert_cmpuint (nix_exec_config_get_max_stderr_bytes (config), ==, 64 * 1024);
  g_assert_cmpstr (nix_exec_config_get_flake_ref (config), ==, "nixpkgs");
  g_assert_cmpstr (nix_exec_config_get_cache_dir (config), ==, cache_dir);
  g_assert_null (nix_exec_config_get_nix_path (config));
  g_assert_false (nix_exec_config_get_offline (config));
  g_assert_nonnull (nix_exec_config_get_nix_options (config));
  g_assert_null (nix_exec_config_get_nix_options (config)[0]);
  /* Confined where the host allows it, by default. */
  g_assert_cmpint (nix_exec_config_get_isolation (config), ==, NIX_EXEC_ISOLATION_AUTO);
  g_assert_false (nix_exec_config_get_require_isolation (config));
  g_assert_nonnull (nix_exec_config_get_extra_ro_binds (config));
  g_assert_null (nix_exec_config_get_extra_ro_binds (config)[0]);

  /* The same through properties. */
  g_object_get (config,
                "timeout-secs", &timeout_secs,
                "max-output-bytes", &max_output_bytes,
                "max-stderr-bytes", &max_stderr_bytes,
                "flake-ref", &flake_ref,
                "cache-dir", &prop_cache_dir,
                "nix-path", &nix_path,
                "offline", &offline,
                "nix-options", &nix_options,
                NULL);
  g_assert_cmpuint (timeout_secs, ==, NIX_EXEC_DEFAULT_TIMEOUT_SECS);
  g_assert_cmpuint (max_output_bytes, ==, NIX_EXEC_DEFAULT_MAX_OUTPUT_BYTES);
  g_assert_cmpuint (max_stderr_bytes, ==, NIX_EXEC_DEFAULT_MAX_STDERR_BYTES);
  g_assert_cmpstr (flake_ref, ==, NIX_EXEC_DEFAULT_FLAKE_REF);
  g_assert_cmpstr (prop_cache_dir, ==, cache_dir);
  g_assert_null (nix_path);
  g_assert_false (offline);
  g_assert_nonnull (nix_options);
  g_assert_cmpuint (g_strv_length (nix_options), ==, 0);

  g_assert_cmpuint (notified_total (fixture), ==, 0);
}

static void
test_pspec_defaults (void)
{
  /* The defaults introspection sees are the ones a new config has. */
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  GObjectClass *klass = G_OBJECT_GET_CLASS (config);
  const char *names[] = {
    "timeout-secs", "max-output-bytes", "max-stderr-bytes", "flake-ref", "nix-path", "offline",
    "isolation", "require-isolation",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GParamSpec *pspec = g_object_class_find_property (klass, names[i]);
      g_auto(GValue) value = G_VALUE_INIT;

      g_test_message ("property %s", names[i]);
      g_assert_nonnull (pspec);
      g_assert_true ((pspec->flags & G_PARAM_EXPLICIT_NOTIFY) != 0);
      g_value_init (&value, pspec->value_type);
      g_object_get_property (G_OBJECT (config), names[i], &value);
      g_assert_cmpint (g_param_values_cmp (pspec, &value, g_param_spec_get_default_value (pspec)), ==, 0);
    }

  g_assert_cmpuint (G_PARAM_SPEC_UINT64 (g_object_class_find_property (klass, "max-output-bytes"))->minimum, ==, 1);
}

static void
test_timeout_secs (ConfigFixture *fixture,
                   gconstpointer  data)
{
  guint value = 0;

  nix_exec_config_set_timeout_secs (fixture->config, 5);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (fixture->config), ==, 5);
  g_assert_cmpuint (notified (fixture, "timeout-secs"), ==, 1);

  nix_exec_config_set_timeout_secs (fixture->config, 5);
  g_object_set (fixture->config, "timeout-secs", 5, NULL);
  g_assert_cmpuint (notified (fixture, "timeout-secs"), ==, 1);

  /* 0 is allowed: no limit. */
  g_object_set (fixture->config, "timeout-secs", 0, NULL);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (fixture->config), ==, 0);
  g_assert_cmpuint (notified (fixture, "timeout-secs"), ==, 2);

  nix_exec_config_set_timeout_secs (fixture->config, G_MAXUINT);
  g_object_get (fixture->config, "timeout-secs", &value, NULL);
  g_assert_cmpuint (value, ==, G_MAXUINT);
  g_assert_cmpuint (notified (fixture, "timeout-secs"), ==, 3);
  g_assert_cmpuint (notified_total (fixture), ==, 3);
}

static void
test_max_output_bytes (ConfigFixture *fixture,
                       gconstpointer  data)
{
  guint64 value = 0;

  nix_exec_config_set_max_output_bytes (fixture->config, 1);
  g_assert_cmpuint (nix_exec_config_get_max_output_bytes (fixture->config), ==, 1);
  g_assert_cmpuint (notified (fixture, "max-output-bytes"), ==, 1);

  nix_exec_config_set_max_output_bytes (fixture->config, 1);
  g_assert_cmpuint (notified (fixture, "max-output-bytes"), ==, 1);

  g_object_set (fixture->config, "max-output-bytes", G_MAXUINT64, NULL);
  g_object_get (fixture->config, "max-output-bytes", &value, NULL);
  g_assert_cmpuint (value, ==, G_MAXUINT64);
  g_assert_cmpuint (notified (fixture, "max-output-bytes"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_max_stderr_bytes (ConfigFixture *fixture,
                       gconstpointer  data)
{
  guint64 value = 1;

  nix_exec_config_set_max_stderr_bytes (fixture->config, 0);
  g_assert_cmpuint (nix_exec_config_get_max_stderr_bytes (fixture->config), ==, 0);
  g_assert_cmpuint (notified (fixture, "max-stderr-bytes"), ==, 1);

  g_object_set (fixture->config, "max-stderr-bytes", (guint64) 0, NULL);
  g_assert_cmpuint (notified (fixture, "max-stderr-bytes"), ==, 1);

  g_object_set (fixture->config, "max-stderr-bytes", (guint64) 4096, NULL);
  g_object_get (fixture->config, "max-stderr-bytes", &value, NULL);
  g_assert_cmpuint (value, ==, 4096);
  g_assert_cmpuint (notified (fixture, "max-stderr-bytes"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_flake_ref (ConfigFixture *fixture,
                gconstpointer  data)
{
  g_autofree char *value = NULL;

  /* Setting the default value explicitly is no change. */
  nix_exec_config_set_flake_ref (fixture->config, "nixpkgs");
  nix_exec_config_set_flake_ref (fixture->config, NULL);
  g_assert_cmpuint (notified (fixture, "flake-ref"), ==, 0);

  nix_exec_config_set_flake_ref (fixture->config, "github:NixOS/nixpkgs/nixos-24.05");
  g_assert_cmpstr (nix_exec_config_get_flake_ref (fixture->config), ==, "github:NixOS/nixpkgs/nixos-24.05");
  g_assert_cmpuint (notified (fixture, "flake-ref"), ==, 1);

  nix_exec_config_set_flake_ref (fixture->config, "github:NixOS/nixpkgs/nixos-24.05");
  g_assert_cmpuint (notified (fixture, "flake-ref"), ==, 1);

  g_object_set (fixture->config, "flake-ref", "path:/tmp/flake", NULL);
  g_object_get (fixture->config, "flake-ref", &value, NULL);
  g_assert_cmpstr (value, ==, "path:/tmp/flake");
  g_assert_cmpuint (notified (fixture, "flake-ref"), ==, 2);

  /* NULL restores the default. */
  g_object_set (fixture->config, "flake-ref", NULL, NULL);
  g_assert_cmpstr (nix_exec_config_get_flake_ref (fixture->config), ==, NIX_EXEC_DEFAULT_FLAKE_REF);
  g_assert_cmpuint (notified (fixture, "flake-ref"), ==, 3);
  nix_exec_config_set_flake_ref (fixture->config, NULL);
  g_assert_cmpuint (notified (fixture, "flake-ref"), ==, 3);
  g_assert_cmpuint (notified_total (fixture), ==, 3);
}

static void
test_cache_dir (ConfigFixture *fixture,
                gconstpointer  data)
{
  g_autofree char *cache_dir = default_cache_dir ();
  g_autofree char *value = NULL;

  nix_exec_config_set_cache_dir (fixture->config, cache_dir);
  nix_exec_config_set_cache_dir (fixture->config, NULL);
  g_assert_cmpuint (notified (fixture, "cache-dir"), ==, 0);

  nix_exec_config_set_cache_dir (fixture->config, "/var/cache/elsewhere");
  g_assert_cmpstr (nix_exec_config_get_cache_dir (fixture->config), ==, "/var/cache/elsewhere");
  g_assert_cmpuint (notified (fixture, "cache-dir"), ==, 1);
  nix_exec_config_set_cache_dir (fixture->config, "/var/cache/elsewhere");
  g_assert_cmpuint (notified (fixture, "cache-dir"), ==, 1);

  g_object_get (fixture->config, "cache-dir", &value, NULL);
  g_assert_cmpstr (value, ==, "/var/cache/elsewhere");

  g_object_set (fixture->config, "cache-dir", NULL, NULL);
  g_assert_cmpstr (nix_exec_config_get_cache_dir (fixture->config), ==, cache_dir);
  g_assert_cmpuint (notified (fixture, "cache-dir"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_nix_path (ConfigFixture *fixture,
               gconstpointer  data)
{
  g_autofree char *value = NULL;

  nix_exec_config_set_nix_path (fixture->config, NULL);
  g_assert_cmpuint (notified (fixture, "nix-path"), ==, 0);

  nix_exec_config_set_nix_path (fixture->config, "/nix/var/nix/profiles/default/bin/nix");
  g_assert_cmpstr (nix_exec_config_get_nix_path (fixture->config), ==, "/nix/var/nix/profiles/default/bin/nix");
  g_assert_cmpuint (notified (fixture, "nix-path"), ==, 1);
  g_object_set (fixture->config, "nix-path", "/nix/var/nix/profiles/default/bin/nix", NULL);
  g_assert_cmpuint (notified (fixture, "nix-path"), ==, 1);

  g_object_get (fixture->config, "nix-path", &value, NULL);
  g_assert_cmpstr (value, ==, "/nix/var/nix/profiles/default/bin/nix");

  nix_exec_config_set_nix_path (fixture->config, NULL);
  g_assert_null (nix_exec_config_get_nix_path (fixture->config));
  g_assert_cmpuint (notified (fixture, "nix-path"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_offline (ConfigFixture *fixture,
              gconstpointer  data)
{
  gboolean value = FALSE;

  nix_exec_config_set_offline (fixture->config, FALSE);
  g_assert_cmpuint (notified (fixture, "offline"), ==, 0);

  nix_exec_config_set_offline (fixture->config, TRUE);
  g_assert_true (nix_exec_config_get_offline (fixture->config));
  g_assert_cmpuint (notified (fixture, "offline"), ==, 1);

  /* Any true value is TRUE. */
  nix_exec_config_set_offline (fixture->config, 2);
  g_assert_cmpint (nix_exec_config_get_offline (fixture->config), ==, TRUE);
  g_assert_cmpuint (notified (fixture, "offline"), ==, 1);

  g_object_get (fixture->config, "offline", &value, NULL);
  g_assert_true (value);

  g_object_set (fixture->config, "offline", FALSE, NULL);
  g_assert_false (nix_exec_config_get_offline (fixture->config));
  g_assert_cmpuint (notified (fixture, "offline"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_nix_options (ConfigFixture *fixture,
                  gconstpointer  data)
{
  const char * const options[] = { "sandbox=false", "build-users-group=", "max-jobs=a=b", NULL };
  const char * const same[] = { "sandbox=false", "build-users-group=", "max-jobs=a=b", NULL };
  const char * const other[] = { "sandbox=true", NULL };
  const char * const empty[] = { NULL };
  const char * const *got;
  g_auto(GStrv) value = NULL;

  nix_exec_config_set_nix_options (fixture->config, NULL);
  nix_exec_config_set_nix_options (fixture->config, empty);
  g_assert_cmpuint (notified (fixture, "nix-options"), ==, 0);

  nix_exec_config_set_nix_options (fixture->config, options);
  got = nix_exec_config_get_nix_options (fixture->config);
  g_assert_true (got != options);
  g_assert_true (g_strv_equal (got, options));
  g_assert_cmpuint (notified (fixture, "nix-options"), ==, 1);

  /* Equal contents from another array are no change. */
  nix_exec_config_set_nix_options (fixture->config, same);
  g_assert_cmpuint (notified (fixture, "nix-options"), ==, 1);

  g_object_get (fixture->config, "nix-options", &value, NULL);
  g_assert_true (g_strv_equal ((const char * const *) value, options));

  g_object_set (fixture->config, "nix-options", other, NULL);
  g_assert_true (g_strv_equal (nix_exec_config_get_nix_options (fixture->config), other));
  g_assert_cmpuint (notified (fixture, "nix-options"), ==, 2);

  /* NULL clears them, and reads back as an empty array. */
  g_object_set (fixture->config, "nix-options", NULL, NULL);
  got = nix_exec_config_get_nix_options (fixture->config);
  g_assert_nonnull (got);
  g_assert_null (got[0]);
  g_assert_cmpuint (notified (fixture, "nix-options"), ==, 3);
  g_assert_cmpuint (notified_total (fixture), ==, 3);
}

static void
test_isolation (ConfigFixture *fixture,
                gconstpointer  data)
{
  NixExecIsolation value = NIX_EXEC_ISOLATION_NONE;
  GEnumClass *enum_class = g_type_class_ref (NIX_EXEC_TYPE_ISOLATION);

  /* The enum is registered with the nicks bindings see. */
  g_assert_cmpstr (g_enum_get_value (enum_class, NIX_EXEC_ISOLATION_NONE)->value_nick, ==, "none");
  g_assert_cmpstr (g_enum_get_value (enum_class, NIX_EXEC_ISOLATION_AUTO)->value_nick, ==, "auto");
  g_assert_cmpstr (g_enum_get_value (enum_class, NIX_EXEC_ISOLATION_BWRAP)->value_nick, ==, "bwrap");
  g_type_class_unref (enum_class);

  nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_AUTO);
  g_assert_cmpuint (notified (fixture, "isolation"), ==, 0);

  nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_BWRAP);
  g_assert_cmpint (nix_exec_config_get_isolation (fixture->config), ==, NIX_EXEC_ISOLATION_BWRAP);
  g_assert_cmpuint (notified (fixture, "isolation"), ==, 1);
  nix_exec_config_set_isolation (fixture->config, NIX_EXEC_ISOLATION_BWRAP);
  g_assert_cmpuint (notified (fixture, "isolation"), ==, 1);

  g_object_set (fixture->config, "isolation", NIX_EXEC_ISOLATION_NONE, NULL);
  g_object_get (fixture->config, "isolation", &value, NULL);
  g_assert_cmpint (value, ==, NIX_EXEC_ISOLATION_NONE);
  g_assert_cmpuint (notified (fixture, "isolation"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_require_isolation (ConfigFixture *fixture,
                        gconstpointer  data)
{
  gboolean value = FALSE;

  nix_exec_config_set_require_isolation (fixture->config, FALSE);
  g_assert_cmpuint (notified (fixture, "require-isolation"), ==, 0);

  nix_exec_config_set_require_isolation (fixture->config, 2);
  g_assert_cmpint (nix_exec_config_get_require_isolation (fixture->config), ==, TRUE);
  g_assert_cmpuint (notified (fixture, "require-isolation"), ==, 1);
  nix_exec_config_set_require_isolation (fixture->config, TRUE);
  g_assert_cmpuint (notified (fixture, "require-isolation"), ==, 1);

  g_object_get (fixture->config, "require-isolation", &value, NULL);
  g_assert_true (value);
  g_object_set (fixture->config, "require-isolation", FALSE, NULL);
  g_assert_false (nix_exec_config_get_require_isolation (fixture->config));
  g_assert_cmpuint (notified (fixture, "require-isolation"), ==, 2);
  g_assert_cmpuint (notified_total (fixture), ==, 2);
}

static void
test_extra_ro_binds (ConfigFixture *fixture,
                     gconstpointer  data)
{
  const char * const binds[] = { "/usr", "/bin", "/opt/data", NULL };
  const char * const same[] = { "/usr", "/bin", "/opt/data", NULL };
  const char * const other[] = { "/srv", NULL };
  const char * const bad[] = { "/usr", "relative", NULL };
  const char * const *got;
  g_auto(GStrv) value = NULL;

  nix_exec_config_set_extra_ro_binds (fixture->config, NULL);
  g_assert_cmpuint (notified (fixture, "extra-ro-binds"), ==, 0);

  nix_exec_config_set_extra_ro_binds (fixture->config, binds);
  got = nix_exec_config_get_extra_ro_binds (fixture->config);
  g_assert_true (got != binds);
  g_assert_true (g_strv_equal (got, binds));
  g_assert_cmpuint (notified (fixture, "extra-ro-binds"), ==, 1);
  nix_exec_config_set_extra_ro_binds (fixture->config, same);
  g_assert_cmpuint (notified (fixture, "extra-ro-binds"), ==, 1);

  g_object_get (fixture->config, "extra-ro-binds", &value, NULL);
  g_assert_true (g_strv_equal ((const char * const *) value, binds));

  g_object_set (fixture->config, "extra-ro-binds", other, NULL);
  g_assert_true (g_strv_equal (nix_exec_config_get_extra_ro_binds (fixture->config), other));
  g_assert_cmpuint (notified (fixture, "extra-ro-binds"), ==, 2);

  /* A relative path is refused, and the list left as it was. */
  g_test_expect_message ("NixExec", G_LOG_LEVEL_CRITICAL, "*g_path_is_absolute*");
  nix_exec_config_set_extra_ro_binds (fixture->config, bad);
  g_test_assert_expected_messages ();
  g_assert_true (g_strv_equal (nix_exec_config_get_extra_ro_binds (fixture->config), other));

  g_object_set (fixture->config, "extra-ro-binds", NULL, NULL);
  got = nix_exec_config_get_extra_ro_binds (fixture->config);
  g_assert_nonnull (got);
  g_assert_null (got[0]);
  g_assert_cmpuint (notified (fixture, "extra-ro-binds"), ==, 3);
  g_assert_cmpuint (notified_total (fixture), ==, 3);
}

static void
set_non_defaults (NixExecConfig *config)
{
  const char * const options[] = { "sandbox=false", "substituters=", NULL };
  const char * const binds[] = { "/usr", "/lib", NULL };

  nix_exec_config_set_timeout_secs (config, 7);
  nix_exec_config_set_max_output_bytes (config, 1234);
  nix_exec_config_set_max_stderr_bytes (config, 99);
  nix_exec_config_set_flake_ref (config, "path:/flake");
  nix_exec_config_set_cache_dir (config, "/cache");
  nix_exec_config_set_nix_path (config, "/bin/nix");
  nix_exec_config_set_offline (config, TRUE);
  nix_exec_config_set_nix_options (config, options);
  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_BWRAP);
  nix_exec_config_set_require_isolation (config, TRUE);
  nix_exec_config_set_extra_ro_binds (config, binds);
}

/* Compares every readable property, so a property added later that copy()
 * missed shows up here. */
static void
assert_configs_equal (NixExecConfig *a,
                      NixExecConfig *b)
{
  guint n_pspecs = 0;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (a), &n_pspecs);

  g_assert_cmpuint (n_pspecs, >=, 8);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_auto(GValue) value_a = G_VALUE_INIT;
      g_auto(GValue) value_b = G_VALUE_INIT;

      g_test_message ("property %s", pspecs[i]->name);
      g_value_init (&value_a, pspecs[i]->value_type);
      g_value_init (&value_b, pspecs[i]->value_type);
      g_object_get_property (G_OBJECT (a), pspecs[i]->name, &value_a);
      g_object_get_property (G_OBJECT (b), pspecs[i]->name, &value_b);
      if (pspecs[i]->value_type == G_TYPE_STRV)
        g_assert_true (g_strv_equal (g_value_get_boxed (&value_a), g_value_get_boxed (&value_b)));
      else
        g_assert_cmpint (g_param_values_cmp (pspecs[i], &value_a, &value_b), ==, 0);
    }
}

static void
test_copy (ConfigFixture *fixture,
           gconstpointer  data)
{
  g_autoptr(NixExecConfig) copy = NULL;
  g_autoptr(NixExecConfig) defaults = nix_exec_config_new ();
  g_autoptr(NixExecConfig) copy_of_defaults = nix_exec_config_copy (defaults);
  const char * const copy_options[] = { "keep-going=true", NULL };
  const char * const options[] = { "sandbox=false", "substituters=", NULL };

  assert_configs_equal (defaults, copy_of_defaults);
  g_assert_null (nix_exec_config_get_nix_path (copy_of_defaults));

  set_non_defaults (fixture->config);
  g_hash_table_remove_all (fixture->notified);
  copy = nix_exec_config_copy (fixture->config);
  /* Copying does not notify on the source. */
  g_assert_cmpuint (notified_total (fixture), ==, 0);
  g_assert_true (copy != fixture->config);
  assert_configs_equal (fixture->config, copy);

  g_assert_cmpuint (nix_exec_config_get_timeout_secs (copy), ==, 7);
  g_assert_cmpuint (nix_exec_config_get_max_output_bytes (copy), ==, 1234);
  g_assert_cmpuint (nix_exec_config_get_max_stderr_bytes (copy), ==, 99);
  g_assert_cmpstr (nix_exec_config_get_flake_ref (copy), ==, "path:/flake");
  g_assert_cmpstr (nix_exec_config_get_cache_dir (copy), ==, "/cache");
  g_assert_cmpstr (nix_exec_config_get_nix_path (copy), ==, "/bin/nix");
  g_assert_true (nix_exec_config_get_offline (copy));
  g_assert_true (g_strv_equal (nix_exec_config_get_nix_options (copy), options));
  g_assert_cmpint (nix_exec_config_get_isolation (copy), ==, NIX_EXEC_ISOLATION_BWRAP);
  g_assert_true (nix_exec_config_get_require_isolation (copy));
  g_assert_cmpstr (nix_exec_config_get_extra_ro_binds (copy)[1], ==, "/lib");
  g_assert_true (nix_exec_config_get_extra_ro_binds (copy) != nix_exec_config_get_extra_ro_binds (fixture->config));

  /* Deep: no storage shared. */
  g_assert_true (nix_exec_config_get_flake_ref (copy) != nix_exec_config_get_flake_ref (fixture->config));
  g_assert_true (nix_exec_config_get_nix_options (copy) != nix_exec_config_get_nix_options (fixture->config));
  g_assert_true (nix_exec_config_get_nix_options (copy)[0] != nix_exec_config_get_nix_options (fixture->config)[0]);

  /* Changing the copy leaves the original alone... */
  nix_exec_config_set_timeout_secs (copy, 1);
  nix_exec_config_set_max_output_bytes (copy, 2);
  nix_exec_config_set_max_stderr_bytes (copy, 3);
  nix_exec_config_set_flake_ref (copy, NULL);
  nix_exec_config_set_cache_dir (copy, NULL);
  nix_exec_config_set_nix_path (copy, NULL);
  nix_exec_config_set_offline (copy, FALSE);
  nix_exec_config_set_nix_options (copy, copy_options);
  nix_exec_config_set_isolation (copy, NIX_EXEC_ISOLATION_NONE);
  nix_exec_config_set_require_isolation (copy, FALSE);
  nix_exec_config_set_extra_ro_binds (copy, NULL);

  g_assert_cmpint (nix_exec_config_get_isolation (fixture->config), ==, NIX_EXEC_ISOLATION_BWRAP);
  g_assert_true (nix_exec_config_get_require_isolation (fixture->config));
  g_assert_cmpuint (g_strv_length ((char **) nix_exec_config_get_extra_ro_binds (fixture->config)), ==, 2);
  g_assert_cmpuint (nix_exec_config_get_timeout_secs (fixture->config), ==, 7);
  g_assert_cmpuint (nix_exec_config_get_max_output_bytes (fixture->config), ==, 1234);
  g_assert_cmpuint (nix_exec_config_get_max_stderr_bytes (fixture->config), ==, 99);
  g_assert_cmpstr (nix_exec_config_get_flake_ref (fixture->config), ==, "path:/flake");
  g_assert_cmpstr (nix_exec_config_get_cache_dir (fixture->config), ==, "/cache");
  g_assert_cmpstr (nix_exec_config_get_nix_path (fixture->config), ==, "/bin/nix");
  g_assert_true (nix_exec_config_get_offline (fixture->config));
  g_assert_true (g_strv_equal (nix_exec_config_get_nix_options (fixture->config), options));
  g_assert_cmpuint (notified_total (fixture), ==, 0);

  /* ...and the copy outlives it. */
  g_clear_object (&fixture->config);
  g_assert_true (g_strv_equal (nix_exec_config_get_nix_options (copy), copy_options));
  g_assert_cmpstr (nix_exec_config_get_cache_dir (copy), ==, nix_exec_config_get_cache_dir (defaults));
}

/* Contracts that must be refused with a critical. */

static void
set_option_without_equals (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  const char * const options[] = { "sandbox=false", "sandbox", NULL };

  nix_exec_config_set_nix_options (config, options);
}

static void
set_option_without_name (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  const char * const options[] = { "=false", NULL };

  nix_exec_config_set_nix_options (config, options);
}

static void
set_option_property_without_equals (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  const char * const options[] = { "", NULL };

  g_object_set (config, "nix-options", options, NULL);
}

static void
set_zero_max_output (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();

  nix_exec_config_set_max_output_bytes (config, 0);
}

static void
set_empty_flake_ref (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();

  nix_exec_config_set_flake_ref (config, "");
}

static void
set_empty_cache_dir (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();

  nix_exec_config_set_cache_dir (config, "");
}

static void
set_bad_isolation (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();

  nix_exec_config_set_isolation (config, (NixExecIsolation) 42);
}

static void
set_relative_extra_bind (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  const char * const binds[] = { "usr", NULL };

  nix_exec_config_set_extra_ro_binds (config, binds);
}

static void
set_empty_nix_path (gconstpointer data)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();

  nix_exec_config_set_nix_path (config, "");
}

static const NixExecTestCritical critical_cases[] = {
  { "nix-options-without-equals", set_option_without_equals, NULL,
    "*CRITICAL*nix_option_is_valid*" },
  { "nix-options-without-name", set_option_without_name, NULL, "*CRITICAL*nix_option_is_valid*" },
  { "nix-options-property", set_option_property_without_equals, NULL,
    "*CRITICAL*nix_option_is_valid*" },
  { "max-output-bytes-zero", set_zero_max_output, NULL, "*CRITICAL*max_output_bytes >= 1*" },
  { "flake-ref-empty", set_empty_flake_ref, NULL, "*CRITICAL*flake_ref == NULL*" },
  { "cache-dir-empty", set_empty_cache_dir, NULL, "*CRITICAL*cache_dir == NULL*" },
  { "nix-path-empty", set_empty_nix_path, NULL, "*CRITICAL*nix_path == NULL*" },
  { "isolation-invalid", set_bad_isolation, NULL,
    "*CRITICAL*isolation == NIX_EXEC_ISOLATION_NONE*" },
  { "extra-ro-binds-relative", set_relative_extra_bind, NULL, "*CRITICAL*g_path_is_absolute*" },
};

static void
test_invalid_options_rejected (void)
{
  g_autoptr(NixExecConfig) config = nix_exec_config_new ();
  const char * const good[] = { "sandbox=false", NULL };
  const char * const bad[] = { "sandbox=true", "oops", NULL };

  /* A refused list leaves the previous one in place. */
  nix_exec_config_set_nix_options (config, good);
  g_test_expect_message ("NixExec", G_LOG_LEVEL_CRITICAL, "*nix_option_is_valid*");
  nix_exec_config_set_nix_options (config, bad);
  g_test_assert_expected_messages ();
  g_assert_true (g_strv_equal (nix_exec_config_get_nix_options (config), good));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_summary ("NixExecConfig: defaults, setters, change notification and copies");

#define ADD_CONFIG_TEST(path, func) \
  g_test_add ("/nixexec/config/" path, ConfigFixture, NULL, \
              config_fixture_set_up, func, config_fixture_tear_down)

  ADD_CONFIG_TEST ("defaults", test_defaults);
  g_test_add_func ("/nixexec/config/pspec-defaults", test_pspec_defaults);
  ADD_CONFIG_TEST ("timeout-secs", test_timeout_secs);
  ADD_CONFIG_TEST ("max-output-bytes", test_max_output_bytes);
  ADD_CONFIG_TEST ("max-stderr-bytes", test_max_stderr_bytes);
  ADD_CONFIG_TEST ("flake-ref", test_flake_ref);
  ADD_CONFIG_TEST ("cache-dir", test_cache_dir);
  ADD_CONFIG_TEST ("nix-path", test_nix_path);
  ADD_CONFIG_TEST ("offline", test_offline);
  ADD_CONFIG_TEST ("nix-options", test_nix_options);
  ADD_CONFIG_TEST ("isolation", test_isolation);
  ADD_CONFIG_TEST ("require-isolation", test_require_isolation);
  ADD_CONFIG_TEST ("extra-ro-binds", test_extra_ro_binds);
  ADD_CONFIG_TEST ("copy", test_copy);

#undef ADD_CONFIG_TEST

  g_test_add_func ("/nixexec/config/nix-options-rejected", test_invalid_options_rejected);
  nix_exec_test_add_critical ("/nixexec/config/critical", critical_cases,
                              G_N_ELEMENTS (critical_cases));

  return g_test_run ();
}
