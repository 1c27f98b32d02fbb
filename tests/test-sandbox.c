/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The escape suite: what a stage cannot do under the default policy.
 *
 * Every case runs the stage in tests/sandbox-probe.py through the public
 * execute API, with the test config (isolation AUTO, the default) plus
 * require-isolation, so that a host where the sandbox cannot be built fails
 * the suite instead of quietly running it unconfined. Set
 * NIXEXEC_TEST_ALLOW_NO_SANDBOX=1 to skip instead, on a machine known to
 * have no usable bubblewrap.
 *
 * Each case asserts that the escape fails confined, and — wherever that is
 * safe and the host allows it — runs the very same probe unconfined
 * (NIX_EXEC_ISOLATION_NONE) and asserts that the escape then *succeeds*.
 * That control is the proof that the case would fail if its protection
 * broke: the probe really does what it claims to try.
 *
 * The cases at the end, under /nixexec/sandbox/unavailable/, point the
 * library at fake bwrap binaries through a private test hook (see
 * nixexec-sandbox-private.h); everything else uses the public API only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <pwd.h>

#include <glib/gstdio.h>

#include "nixexec-sandbox-private.h"
#include "nixexec-seccomp-private.h"
#include "nixexec-test-util.h"

/* Set up by main() before anything reads HOME. */
static char *test_home;         /* this process's HOME: a temporary directory */
static char *home_secret_path;  /* $HOME/.ssh/id_test */
static char *home_secret_text;
static char *env_secret;        /* the value of NIXEXEC_TEST_SECRET */
static char *probe_code;        /* tests/sandbox-probe.py */

typedef struct
{
  char            *cache_dir;
  char            *area;        /* host directories to declare, or not */
  NixExecExecutor *confined;
  NixExecExecutor *unconfined;
  guint            n_stages;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  fixture->cache_dir = nix_exec_test_make_tmpdir ("nixexec-sandbox-cache");
  fixture->area = nix_exec_test_make_tmpdir ("nixexec-sandbox-area");
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_clear_object (&fixture->confined);
  g_clear_object (&fixture->unconfined);
  nix_exec_test_rm_rf (fixture->cache_dir);
  nix_exec_test_rm_rf (fixture->area);
  g_clear_pointer (&fixture->cache_dir, g_free);
  g_clear_pointer (&fixture->area, g_free);
  /* For the cases that swapped bwrap for a fake. */
  nix_exec_sandbox_set_bwrap_candidates_for_testing (NULL);
}

/* The test config with @isolation; confined means "or fail". */
static NixExecConfig *
sandbox_config_new (Fixture          *fixture,
                    NixExecIsolation  isolation)
{
  NixExecConfig *config = nix_exec_test_config_new (fixture->cache_dir);

  nix_exec_config_set_isolation (config, isolation);
  nix_exec_config_set_require_isolation (config, isolation != NIX_EXEC_ISOLATION_NONE);
  return config;
}

/* The executor for confined (AUTO) or unconfined (NONE) runs; NULL when
 * the case was skipped for want of a sandbox. */
static NixExecExecutor *
get_executor (Fixture  *fixture,
              gboolean  confined)
{
  NixExecExecutor **slot = confined ? &fixture->confined : &fixture->unconfined;
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  if (*slot != NULL)
    return *slot;

  config = sandbox_config_new (fixture, confined ? NIX_EXEC_ISOLATION_AUTO
                                                 : NIX_EXEC_ISOLATION_NONE);
  /* The test config is unconfined with NIXEXEC_TEST_ALLOW_NO_SANDBOX=1:
   * set AUTO again, explicitly. */
  nix_exec_config_set_isolation (config, confined ? NIX_EXEC_ISOLATION_AUTO : NIX_EXEC_ISOLATION_NONE);
  *slot = nix_exec_executor_new (config, &error);
  if (confined && g_error_matches (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE) &&
      nix_exec_test_allow_no_sandbox ())
    {
      g_test_skip_printf ("No sandbox on this host: %s", error->message);
      return NULL;
    }
  g_assert_no_error (error);
  g_assert_true (nix_exec_executor_get_isolation_active (*slot) == confined);
  return *slot;
}

/* Runs the probe stage with @effects (NULL: none declared, i.e. Unknown) on
 * @input (taken), through execute_async, iterating the main context
 * meanwhile (the TCP server of the network case lives there). */
static JsonNode *
try_probe (Fixture           *fixture,
           gboolean           confined,
           NixExecEffectSet  *effects,
           JsonObject        *input,
           GError           **error)
{
  NixExecExecutor *executor = get_executor (fixture, confined);
  g_autofree char *stage_id = g_strdup_printf ("probe-%u", ++fixture->n_stages);
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), input);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) local_error = NULL;

  json_object_unref (input);
  if (executor == NULL)
    return NULL;

  g_assert_true (nix_exec_executor_register_with_effects (executor, stage_id, probe_code, "python",
                                                          effects, &local_error));
  g_assert_no_error (local_error);

  nix_exec_executor_execute_async (executor, stage_id, node, NULL, nix_exec_test_on_done, &result);
  nix_exec_test_wait (&result);
  return nix_exec_executor_execute_finish (executor, result, error);
}

static JsonNode *
run_probe (Fixture          *fixture,
           gboolean          confined,
           NixExecEffectSet *effects,
           JsonObject       *input)
{
  g_autoptr(GError) error = NULL;
  JsonNode *output = try_probe (fixture, confined, effects, input, &error);

  g_assert_no_error (error);
  if (output != NULL)
    {
      g_autofree char *text = nix_exec_test_to_json (output);
      g_test_message ("%s probe: %s", confined ? "confined" : "unconfined", text);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (output));
    }
  return output;
}

static JsonObject *
probe_input (const char *probe)
{
  JsonObject *input = json_object_new ();

  json_object_set_string_member (input, "probe", probe);
  return input;
}

static JsonObject *
report_of (JsonNode *output)
{
  return json_node_get_object (output);
}

/* An attempt the probe reported as {"ok": …, "value"|"error": …}. */
static gboolean
attempt_ok (JsonObject *report,
            const char *name)
{
  JsonObject *attempt = json_object_get_object_member (report, name);

  g_assert_nonnull (attempt);
  return json_object_get_boolean_member (attempt, "ok");
}

static void
assert_blocked (JsonObject *report,
                const char *name)
{
  if (attempt_ok (report, name))
    g_error ("The stage could do “%s”, which the sandbox must prevent", name);
}

static void
assert_allowed (JsonObject *report,
                const char *name)
{
  JsonObject *attempt = json_object_get_object_member (report, name);

  if (!attempt_ok (report, name))
    g_error ("The stage could not do “%s”: %s", name,
             json_object_get_string_member (attempt, "error"));
}

static const char *
attempt_value_string (JsonObject *report,
                      const char *name)
{
  return json_object_get_string_member (json_object_get_object_member (report, name), "value");
}

static gboolean
is_root (void)
{
  return geteuid () == 0;
}

static char *
make_dir (const char *parent,
          const char *name)
{
  char *dir = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

static char *
make_file (const char *dir,
           const char *name,
           const char *contents)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static char *
read_file (const char *path)
{
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

static char *
passwd_home (void)
{
  struct passwd *pw = getpwuid (getuid ());

  return g_strdup (pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : "/root");
}

/* ------------------------------------------------------------------------ */

static void
test_default_is_confined (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) defaults = nix_exec_config_new ();
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  gboolean active = FALSE;

  g_assert_cmpint (nix_exec_config_get_isolation (defaults), ==, NIX_EXEC_ISOLATION_AUTO);
  g_assert_false (nix_exec_config_get_require_isolation (defaults));

  if (get_executor (fixture, TRUE) == NULL)
    return;

  /* Without require-isolation too: AUTO, the default, confines. (Set
   * explicitly: with NIXEXEC_TEST_ALLOW_NO_SANDBOX=1 the test config is
   * NONE; get_executor() has skipped this case if there is no sandbox.) */
  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_AUTO);
  executor = nix_exec_executor_new (config, &error);
  g_assert_no_error (error);
  g_object_get (executor, "isolation-active", &active, NULL);
  g_assert_true (active);

  /* And BWRAP explicitly. */
  g_clear_object (&executor);
  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_BWRAP);
  executor = nix_exec_executor_new (config, &error);
  g_assert_no_error (error);
  g_assert_true (nix_exec_executor_get_isolation_active (executor));

  g_clear_object (&executor);
  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_NONE);
  executor = nix_exec_executor_new (config, &error);
  g_assert_no_error (error);
  g_assert_false (nix_exec_executor_get_isolation_active (executor));
}

static JsonObject *
secrets_input (void)
{
  JsonObject *input = probe_input ("secrets");
  g_autofree char *pw_home = passwd_home ();

  json_object_set_string_member (input, "home_secret", home_secret_path);
  json_object_set_string_member (input, "home", test_home);
  json_object_set_string_member (input, "passwd_home", pw_home);
  return input;
}

static void
test_secrets (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(NixExecEffectSet) network = nix_exec_effect_set_new ();
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) with_network = NULL;
  g_autoptr(JsonNode) unconfined = NULL;

  g_test_summary ("A stage reads neither /etc/shadow nor a key in the user's home");

  confined = run_probe (fixture, TRUE, NULL, secrets_input ());
  if (confined == NULL)
    return;
  assert_blocked (report_of (confined), "shadow");
  assert_blocked (report_of (confined), "home_secret");
  assert_blocked (report_of (confined), "home_secret_via_tilde");
  assert_blocked (report_of (confined), "home");
  assert_blocked (report_of (confined), "passwd_home");

  /* Network binds a few files of /etc; /etc/shadow is not one of them. */
  nix_exec_effect_set_add (network, NIX_EXEC_EFFECT_KIND_NETWORK);
  with_network = run_probe (fixture, TRUE, network, secrets_input ());
  assert_blocked (report_of (with_network), "shadow");
  assert_blocked (report_of (with_network), "home_secret");

  /* Control: unconfined, the same probe reads the key (and, as root, the
   * shadow file). */
  unconfined = run_probe (fixture, FALSE, NULL, secrets_input ());
  assert_allowed (report_of (unconfined), "home_secret");
  g_assert_cmpstr (attempt_value_string (report_of (unconfined), "home_secret"), ==,
                   home_secret_text);
  if (is_root () && g_file_test ("/etc/shadow", G_FILE_TEST_EXISTS))
    assert_allowed (report_of (unconfined), "shadow");
}

static void
test_writes (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autofree char *marker = g_strdup_printf ("nixexec-escape-%d", (int) getpid ());
  g_autofree char *writable = make_dir (fixture->area, "writable");
  g_autofree char *nested_read = make_dir (writable, "read-only");
  g_autofree char *readable = make_dir (fixture->area, "readable");
  g_autofree char *nested_write = make_dir (readable, "writable");
  g_autofree char *undeclared = make_dir (fixture->area, "undeclared");
  g_autofree char *victim = make_file (readable, "existing", "original");
  g_autofree char *host_tmp = g_build_filename (g_get_tmp_dir (), marker, NULL);
  g_autofree char *host_root = g_build_filename ("/", marker, NULL);
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *report;
  const char *blocked[] = {
    "nested_read_only", "read_only", "read_only_existing", "undeclared", "root", "usr", "store",
    "unlink_read_only", "chmod_read_only", "rename_read_only",
  };
  struct {
    const char *name;
    char       *path;
  } targets[] = {
    { "declared", g_build_filename (writable, marker, NULL) },
    { "nested_writable", g_build_filename (nested_write, marker, NULL) },
    { "nested_read_only", g_build_filename (nested_read, marker, NULL) },
    { "read_only", g_build_filename (readable, marker, NULL) },
    { "read_only_existing", g_strdup (victim) },
    { "undeclared", g_build_filename (undeclared, marker, NULL) },
    { "root", g_strdup (host_root) },
    { "tmp", g_strdup (host_tmp) },
    { "usr", g_build_filename ("/usr", marker, NULL) },
    { "store", g_build_filename ("/nix/store", marker, NULL) },
  };
  JsonObject *input = probe_input ("writes");
  JsonObject *paths = json_object_new ();

  g_test_summary ("A stage writes its FsWrite paths and /work, nothing else of the host; "
                  "an FsRead inside an FsWrite stays read-only");

  nix_exec_effect_set_add_fs_write (effects, writable);
  nix_exec_effect_set_add_fs_read (effects, nested_read);
  nix_exec_effect_set_add_fs_read (effects, readable);
  nix_exec_effect_set_add_fs_write (effects, nested_write);

  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    json_object_set_string_member (paths, targets[i].name, targets[i].path);
  json_object_set_object_member (input, "targets", json_object_ref (paths));
  json_object_set_string_member (input, "text", "escaped");
  json_object_set_string_member (input, "read_only_file", victim);

  confined = run_probe (fixture, TRUE, effects, input);
  if (confined == NULL)
    goto out;
  report = report_of (confined);

  assert_allowed (report, "declared");
  assert_allowed (report, "nested_writable");
  /* The stage's /tmp is its own. */
  assert_allowed (report, "tmp");
  for (guint i = 0; i < G_N_ELEMENTS (blocked); i++)
    assert_blocked (report, blocked[i]);

  /* What the host sees: the two declared writes, nothing else. */
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      g_autofree char *contents = read_file (targets[i].path);

      if (g_str_equal (targets[i].name, "declared") ||
          g_str_equal (targets[i].name, "nested_writable"))
        g_assert_cmpstr (contents, ==, "escaped");
      else if (g_str_equal (targets[i].name, "read_only_existing"))
        g_assert_cmpstr (contents, ==, "original");
      else if (contents != NULL)
        g_error ("The stage wrote %s on the host", targets[i].path);
    }
  g_assert_cmpint (g_chmod (victim, 0644), ==, 0);

  /* Control: unconfined, the undeclared and read-only writes go through. */
  input = probe_input ("writes");
  json_object_set_object_member (input, "targets", json_object_ref (paths));
  json_object_set_string_member (input, "text", "escaped");
  json_object_set_string_member (input, "read_only_file", victim);
  json_object_remove_member (paths, "root");
  json_object_remove_member (paths, "tmp");
  json_object_remove_member (paths, "usr");
  json_object_remove_member (paths, "store");
  unconfined = run_probe (fixture, FALSE, effects, input);
  report = report_of (unconfined);
  assert_allowed (report, "read_only");
  assert_allowed (report, "nested_read_only");
  assert_allowed (report, "undeclared");

out:
  json_object_unref (paths);
  g_remove (host_tmp);
  g_remove (host_root);
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    g_free (targets[i].path);
}

/* A TCP server on 127.0.0.1 that records what it receives, in threads of
 * its own so the main context stays free for the executor. */
typedef struct
{
  GSocketService *service;
  guint16         port;
  GMutex          lock;
  GString        *received;
  guint           connections;
} Server;

static gboolean
on_server_run (GThreadedSocketService *service,
               GSocketConnection      *connection,
               GObject                *source_object,
               gpointer                user_data)
{
  Server *server = user_data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  char buffer[256];
  gssize n;

  g_mutex_lock (&server->lock);
  server->connections++;
  g_mutex_unlock (&server->lock);

  while ((n = g_input_stream_read (in, buffer, sizeof buffer, NULL, NULL)) > 0)
    {
      g_mutex_lock (&server->lock);
      g_string_append_len (server->received, buffer, n);
      g_mutex_unlock (&server->lock);
    }
  return TRUE;
}

static void
server_start (Server *server)
{
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  g_mutex_init (&server->lock);
  server->received = g_string_new (NULL);
  server->service = g_threaded_socket_service_new (4);
  g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                 &effective, &error);
  g_assert_no_error (error);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (server->service, "run", G_CALLBACK (on_server_run), server);
  g_socket_service_start (server->service);
}

/* Waits up to @timeout_ms for @token to arrive; whether it did. */
static gboolean
server_wait_for (Server     *server,
                 const char *token,
                 guint       timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  gboolean seen;

  do
    {
      g_mutex_lock (&server->lock);
      seen = strstr (server->received->str, token) != NULL;
      g_mutex_unlock (&server->lock);
      if (!seen)
        g_usleep (10 * 1000);
    }
  while (!seen && g_get_monotonic_time () < deadline);
  return seen;
}

static guint
server_connections (Server *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->connections;
  g_mutex_unlock (&server->lock);
  return n;
}

static void
server_stop (Server *server)
{
  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  g_clear_object (&server->service);
  g_string_free (server->received, TRUE);
  g_mutex_clear (&server->lock);
}

static JsonObject *
network_input (Server     *server,
               const char *token)
{
  JsonObject *input = probe_input ("network");

  json_object_set_int_member (input, "port", server->port);
  json_object_set_string_member (input, "token", token);
  return input;
}

static void
test_network (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autofree char *denied_token = g_strdup_printf ("denied-%d-%d", (int) getpid (), g_random_int ());
  g_autofree char *allowed_token = g_strdup_printf ("allowed-%d-%d", (int) getpid (), g_random_int ());
  g_autofree char *control_token = g_strdup_printf ("control-%d-%d", (int) getpid (), g_random_int ());
  g_autoptr(NixExecEffectSet) network = nix_exec_effect_set_new ();
  g_autoptr(JsonNode) denied = NULL;
  g_autoptr(JsonNode) allowed = NULL;
  g_autoptr(JsonNode) control = NULL;
  Server server = { 0, };
  JsonArray *etc;

  g_test_summary ("A stage reaches a server on 127.0.0.1 only when it declares Network");

  server_start (&server);

  denied = run_probe (fixture, TRUE, NULL, network_input (&server, denied_token));
  if (denied == NULL)
    goto out;
  assert_blocked (report_of (denied), "connect");
  g_assert_false (server_wait_for (&server, denied_token, 200));
  g_assert_cmpuint (server_connections (&server), ==, 0);

  nix_exec_effect_set_add (network, NIX_EXEC_EFFECT_KIND_NETWORK);
  allowed = run_probe (fixture, TRUE, network, network_input (&server, allowed_token));
  assert_allowed (report_of (allowed), "connect");
  g_assert_true (server_wait_for (&server, allowed_token, 10000));
  /* Of /etc, only the resolver's files (and certificates) come along. */
  etc = json_object_get_array_member (report_of (allowed), "etc");
  for (guint i = 0; i < json_array_get_length (etc); i++)
    {
      const char *name = json_array_get_string_element (etc, i);
      const char *expected[] = {
        "resolv.conf", "hosts", "nsswitch.conf", "ssl", "pki", "ca-certificates", "static",
        "passwd", "group", NULL
      };

      if (!g_strv_contains (expected, name))
        g_error ("A Network stage sees /etc/%s", name);
    }
  assert_blocked (report_of (allowed), "shadow");

  /* Control: unconfined, the undeclared connection goes through. */
  control = run_probe (fixture, FALSE, NULL, network_input (&server, control_token));
  assert_allowed (report_of (control), "connect");
  g_assert_true (server_wait_for (&server, control_token, 10000));

out:
  server_stop (&server);
}

static void
test_credentials (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *report;
  JsonArray *groups;
  const char *setuid0;
  const char *caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };

  g_test_summary ("A stage runs as 65534:65534 with no capabilities and cannot become root");

  confined = run_probe (fixture, TRUE, NULL, probe_input ("credentials"));
  if (confined == NULL)
    return;
  report = report_of (confined);
  g_assert_cmpint (json_object_get_int_member (report, "uid"), ==, 65534);
  g_assert_cmpint (json_object_get_int_member (report, "euid"), ==, 65534);
  g_assert_cmpint (json_object_get_int_member (report, "gid"), ==, 65534);
  g_assert_cmpint (json_object_get_int_member (report, "egid"), ==, 65534);
  groups = json_object_get_array_member (report, "groups");
  for (guint i = 0; i < json_array_get_length (groups); i++)
    g_assert_cmpint (json_array_get_int_element (groups, i), ==, 65534);
  for (guint i = 0; i < G_N_ELEMENTS (caps); i++)
    g_assert_cmpstr (json_object_get_string_member (report, caps[i]), ==, "0000000000000000");
  /* No set-uid binary can raise them either. */
  g_assert_cmpstr (json_object_get_string_member (report, "NoNewPrivs"), ==, "1");
  /* EPERM without CAP_SETUID; EINVAL as well, since uid 0 does not even
   * exist in the sandbox's user namespace (only 65534 is mapped). */
  setuid0 = json_object_get_string_member (report, "setuid0");
  if (!g_str_equal (setuid0, "EPERM") && !g_str_equal (setuid0, "EINVAL"))
    g_error ("setuid(0) in the sandbox gave %s", setuid0);

  /* Control: unconfined, the stage has our uid, and as root it has
   * capabilities and setuid(0) works. */
  unconfined = run_probe (fixture, FALSE, NULL, probe_input ("credentials"));
  report = report_of (unconfined);
  g_assert_cmpint (json_object_get_int_member (report, "uid"), ==, getuid ());
  if (is_root ())
    {
      g_assert_cmpstr (json_object_get_string_member (report, "CapEff"), !=, "0000000000000000");
      g_assert_cmpstr (json_object_get_string_member (report, "setuid0"), ==, "succeeded");
    }
}

static JsonObject *
pid_input (void)
{
  JsonObject *input = probe_input ("pid");

  json_object_set_int_member (input, "pid", getpid ());
  return input;
}

static void
test_pid (Fixture       *fixture,
          gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *report;
  JsonArray *pids;

  g_test_summary ("A stage can neither see nor signal the process that runs it");

  /* The sandbox's own pids start at 1; ours must not be among them. */
  if (getpid () < 100)
    {
      g_test_skip ("This test process's pid is too small to tell apart from the sandbox's");
      return;
    }

  confined = run_probe (fixture, TRUE, NULL, pid_input ());
  if (confined == NULL)
    return;
  report = report_of (confined);
  assert_blocked (report, "signal0");
  assert_blocked (report, "sigwinch");
  g_assert_nonnull (strstr (json_object_get_string_member (
    json_object_get_object_member (report, "signal0"), "error"), "ProcessLookupError"));
  g_assert_false (json_object_get_boolean_member (report, "proc_entry"));
  /* Its /proc holds the sandbox's few processes, none of the host's. */
  pids = json_object_get_array_member (report, "pids");
  g_assert_cmpuint (json_array_get_length (pids), <=, 4);
  for (guint i = 0; i < json_array_get_length (pids); i++)
    g_assert_cmpint (json_array_get_int_element (pids, i), <, 100);

  /* Control: unconfined, the stage sees and signals us. */
  unconfined = run_probe (fixture, FALSE, NULL, pid_input ());
  report = report_of (unconfined);
  assert_allowed (report, "signal0");
  g_assert_true (json_object_get_boolean_member (report, "proc_entry"));
}

static void
test_environment (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *report;
  JsonObject *environ_;
  g_autoptr(GList) names = NULL;
  const char *allowed[] = {
    "PATH", "LANG", "HOME", "PWD", "USER", "LOGNAME",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NIX_SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", NULL
  };

  g_test_summary ("A stage sees only the allowlisted environment, not the host's secrets");

  g_assert_cmpstr (g_getenv ("NIXEXEC_TEST_SECRET"), ==, env_secret);

  confined = run_probe (fixture, TRUE, NULL, probe_input ("environment"));
  if (confined == NULL)
    return;
  report = report_of (confined);
  environ_ = json_object_get_object_member (report, "environ");
  g_assert_false (json_object_has_member (environ_, "NIXEXEC_TEST_SECRET"));
  g_assert_cmpstr (json_object_get_string_member (environ_, "HOME"), ==, "/work");
  names = json_object_get_members (environ_);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (!g_strv_contains (allowed, name) && !g_str_has_prefix (name, "LC_"))
        g_error ("The stage sees the variable %s", name);
      if (strstr (json_object_get_string_member (environ_, name), env_secret) != NULL)
        g_error ("The secret leaked through %s", name);
    }
  /* Nor through the sandbox's init, whose command line and environment it
   * can read. */
  if (attempt_ok (report, "init_cmdline"))
    g_assert_null (strstr (attempt_value_string (report, "init_cmdline"), env_secret));
  if (attempt_ok (report, "init_environ"))
    g_assert_null (strstr (attempt_value_string (report, "init_environ"), env_secret));

  /* Control: unconfined, the stage inherits it. */
  unconfined = run_probe (fixture, FALSE, NULL, probe_input ("environment"));
  environ_ = json_object_get_object_member (report_of (unconfined), "environ");
  g_assert_cmpstr (json_object_get_string_member (environ_, "NIXEXEC_TEST_SECRET"), ==, env_secret);
}

static JsonObject *
work_input (const char *name)
{
  JsonObject *input = probe_input ("work");

  json_object_set_string_member (input, "name", name);
  return input;
}

static void
test_work (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autofree char *name = g_strdup_printf ("nixexec-left-%d", (int) getpid ());
  g_autofree char *on_host = g_build_filename ("/work", name, NULL);
  g_autoptr(JsonNode) first = NULL;
  g_autoptr(JsonNode) second = NULL;
  JsonObject *report;

  g_test_summary ("Each stage starts in an empty private /work, its cwd and HOME, "
                  "and nothing of it outlives the call");

  /* Each run writes the same file into /work: the second would find the
   * first's if /work were kept, or shared with the host (where a /work may
   * well exist, and not be empty). */
  first = run_probe (fixture, TRUE, NULL, work_input (name));
  if (first == NULL)
    return;
  second = run_probe (fixture, TRUE, NULL, work_input (name));

  for (guint i = 0; i < 2; i++)
    {
      report = report_of (i == 0 ? first : second);
      g_assert_cmpstr (json_object_get_string_member (report, "cwd"), ==, "/work");
      g_assert_cmpstr (json_object_get_string_member (report, "home"), ==, "/work");
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (report, "listing")), ==, 0);
      assert_allowed (report, "write");
    }
  g_assert_false (g_file_test (on_host, G_FILE_TEST_EXISTS));
}

static JsonObject *
grandchild_input (const char *marker,
                  gboolean    then_hang)
{
  JsonObject *input = probe_input ("grandchild");

  json_object_set_string_member (input, "marker", marker);
  json_object_set_boolean_member (input, "then_hang", then_hang);
  return input;
}

static void
kill_marked (const char *marker)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *cmdline = NULL;
      gsize length;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_build_filename ("/proc", name, "cmdline", NULL);
      if (!g_file_get_contents (path, &cmdline, &length, NULL))
        continue;
      for (gsize i = 0; i < length; i += strlen (cmdline + i) + 1)
        if (g_str_equal (cmdline + i, marker))
          kill ((pid_t) g_ascii_strtoll (name, NULL, 10), SIGKILL);
    }
}

static void
test_no_grandchild (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autofree char *control_marker = nix_exec_test_new_marker ();
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;

  g_test_summary ("Nothing a stage starts outlives the call, not even a process in a "
                  "session of its own that holds none of the call's pipes");

  confined = run_probe (fixture, TRUE, NULL, grandchild_input (marker, FALSE));
  if (confined == NULL)
    return;
  g_assert_true (json_object_get_boolean_member (report_of (confined), "started"));
  /* Gone when the call returns, not a moment later: bwrap exits only after
   * the namespace's init, which dies only after everything in it. */
  g_assert_cmpuint (nix_exec_test_count_processes (marker), ==, 0);

  /* Control: unconfined, the process group kill does not reach it. */
  unconfined = run_probe (fixture, FALSE, NULL, grandchild_input (control_marker, FALSE));
  g_assert_true (json_object_get_boolean_member (report_of (unconfined), "started"));
  g_assert_cmpuint (nix_exec_test_count_processes (control_marker), ==, 1);
  kill_marked (control_marker);
}

typedef struct
{
  const char   *marker;
  guint         seen;
  GCancellable *cancellable;  /* NULL: only watch */
} MarkerWatch;

static gboolean
on_marker_sample (gpointer user_data)
{
  MarkerWatch *watch = user_data;

  watch->seen = MAX (watch->seen, nix_exec_test_count_processes (watch->marker));
  if (watch->seen > 0 && watch->cancellable != NULL)
    g_cancellable_cancel (watch->cancellable);
  return G_SOURCE_CONTINUE;
}

/* Runs the grandchild probe, hanging after it started its escapee, on an
 * executor with @timeout_secs; cancels as soon as the escapee runs when
 * @cancel. Whether the escapee was seen running. */
static gboolean
run_hanging_grandchild (Fixture     *fixture,
                        gboolean     confined,
                        guint        timeout_secs,
                        gboolean     cancel,
                        const char  *marker,
                        GError     **error)
{
  g_autoptr(NixExecConfig) config = sandbox_config_new (fixture, confined ? NIX_EXEC_ISOLATION_AUTO
                                                                         : NIX_EXEC_ISOLATION_NONE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  NixExecExecutor **slot = confined ? &fixture->confined : &fixture->unconfined;
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (),
                                                    grandchild_input (marker, TRUE));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) output = NULL;
  MarkerWatch watch = { marker, 0, cancel ? cancellable : NULL };
  guint sampler;

  g_clear_object (slot);
  nix_exec_config_set_timeout_secs (config, timeout_secs);
  *slot = nix_exec_test_executor_new_for_config (config);
  nix_exec_test_register (*slot, "hang", "python", probe_code);

  sampler = g_timeout_add (5, on_marker_sample, &watch);
  nix_exec_executor_execute_async (*slot, "hang", node, cancellable, nix_exec_test_on_done,
                                   &result);
  nix_exec_test_wait (&result);
  g_source_remove (sampler);

  output = nix_exec_executor_execute_finish (*slot, result, error);
  g_assert_null (output);
  if (watch.seen == 0 && error != NULL && *error != NULL)
    g_test_message ("The call ended before its escapee was seen: %s", (*error)->message);
  return watch.seen > 0;
}

static void
test_no_grandchild_after_cancel (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autofree char *marker = nix_exec_test_new_marker ();
  g_autofree char *control_marker = nix_exec_test_new_marker ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) control_error = NULL;

  g_test_summary ("A cancelled stage takes everything it started with it, before the call "
                  "returns");

  if (get_executor (fixture, TRUE) == NULL)
    return;
  g_assert_true (run_hanging_grandchild (fixture, TRUE, 0, TRUE, marker, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (nix_exec_test_count_processes (marker), ==, 0);

  /* Control: unconfined, the escapee outlives the cancelled call. */
  g_assert_true (run_hanging_grandchild (fixture, FALSE, 0, TRUE, control_marker, &control_error));
  g_assert_error (control_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (nix_exec_test_count_processes (control_marker), ==, 1);
  kill_marked (control_marker);
}

static void
test_no_grandchild_after_timeout (Fixture       *fixture,
                                  gconstpointer  user_data)
{
  g_test_summary ("A stage killed at its deadline takes everything it started with it, "
                  "before the call returns");

  if (get_executor (fixture, TRUE) == NULL)
    return;

  /* A stage that had not started its escapee by the deadline, on a loaded
   * machine, proves nothing: try again, a few times, with a later deadline
   * each time (2, 4, 8 s). */
  for (guint attempt = 1; ; attempt++)
    {
      g_autofree char *marker = nix_exec_test_new_marker ();
      g_autoptr(GError) error = NULL;
      gboolean seen = run_hanging_grandchild (fixture, TRUE, 1u << attempt, FALSE, marker,
                                              &error);

      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_TIMED_OUT);
      g_assert_cmpuint (nix_exec_test_count_processes (marker), ==, 0);
      if (seen)
        break;
      g_test_message ("Attempt %u: the escapee had not started by the deadline", attempt);
      if (attempt == 3)
        {
          /* Then this run shows nothing either way; the other escape
           * cases still hold (no marker was left above). */
          g_test_incomplete ("The stage never started its escapee before its deadline");
          break;
        }
    }
}

static void
test_tiocsti (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  struct termios raw;
  JsonObject *input;
  JsonObject *report;
  const char *slave_name;
  char byte;
  int master, slave;

  g_test_summary ("A stage cannot push input into a terminal with TIOCSTI");

  /* Two ways in. /dev/tty, the controlling terminal: a stage started from
   * a terminal without --new-session (and without the executor's own
   * setsid()) would have one, and TIOCSTI on it needs no privilege
   * (CVE-2017-5226). Here both keep it from having any, so that half
   * passes unconfined too; it guards the session setup.
   *
   * The other is a terminal the stage reaches by path: this test opens a
   * pseudo-terminal and tells the stage its name. Unconfined, as root
   * (CAP_SYS_ADMIN), TIOCSTI on it works, and what it pushes is read back
   * here. Confined, the stage has its own /dev/pts and no capabilities. */
  master = posix_openpt (O_RDWR | O_NOCTTY);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  slave_name = ptsname (master);
  g_assert_nonnull (slave_name);
  slave = open (slave_name, O_RDWR | O_NOCTTY | O_NONBLOCK);
  g_assert_cmpint (slave, >=, 0);
  g_assert_cmpint (tcgetattr (slave, &raw), ==, 0);
  cfmakeraw (&raw);
  g_assert_cmpint (tcsetattr (slave, TCSANOW, &raw), ==, 0);

  input = probe_input ("tiocsti");
  json_object_set_string_member (input, "pty", slave_name);
  confined = run_probe (fixture, TRUE, NULL, input);
  if (confined == NULL)
    goto out;
  report = report_of (confined);
  assert_blocked (report, "dev_tty");
  assert_blocked (report, "host_pty");
  assert_blocked (report, "fd0");
  assert_blocked (report, "fd1");
  assert_blocked (report, "fd2");
  /* And nothing arrived. */
  g_assert_cmpint (read (slave, &byte, 1), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);

  /* Control: unconfined, as root, the injection arrives. */
  if (is_root ())
    {
      input = probe_input ("tiocsti");
      json_object_set_string_member (input, "pty", slave_name);
      unconfined = run_probe (fixture, FALSE, NULL, input);
      assert_allowed (report_of (unconfined), "host_pty");
      g_assert_cmpint (read (slave, &byte, 1), ==, 1);
      g_assert_cmpint (byte, ==, 'X');
    }

out:
  close (slave);
  close (master);
}

static void
test_identity (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  g_autoptr(JsonNode) with_network = NULL;
  g_autoptr(NixExecEffectSet) network = nix_exec_effect_set_new ();
  JsonObject *report;
  const char *nobody[] = { "getuser", "pw_name", "id_un" };
  struct passwd *self = getpwuid (getuid ());

  g_test_summary ("A stage has a name: USER, LOGNAME and the sandbox's own /etc/passwd and "
                  "/etc/group say uid and gid 65534 are nobody and nogroup, at home in /work");

  confined = run_probe (fixture, TRUE, NULL, probe_input ("identity"));
  if (confined == NULL)
    return;
  report = report_of (confined);
  for (guint i = 0; i < G_N_ELEMENTS (nobody); i++)
    {
      assert_allowed (report, nobody[i]);
      g_assert_cmpstr (attempt_value_string (report, nobody[i]), ==, "nobody");
    }
  assert_allowed (report, "expanduser");
  g_assert_cmpstr (attempt_value_string (report, "expanduser"), ==, "/work");
  assert_allowed (report, "pw_dir");
  g_assert_cmpstr (attempt_value_string (report, "pw_dir"), ==, "/work");
  assert_allowed (report, "gr_name");
  g_assert_cmpstr (attempt_value_string (report, "gr_name"), ==, "nogroup");
  assert_allowed (report, "id_gn");
  g_assert_cmpstr (attempt_value_string (report, "id_gn"), ==, "nogroup");
  g_assert_cmpstr (json_object_get_string_member (report, "user"), ==, "nobody");
  g_assert_cmpstr (json_object_get_string_member (report, "logname"), ==, "nobody");

  /* With Network too, whose /etc holds the host's nsswitch.conf. */
  nix_exec_effect_set_add (network, NIX_EXEC_EFFECT_KIND_NETWORK);
  with_network = run_probe (fixture, TRUE, network, probe_input ("identity"));
  assert_allowed (report_of (with_network), "id_un");
  g_assert_cmpstr (attempt_value_string (report_of (with_network), "id_un"), ==, "nobody");

  /* Control: unconfined, the stage is who the application is. */
  unconfined = run_probe (fixture, FALSE, NULL, probe_input ("identity"));
  report = report_of (unconfined);
  if (self != NULL)
    {
      assert_allowed (report, "pw_name");
      g_assert_cmpstr (attempt_value_string (report, "pw_name"), ==, self->pw_name);
    }
}

static void
test_hidden_host_paths (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *input;
  JsonObject *report;
  JsonArray *scripts;
  JsonArray *root;
  const char *expected_root[] = {
    "bin", "dev", "etc", "lib", "lib32", "lib64", "nix", "proc", "run", "tmp", "usr", "work", NULL
  };

  g_test_summary ("A stage sees neither the script cache nor the nix daemon socket, "
                  "only its own script");

  input = probe_input ("hidden");
  json_object_set_string_member (input, "cache_dir", fixture->cache_dir);
  confined = run_probe (fixture, TRUE, NULL, input);
  if (confined == NULL)
    return;
  report = report_of (confined);
  assert_blocked (report, "cache_dir");
  assert_blocked (report, "scripts");
  g_assert_false (json_object_get_boolean_member (report, "daemon_socket"));
  g_assert_false (json_object_get_boolean_member (report, "nix_var"));
  scripts = json_object_get_array_member (report, "script_dir");
  g_assert_cmpuint (json_array_get_length (scripts), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (scripts, 0), ==, "stage.py");
  root = json_object_get_array_member (report, "root");
  for (guint i = 0; i < json_array_get_length (root); i++)
    {
      const char *name = json_array_get_string_element (root, i);

      if (!g_strv_contains (expected_root, name))
        g_error ("The sandbox's root has /%s", name);
    }
  /* bwrap's options, host paths included, reach it through a file. */
  if (attempt_ok (report, "init_cmdline"))
    g_assert_null (strstr (attempt_value_string (report, "init_cmdline"), fixture->cache_dir));

  /* Control: unconfined, the cache is right there. */
  input = probe_input ("hidden");
  json_object_set_string_member (input, "cache_dir", fixture->cache_dir);
  unconfined = run_probe (fixture, FALSE, NULL, input);
  assert_allowed (report_of (unconfined), "scripts");
}

static void
test_fs_read_declared (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autofree char *dir = make_dir (fixture->area, "data");
  g_autofree char *in_dir = make_file (dir, "in.txt", "read through a directory");
  g_autofree char *single = make_file (fixture->area, "single.txt", "read as a single file");
  g_autofree char *sibling = make_file (fixture->area, "sibling.txt", "not declared");
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
  g_autoptr(JsonNode) read = NULL;
  g_autoptr(JsonNode) listed = NULL;
  JsonObject *input = probe_input ("read");
  JsonObject *paths = json_object_new ();
  JsonObject *report;
  JsonArray *entries;

  g_test_summary ("An FsRead stage reads its declared directory and file, and no sibling");

  nix_exec_effect_set_add_fs_read (effects, dir);
  nix_exec_effect_set_add_fs_read (effects, single);
  json_object_set_string_member (paths, "in_dir", in_dir);
  json_object_set_string_member (paths, "single", single);
  json_object_set_string_member (paths, "sibling", sibling);
  json_object_set_object_member (input, "paths", paths);

  read = run_probe (fixture, TRUE, effects, input);
  if (read == NULL)
    return;
  report = report_of (read);
  assert_allowed (report, "in_dir");
  g_assert_cmpstr (attempt_value_string (report, "in_dir"), ==, "read through a directory");
  assert_allowed (report, "single");
  g_assert_cmpstr (attempt_value_string (report, "single"), ==, "read as a single file");
  assert_blocked (report, "sibling");

  /* The declared parent shows only what was declared in it. */
  input = probe_input ("listdir");
  paths = json_object_new ();
  json_object_set_string_member (paths, "area", fixture->area);
  json_object_set_object_member (input, "paths", paths);
  listed = run_probe (fixture, TRUE, effects, input);
  report = report_of (listed);
  assert_allowed (report, "area");
  entries = json_object_get_array_member (json_object_get_object_member (report, "area"), "value");
  g_assert_cmpuint (json_array_get_length (entries), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (entries, 0), ==, "data");
  g_assert_cmpstr (json_array_get_string_element (entries, 1), ==, "single.txt");
}

static void
test_fs_write_declared (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autofree char *dir = make_dir (fixture->area, "out");
  g_autofree char *in_dir = g_build_filename (dir, "result.txt", NULL);
  g_autofree char *single = make_file (fixture->area, "single.txt", "before");
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
  g_autoptr(JsonNode) output = NULL;
  g_autofree char *written = NULL;
  g_autofree char *overwritten = NULL;
  JsonObject *input = probe_input ("write");
  JsonObject *paths = json_object_new ();

  g_test_summary ("An FsWrite stage writes its declared directory and file on the host");

  /* Declared read as well, the directory stays writable: for one path,
   * read-write wins. */
  nix_exec_effect_set_add_fs_read (effects, dir);
  nix_exec_effect_set_add_fs_write (effects, dir);
  nix_exec_effect_set_add_fs_write (effects, single);
  json_object_set_string_member (paths, "in_dir", in_dir);
  json_object_set_string_member (paths, "single", single);
  json_object_set_object_member (input, "paths", paths);
  json_object_set_string_member (input, "text", "written by the stage");

  output = run_probe (fixture, TRUE, effects, input);
  if (output == NULL)
    return;
  assert_allowed (report_of (output), "in_dir");
  assert_allowed (report_of (output), "single");

  written = read_file (in_dir);
  overwritten = read_file (single);
  g_assert_cmpstr (written, ==, "written by the stage");
  g_assert_cmpstr (overwritten, ==, "written by the stage");
}

/* Runs a stage declaring @path under @kind; the error it fails with. */
static GError *
run_declaring (Fixture           *fixture,
               NixExecEffectKind  kind,
               const char        *path)
{
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
  g_autoptr(JsonNode) output = NULL;
  GError *error = NULL;

  if (kind == NIX_EXEC_EFFECT_KIND_FS_READ)
    nix_exec_effect_set_add_fs_read (effects, path);
  else
    nix_exec_effect_set_add_fs_write (effects, path);
  output = try_probe (fixture, TRUE, effects, probe_input ("credentials"), &error);
  g_assert_null (output);
  return error;
}

static void
assert_refused (Fixture           *fixture,
                NixExecEffectKind  kind,
                const char        *path,
                const char        *why)
{
  g_autoptr(GError) error = run_declaring (fixture, kind, path);

  if (error == NULL)
    return;   /* skipped: no sandbox */
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
  if (strstr (error->message, path) == NULL || strstr (error->message, why) == NULL)
    g_error ("“%s” does not say that %s %s", error->message, path, why);
}

static void
test_path_validation (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autofree char *missing = g_build_filename (fixture->area, "missing", NULL);
  g_autofree char *scripts = g_build_filename (fixture->cache_dir, "scripts", NULL);
  g_autofree char *home_parent = g_path_get_dirname (test_home);
  g_autofree char *link = g_build_filename (fixture->area, "link-to-home", NULL);
  g_autofree char *store_link = g_build_filename (fixture->area, "link-to-store", NULL);

  g_test_summary ("Declared paths must be absolute, exist, and expose nothing protected");

  if (get_executor (fixture, TRUE) == NULL)
    return;
  g_assert_cmpint (g_mkdir_with_parents (scripts, 0700), ==, 0);
  g_assert_cmpint (symlink (test_home, link), ==, 0);
  g_assert_cmpint (symlink ("/nix/store", store_link), ==, 0);

  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "relative/path", "not an absolute path");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_WRITE, "data", "not an absolute path");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, missing, "does not exist");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_WRITE, missing, "does not exist");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "/", "whole host file system");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, test_home, "home directory");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, home_parent, "home directory");
  /* Through a symbolic link, too. */
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, link, "home directory");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, fixture->cache_dir, "never see");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_WRITE, scripts, "never see");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_WRITE, "/nix/store", "store");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_WRITE, store_link, "store");
  if (g_file_test ("/nix/var/nix/daemon-socket", G_FILE_TEST_IS_DIR))
    assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "/nix/var", "never see");
  if (g_file_test ("/work", G_FILE_TEST_IS_DIR))
    assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "/work", "belongs to the sandbox");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "/proc", "belongs to the sandbox");
  assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "/dev/null", "belongs to the sandbox");
  /* Above the sandbox's own paths: /run holds where the script goes. */
  if (g_file_test ("/run", G_FILE_TEST_IS_DIR))
    assert_refused (fixture, NIX_EXEC_EFFECT_KIND_FS_READ, "/run", "belongs to the sandbox");
}

static void
test_host_only_paths (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autofree char *out = make_dir (fixture->area, "out");
  g_autofree char *target = g_build_filename (out, "result.txt", NULL);
  g_autofree char *data = make_dir (fixture->area, "data");
  g_autofree char *data_file = make_file (data, "in.txt", "ordinary data");
  g_autofree char *proc_link = g_build_filename (fixture->area, "link-to-proc-self", NULL);
  g_autofree char *data_link = g_build_filename (fixture->area, "link-to-data", NULL);
  g_autofree char *via_proc = g_build_filename (proc_link, "..", "..", data, NULL);
  g_autofree char *via_link = g_build_filename (data_link, "in.txt", NULL);
  const char *refused[][2] = {
    { "FsRead", "/sys/kernel" },
    { "FsRead", "/dev/shm" },
    { "FsRead", "/run" },
    { "FsWrite", "/nix/var/nix/db" },
    { "FsRead", "/nix/var/nix/db" },
  };

  g_test_summary ("Declared paths that lead into the host's /proc, /sys, /dev, /nix/var or "
                  "/run, through symbolic links too, fail with INVALID_EFFECTS and the stage "
                  "does not run; ordinary paths and links to them still work");

  if (get_executor (fixture, TRUE) == NULL)
    return;
  g_assert_cmpint (symlink ("/proc/self", proc_link), ==, 0);
  g_assert_cmpint (symlink (data, data_link), ==, 0);

  /* A link to /proc/self, and a path that only passes through it: the
   * stage, which would write a file, does not run. */
  for (guint i = 0; i < 2; i++)
    {
      const char *declared = i == 0 ? proc_link : via_proc;
      g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
      g_autoptr(JsonNode) output = NULL;
      g_autoptr(GError) error = NULL;
      JsonObject *input = probe_input ("write");
      JsonObject *paths = json_object_new ();

      nix_exec_effect_set_add_fs_write (effects, out);
      nix_exec_effect_set_add_fs_read (effects, declared);
      json_object_set_string_member (paths, "in_dir", target);
      json_object_set_object_member (input, "paths", paths);
      json_object_set_string_member (input, "text", "the stage ran");
      output = try_probe (fixture, TRUE, effects, input, &error);
      g_assert_null (output);
      g_test_message ("%s: %s", declared, error->message);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
      g_assert_nonnull (strstr (error->message, declared));
      g_assert_nonnull (strstr (error->message, "inside /proc"));
      g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
    }

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      NixExecEffectKind kind = g_str_equal (refused[i][0], "FsRead")
                               ? NIX_EXEC_EFFECT_KIND_FS_READ : NIX_EXEC_EFFECT_KIND_FS_WRITE;
      g_autoptr(GError) error = NULL;

      if (!g_file_test (refused[i][1], G_FILE_TEST_EXISTS))
        continue;
      error = run_declaring (fixture, kind, refused[i][1]);
      g_test_message ("%s %s: %s", refused[i][0], refused[i][1], error->message);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS);
      g_assert_nonnull (strstr (error->message, refused[i][1]));
    }

  /* Control: an ordinary directory, declared as it is and through a link,
   * and a file through a link to its directory. */
  {
    const char *declared[] = { data, data_link, via_link };

    for (guint i = 0; i < G_N_ELEMENTS (declared); i++)
      {
        g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new ();
        g_autoptr(JsonNode) output = NULL;
        g_autofree char *read_path = i == 2 ? g_strdup (via_link)
                                            : g_build_filename (declared[i], "in.txt", NULL);
        JsonObject *input = probe_input ("read");
        JsonObject *paths = json_object_new ();

        nix_exec_effect_set_add_fs_read (effects, declared[i]);
        json_object_set_string_member (paths, "file", read_path);
        json_object_set_object_member (input, "paths", paths);
        output = run_probe (fixture, TRUE, effects, input);
        assert_allowed (report_of (output), "file");
        g_assert_cmpstr (attempt_value_string (report_of (output), "file"), ==, "ordinary data");
      }
  }
}

static void
test_extra_binds_refused (Fixture       *fixture,
                          gconstpointer  user_data)
{
  const char *root[] = { "/", NULL };
  const char *home[] = { "/usr", test_home, NULL };
  const char *cache[] = { fixture->cache_dir, NULL };
  const char * const *cases[] = { root, home, cache };

  g_test_summary ("Extra binds that would expose the home, the cache or the host are refused "
                  "on every host, whether or not bubblewrap works there");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);
      g_autoptr(NixExecExecutor) executor = NULL;
      g_autoptr(GError) error = NULL;

      /* Checked before bwrap is probed, so this holds on any host. */
      nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_AUTO);
      nix_exec_config_set_extra_ro_binds (config, cases[i]);
      executor = nix_exec_executor_new (config, &error);
      g_assert_null (executor);
      g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
      g_assert_nonnull (strstr (error->message, "extra read-only bind"));
    }
}

/* ------------------------------------------------------------------------ */
/* When bubblewrap cannot be used                                           */
/* ------------------------------------------------------------------------ */

/* A fake bwrap in a private directory: @script, mode @mode. */
static char *
make_fake_bwrap (Fixture    *fixture,
                 const char *name,
                 const char *script,
                 int         mode)
{
  g_autofree char *dir = make_dir (fixture->area, name);
  char *path = make_file (dir, "bwrap", script);

  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

/* The fake that acts as bwrap does where user namespaces are denied
 * (AppArmor on Ubuntu 24.04). */
static const char denied_script[] =
  "#!/bin/sh\n"
  "echo 'bwrap: setting up uid map: Permission denied' >&2\n"
  "exit 1\n";

static void
use_candidates (const char *first,
                const char *second)
{
  const char *candidates[] = { first, second, NULL };

  nix_exec_sandbox_set_bwrap_candidates_for_testing (candidates);
}

static NixExecExecutor *
new_with (Fixture          *fixture,
          NixExecIsolation  isolation,
          gboolean          require,
          GError          **error)
{
  g_autoptr(NixExecConfig) config = nix_exec_test_config_new (fixture->cache_dir);

  nix_exec_config_set_isolation (config, isolation);
  nix_exec_config_set_require_isolation (config, require);
  return nix_exec_executor_new (config, error);
}

static void
test_unavailable_bwrap_mode (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autofree char *missing = g_build_filename (fixture->area, "nowhere", "bwrap", NULL);
  g_autofree char *denied = make_fake_bwrap (fixture, "denied", denied_script, 0755);
  g_autofree char *writable = make_fake_bwrap (fixture, "writable", "#!/bin/sh\nexit 0\n", 0777);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("BWRAP fails with ISOLATION_UNAVAILABLE when bubblewrap is missing, "
                  "untrusted or unable to create namespaces");

  /* Not installed. */
  use_candidates (missing, NULL);
  executor = new_with (fixture, NIX_EXEC_ISOLATION_BWRAP, FALSE, &error);
  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  /* Installed where anyone may replace it: not even run, though it would
   * "succeed". */
  use_candidates (writable, NULL);
  executor = new_with (fixture, NIX_EXEC_ISOLATION_BWRAP, FALSE, &error);
  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, writable));
  g_clear_error (&error);

  /* Installed, trusted, but the host denies it namespaces: the probe says
   * so. (Not as root, the fake is not root's, and is refused as such.) */
  use_candidates (denied, missing);
  executor = new_with (fixture, NIX_EXEC_ISOLATION_BWRAP, FALSE, &error);
  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
  if (is_root ())
    g_assert_nonnull (strstr (error->message, "setting up uid map: Permission denied"));
  else
    g_assert_nonnull (strstr (error->message, "does not belong to root"));
}

static void
test_unavailable_require_isolation (Fixture       *fixture,
                                    gconstpointer  user_data)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *denied = make_fake_bwrap (fixture, "denied", denied_script, 0755);

  g_test_summary ("AUTO with require-isolation fails instead of running stages unconfined");

  use_candidates (denied, NULL);
  executor = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, TRUE, &error);
  g_assert_null (executor);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
}

static void
test_unavailable_auto_warns (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autofree char *denied = make_fake_bwrap (fixture, "denied", denied_script, 0755);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecExecutor) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;
  gboolean active = TRUE;

  g_test_summary ("AUTO on a host without a usable bubblewrap runs stages unconfined, "
                  "and says so: one warning, isolation-active FALSE");

  use_candidates (denied, NULL);
  g_test_expect_message ("NixExec", G_LOG_LEVEL_WARNING, "*WITHOUT isolation*");
  executor = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, FALSE, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_object_get (executor, "isolation-active", &active, NULL);
  g_assert_false (active);

  /* Once per process: a second executor is as unconfined, silently (a
   * second warning would be fatal here). */
  second = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (nix_exec_executor_get_isolation_active (second));

  /* And it is unconfined: the stage reads the key in our home. */
  fixture->confined = g_steal_pointer (&second);
  output = run_probe (fixture, TRUE, NULL, secrets_input ());
  assert_allowed (report_of (output), "home_secret");
}

/* An AUTO executor with no warning expected: confined, or RESOURCE_LIMIT
 * because the probe failed for now. Never unconfined. */
static gboolean
new_while_transient (Fixture          *fixture,
                     NixExecIsolation  isolation,
                     NixExecTestPids  *pids,
                     guint             extra)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;

  /* Forget the answer of any earlier probe: this one runs under the limit. */
  nix_exec_sandbox_set_bwrap_candidates_for_testing (NULL);
  nix_exec_test_pids_limit (pids, extra);
  executor = new_with (fixture, isolation, FALSE, &error);
  nix_exec_test_pids_lift (pids);

  if (executor != NULL)
    {
      g_assert_no_error (error);
      g_assert_true (nix_exec_executor_get_isolation_active (executor));
      return FALSE;
    }
  g_test_message ("%u more processes: %s", extra, error->message);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT);
  g_assert_nonnull (strstr (error->message, "transient"));
  return TRUE;
}

static void
test_unavailable_transient (Fixture       *fixture,
                            gconstpointer  user_data)
{
  g_autofree char *missing = g_build_filename (fixture->area, "nowhere", "bwrap", NULL);
  g_autofree char *denied = make_fake_bwrap (fixture, "denied", denied_script, 0755);
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;
  NixExecTestPids *pids = NULL;

  g_test_summary ("A probe that fails for a transient reason (out of processes) fails the "
                  "executor with RESOURCE_LIMIT instead of running stages unconfined, is not "
                  "kept, and the next executor is confined; a definite failure still degrades");

  if (get_executor (fixture, TRUE) == NULL)
    return;
  g_clear_object (&fixture->confined);
  pids = nix_exec_test_pids_enter ();
  if (pids == NULL)
    {
      g_test_skip ("No writable pids cgroup to limit processes with");
      return;
    }

  /* No process to spare: the probe cannot fork. One: it runs, but bwrap
   * cannot clone the sandbox's first process. Two: it works. */
  g_assert_true (new_while_transient (fixture, NIX_EXEC_ISOLATION_AUTO, pids, 0));
  g_assert_true (new_while_transient (fixture, NIX_EXEC_ISOLATION_AUTO, pids, 1));
  g_assert_true (new_while_transient (fixture, NIX_EXEC_ISOLATION_BWRAP, pids, 0));
  for (guint extra = 2; extra <= 4; extra++)
    new_while_transient (fixture, NIX_EXEC_ISOLATION_AUTO, pids, extra);

  /* The failures were not kept: with the limit lifted (and the probe not
   * forgotten this time), an AUTO executor probes again and confines. */
  nix_exec_sandbox_set_bwrap_candidates_for_testing (NULL);
  nix_exec_test_pids_limit (pids, 0);
  executor = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, FALSE, &error);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT);
  g_clear_error (&error);
  nix_exec_test_pids_lift (pids);
  executor = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (nix_exec_executor_get_isolation_active (executor));
  fixture->confined = g_steal_pointer (&executor);
  output = run_probe (fixture, TRUE, NULL, secrets_input ());
  assert_blocked (report_of (output), "home_secret");
  g_clear_pointer (&output, json_node_unref);
  g_clear_object (&fixture->confined);

  /* Control: a definite failure under the very same limit — no bwrap, so
   * nothing to fork — degrades AUTO as documented. */
  use_candidates (missing, NULL);
  nix_exec_test_pids_limit (pids, 0);
  g_test_expect_message ("NixExec", G_LOG_LEVEL_WARNING, "*WITHOUT isolation*");
  executor = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, FALSE, &error);
  g_test_assert_expected_messages ();
  nix_exec_test_pids_lift (pids);
  g_assert_no_error (error);
  g_assert_false (nix_exec_executor_get_isolation_active (executor));
  g_clear_object (&executor);

  /* And a bwrap that runs and is refused namespaces, without a limit. */
  use_candidates (denied, NULL);
  g_test_expect_message ("NixExec", G_LOG_LEVEL_WARNING, "*WITHOUT isolation*");
  executor = new_with (fixture, NIX_EXEC_ISOLATION_AUTO, FALSE, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_false (nix_exec_executor_get_isolation_active (executor));

  nix_exec_test_pids_leave (pids);
}


/* ------------------------------------------------------------------------ */
/* The seccomp filter (nixexec-seccomp.c)                                   */
/* ------------------------------------------------------------------------ */

/*
 * One family of the filter's blocklist: the probe makes each call with
 * arguments that fail harmlessly when the call is let through (see
 * SYSCALLS in sandbox-probe.py). Confined, a refused call fails with
 * @errnum; unconfined (the control), the same call must get another
 * outcome, which shows the kernel was reached and would have answered the
 * stage too without the filter. The @allowed calls are neighbours the
 * filter must not refuse: the same outcome confined as unconfined.
 */
typedef struct
{
  const char         *summary;
  int                 errnum;
  const char * const *refused;
  const char * const *allowed;
} SyscallFamily;

static const char * const ioctl_refused[] = {
  "ioctl_tiocsti", "ioctl_tiocsti_high_bits", "ioctl_tioclinux", NULL };
static const char * const ioctl_allowed[] = { "ioctl_tcgets", NULL };
static const SyscallFamily ioctl_family = {
  "ioctl TIOCSTI and TIOCLINUX are refused, also with high bits set in the request; "
  "other ioctls are not", EPERM, ioctl_refused, ioctl_allowed };

static const char * const mount_refused[] = {
  "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
  "fsconfig", "fsmount", "fspick", "mount_setattr", NULL };
static const SyscallFamily mount_family = {
  "mount, umount2, pivot_root, chroot and the new mount API are refused",
  EPERM, mount_refused, NULL };

static const char * const namespaces_refused[] = {
  "unshare", "setns", "clone_newns", "clone_newcgroup", "clone_newuts", "clone_newipc",
  "clone_newuser", "clone_newpid", "clone_newnet", NULL };
static const char * const namespaces_allowed[] = { "clone_no_namespace", NULL };
static const SyscallFamily namespaces_family = {
  "unshare, setns and clone with a namespace flag are refused; clone without one is not",
  EPERM, namespaces_refused, namespaces_allowed };

static const char * const clone3_refused[] = { "clone3", NULL };
static const SyscallFamily clone3_family = {
  "clone3 fails with ENOSYS, so that glibc falls back to clone",
  ENOSYS, clone3_refused, NULL };

static const char * const keyring_refused[] = { "keyctl", "add_key", "request_key", NULL };
static const SyscallFamily keyring_family = {
  "The kernel keyring (keyctl, add_key, request_key) is refused",
  EPERM, keyring_refused, NULL };

static const char * const debugging_refused[] = {
  "ptrace", "perf_event_open", "bpf", "userfaultfd", NULL };
static const SyscallFamily debugging_family = {
  "ptrace, perf_event_open, bpf and userfaultfd are refused",
  EPERM, debugging_refused, NULL };

static const char * const personality_refused[] = { "personality_query", NULL };
static const char * const personality_allowed[] = { "personality_linux", NULL };
static const SyscallFamily personality_family = {
  "personality is refused but for PER_LINUX", EPERM, personality_refused, personality_allowed };

static const char * const host_refused[] = {
  "kexec_load", "kexec_file_load", "syslog", "acct", "quotactl", "init_module",
  "finit_module", "delete_module", "reboot", "swapon", "swapoff", "settimeofday",
  "clock_settime", "uselib", "modify_ldt", "move_pages", "migrate_pages", "nfsservctl", NULL };
static const SyscallFamily host_family = {
  "The kernel log, obsolete calls, other processes' memory and the host's "
  "administration (modules, kexec, reboot, swap, clocks, accounting, quotas) are refused",
  EPERM, host_refused, NULL };

static JsonObject *
syscalls_input (const SyscallFamily *family)
{
  JsonObject *input = probe_input ("syscalls");
  JsonArray *calls = json_array_new ();

  for (guint i = 0; family->refused[i] != NULL; i++)
    json_array_add_string_element (calls, family->refused[i]);
  for (guint i = 0; family->allowed != NULL && family->allowed[i] != NULL; i++)
    json_array_add_string_element (calls, family->allowed[i]);
  json_object_set_array_member (input, "calls", calls);
  return input;
}

static gint64
call_errno (JsonObject *report,
            const char *name)
{
  JsonObject *call = json_object_get_object_member (report, name);

  g_assert_nonnull (call);
  return json_object_get_int_member (call, "errno");
}

/* FALSE (and the case skipped) where the probe has no system call numbers. */
static gboolean
probe_knows_arch (JsonObject *report)
{
  const char *arch = json_object_get_string_member (report, "arch");

  if (g_strcmp0 (arch, "x86_64") == 0)
    return TRUE;
  g_test_skip_printf ("The probe knows x86_64's system call numbers, not %s's", arch);
  return FALSE;
}

/* Every call the filter let through, in one message. */
static void
assert_family_confined (JsonObject          *report,
                        const SyscallFamily *family)
{
  g_autoptr(GString) through = g_string_new (NULL);

  for (guint i = 0; family->refused[i] != NULL; i++)
    {
      gint64 got = call_errno (report, family->refused[i]);

      if (got != family->errnum)
        g_string_append_printf (through, " %s (%s)", family->refused[i],
                                got == 0 ? "succeeded" : g_strerror (got));
    }
  if (through->len > 0)
    g_error ("The seccomp filter let these through, instead of %s:%s",
             g_strerror (family->errnum), through->str);
  for (guint i = 0; family->allowed != NULL && family->allowed[i] != NULL; i++)
    g_assert_cmpint (call_errno (report, family->allowed[i]), !=, family->errnum);
}

static void
test_seccomp_family (Fixture       *fixture,
                     gconstpointer  user_data)
{
  const SyscallFamily *family = user_data;
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *report;
  JsonObject *control;

  g_test_summary (family->summary);

  confined = run_probe (fixture, TRUE, NULL, syscalls_input (family));
  if (confined == NULL)
    return;
  report = report_of (confined);
  if (!probe_knows_arch (report))
    return;
  assert_family_confined (report, family);

  /* Control: without the filter, every call reaches the kernel, which
   * answers otherwise. */
  unconfined = run_probe (fixture, FALSE, NULL, syscalls_input (family));
  control = report_of (unconfined);
  for (guint i = 0; family->refused[i] != NULL; i++)
    {
      gint64 got = call_errno (control, family->refused[i]);

      if (got == family->errnum)
        g_error ("Unconfined, %s failed with %s too: the probe does not show the filter",
                 family->refused[i], g_strerror (got));
    }
  for (guint i = 0; family->allowed != NULL && family->allowed[i] != NULL; i++)
    g_assert_cmpint (call_errno (control, family->allowed[i]), ==,
                     call_errno (report, family->allowed[i]));
}


/* Installs the filter of @user_data (a struct sock_fprog) on the child, as
 * bwrap does before exec. */
static void
install_filter (gpointer user_data)
{
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, user_data) != 0)
    _exit (99);
}

/* The probe's syscalls report, from the host's python3 run directly,
 * with the filter (@prog) or without. */
static JsonObject *
run_host_probe (const SyscallFamily * const *families,
                struct sock_fprog           *prog)
{
  g_autoptr(GString) calls = g_string_new ("[");
  g_autofree char *probe_path = g_test_build_filename (G_TEST_DIST, "sandbox-probe.py", NULL);
  g_autofree char *script = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  int status = -1;

  for (guint f = 0; families[f] != NULL; f++)
    {
      for (guint i = 0; families[f]->refused[i] != NULL; i++)
        g_string_append_printf (calls, "%s\"%s\"", calls->len > 1 ? "," : "", families[f]->refused[i]);
      for (guint i = 0; families[f]->allowed != NULL && families[f]->allowed[i] != NULL; i++)
        g_string_append_printf (calls, ",\"%s\"", families[f]->allowed[i]);
    }
  g_string_append (calls, "]");
  script = g_strdup_printf ("import importlib.util, json, sys\n"
                            "spec = importlib.util.spec_from_file_location('probe', sys.argv[1])\n"
                            "probe = importlib.util.module_from_spec(spec)\n"
                            "spec.loader.exec_module(probe)\n"
                            "print(json.dumps(probe.probe_syscalls({'calls': %s})))\n",
                            calls->str);
  {
    const char *argv[] = { "/usr/bin/python3", "-c", script, probe_path, NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                  prog != NULL ? install_filter : NULL, prog, &out, NULL, &status, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_test_message ("%s: %s", prog != NULL ? "filtered" : "unfiltered", out);
  node = json_from_string (out, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (node));
}

static void
test_seccomp_filter_as_root (Fixture       *fixture,
                             gconstpointer  user_data)
{
  const SyscallFamily * const families[] = {
    &ioctl_family, &mount_family, &namespaces_family, &clone3_family, &keyring_family,
    &debugging_family, &personality_family, &host_family, NULL };
  g_autoptr(GBytes) program = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) filtered = NULL;
  g_autoptr(JsonObject) unfiltered = NULL;
  struct sock_fprog prog;
  gsize size;

  g_test_summary ("The filter itself refuses every call of its blocklist, also those that "
                  "inside bwrap fail for want of a capability anyway: as root, on the host");

  if (!is_root ())
    {
      g_test_skip ("Needs root: without capabilities, the kernel refuses some calls itself");
      return;
    }
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("No /usr/bin/python3");
      return;
    }

  program = nix_exec_seccomp_get_program (&error);
  g_assert_no_error (error);
  prog.filter = (struct sock_filter *) g_bytes_get_data (program, &size);
  prog.len = size / sizeof (struct sock_filter);

  filtered = run_host_probe (families, &prog);
  unfiltered = run_host_probe (families, NULL);
  if (!probe_knows_arch (filtered))
    return;
  for (guint f = 0; families[f] != NULL; f++)
    {
      g_autoptr(GString) same = g_string_new (NULL);

      assert_family_confined (filtered, families[f]);
      for (guint i = 0; families[f]->refused[i] != NULL; i++)
        if (call_errno (unfiltered, families[f]->refused[i]) == families[f]->errnum)
          g_string_append_printf (same, " %s", families[f]->refused[i]);
      if (same->len > 0)
        g_error ("Unfiltered, as root, these failed with %s too:%s",
                 g_strerror (families[f]->errnum), same->str);
    }
}

static JsonObject *
abi_input (void)
{
  JsonObject *input = probe_input ("syscalls");
  JsonArray *calls = json_array_new ();

  json_array_add_string_element (calls, "i386_getpid");
  json_array_add_string_element (calls, "x32_getpid");
  json_array_add_string_element (calls, "fork");
  json_object_set_array_member (input, "calls", calls);
  return input;
}

static void
test_seccomp_other_abis (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(JsonNode) confined = NULL;
  g_autoptr(JsonNode) unconfined = NULL;
  JsonObject *report;
  JsonObject *control;
  JsonObject *i386;

  g_test_summary ("System calls through another ABI (i386's int 0x80, x32) fail with EPERM; "
                  "native ones, fork among them, work");

  confined = run_probe (fixture, TRUE, NULL, abi_input ());
  if (confined == NULL)
    return;
  report = report_of (confined);
  if (!probe_knows_arch (report))
    return;
  i386 = json_object_get_object_member (report, "i386_getpid");
  g_assert_false (json_object_has_member (i386, "signal"));
  g_assert_cmpint (json_object_get_int_member (i386, "value"), ==, -EPERM);
  g_assert_cmpint (call_errno (report, "x32_getpid"), ==, EPERM);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (report, "fork"),
                                               "value"), ==, 7);

  /* Control: unconfined, int 0x80 gets the pid (unless this kernel has
   * no i386 emulation: then the child dies, and only x32 shows the
   * filter), and x32 anything but EPERM (ENOSYS where x32 is off). */
  unconfined = run_probe (fixture, FALSE, NULL, abi_input ());
  control = report_of (unconfined);
  i386 = json_object_get_object_member (control, "i386_getpid");
  if (json_object_has_member (i386, "signal"))
    g_test_message ("No i386 emulation on this kernel: int 0x80 killed the control");
  else
    g_assert_cmpint (json_object_get_int_member (i386, "value"), >, 0);
  g_assert_cmpint (call_errno (control, "x32_getpid"), !=, EPERM);
}

static void
test_seccomp_warm_worker (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A warm worker's stage runs under the seccomp filter too, fresh and reused");

  if (get_executor (fixture, TRUE) == NULL)
    return;
  g_clear_object (&fixture->confined);
  config = sandbox_config_new (fixture, NIX_EXEC_ISOLATION_AUTO);
  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_AUTO);
  nix_exec_config_set_keep_alive_secs (config, 60);
  fixture->confined = nix_exec_executor_new (config, &error);
  g_assert_no_error (error);

  /* One stage, called twice: the second call is the reused worker's. */
  for (guint call = 0; call < 2; call++)
    {
      g_autoptr(JsonNode) confined = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(JsonNode) node = NULL;
      JsonObject *report;

      if (call == 0)
        nix_exec_test_register (fixture->confined, "warm-probe", "python", probe_code);
      node = json_node_init_object (json_node_alloc (), syscalls_input (&namespaces_family));
      json_object_unref (json_node_get_object (node));
      nix_exec_executor_execute_async (fixture->confined, "warm-probe", node, NULL,
                                       nix_exec_test_on_done, &result);
      nix_exec_test_wait (&result);
      confined = nix_exec_executor_execute_finish (fixture->confined, result, &error);
      g_assert_no_error (error);
      report = report_of (confined);
      if (!probe_knows_arch (report))
        return;
      assert_family_confined (report, &namespaces_family);
    }
}

static void
test_seccomp_unavailable (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) output = NULL;

  g_test_summary ("A seccomp filter that cannot be built fails the call with "
                  "ISOLATION_UNAVAILABLE; the stage never runs without it");

  if (get_executor (fixture, TRUE) == NULL)
    return;
  nix_exec_seccomp_set_broken_for_testing (TRUE);
  output = try_probe (fixture, TRUE, NULL, probe_input ("secrets"), &error);
  nix_exec_seccomp_set_broken_for_testing (FALSE);
  g_assert_null (output);
  g_assert_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "seccomp"));

  /* And once it can, the next call runs. */
  g_clear_error (&error);
  output = try_probe (fixture, TRUE, NULL, probe_input ("secrets"), &error);
  g_assert_no_error (error);
  g_assert_nonnull (output);
}

static void
test_seccomp_program (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GBytes) fresh = NULL;
  gsize size;

  g_test_summary ("The filter is built once per process: a BPF program of whole instructions");

  first = nix_exec_seccomp_get_program (&error);
  g_assert_no_error (error);
  again = nix_exec_seccomp_get_program (&error);
  g_assert_no_error (error);
  g_assert_true (first == again);
  size = g_bytes_get_size (first);
  /* struct sock_filter is 8 bytes; the blocklist takes dozens. */
  g_assert_cmpuint (size % 8, ==, 0);
  g_assert_cmpuint (size / 8, >, 50);

  fresh = nix_exec_seccomp_build_program (&error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (first, fresh));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *ssh_dir = NULL;
  g_autofree char *probe_path = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  /* Before anything reads HOME: a home of our own, with a key in it that
   * no stage may read. (Not G_TEST_OPTION_ISOLATE_DIRS: it points HOME at
   * /dev/null, and nix, a real child here, needs a home for its caches.) */
  test_home = g_dir_make_tmp ("nixexec-sandbox-home-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("HOME", test_home, TRUE);
  ssh_dir = g_build_filename (test_home, ".ssh", NULL);
  g_assert_cmpint (g_mkdir (ssh_dir, 0700), ==, 0);
  home_secret_path = g_build_filename (ssh_dir, "id_test", NULL);
  home_secret_text = g_strdup_printf ("-----BEGIN TEST KEY %08x-----", g_random_int ());
  g_file_set_contents_full (home_secret_path, home_secret_text, -1,
                            G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
  env_secret = g_strdup_printf ("secret-%08x%08x", g_random_int (), g_random_int ());
  g_setenv ("NIXEXEC_TEST_SECRET", env_secret, TRUE);

  g_test_init (&argc, &argv, NULL);

  probe_path = g_test_build_filename (G_TEST_DIST, "sandbox-probe.py", NULL);
  g_file_get_contents (probe_path, &probe_code, NULL, &error);
  g_assert_no_error (error);

#define ADD(path, func) \
  g_test_add ("/nixexec/sandbox/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("default-is-confined", test_default_is_confined);
  ADD ("secrets", test_secrets);
  ADD ("writes", test_writes);
  ADD ("network", test_network);
  ADD ("credentials", test_credentials);
  ADD ("pid", test_pid);
  ADD ("environment", test_environment);
  ADD ("work", test_work);
  ADD ("identity", test_identity);
  ADD ("no-grandchild", test_no_grandchild);
  ADD ("no-grandchild-after-cancel", test_no_grandchild_after_cancel);
  ADD ("no-grandchild-after-timeout", test_no_grandchild_after_timeout);
  ADD ("tiocsti", test_tiocsti);
  ADD ("hidden-host-paths", test_hidden_host_paths);
  ADD ("fs-read-declared", test_fs_read_declared);
  ADD ("fs-write-declared", test_fs_write_declared);
  ADD ("path-validation", test_path_validation);
  ADD ("host-only-paths", test_host_only_paths);
  ADD ("extra-binds-refused", test_extra_binds_refused);
  ADD ("unavailable/bwrap-mode", test_unavailable_bwrap_mode);
  ADD ("unavailable/require-isolation", test_unavailable_require_isolation);
  ADD ("unavailable/auto-warns", test_unavailable_auto_warns);
  ADD ("unavailable/transient", test_unavailable_transient);
  ADD ("unavailable/seccomp", test_seccomp_unavailable);
#undef ADD

#define ADD_FAMILY(path, family) \
  g_test_add ("/nixexec/sandbox/seccomp/" path, Fixture, &family, fixture_set_up, \
              test_seccomp_family, fixture_tear_down)

  ADD_FAMILY ("ioctl", ioctl_family);
  ADD_FAMILY ("mount", mount_family);
  ADD_FAMILY ("namespaces", namespaces_family);
  ADD_FAMILY ("clone3", clone3_family);
  ADD_FAMILY ("keyring", keyring_family);
  ADD_FAMILY ("debugging", debugging_family);
  ADD_FAMILY ("personality", personality_family);
  ADD_FAMILY ("host", host_family);
#undef ADD_FAMILY
  g_test_add ("/nixexec/sandbox/seccomp/other-abis", Fixture, NULL, fixture_set_up,
              test_seccomp_other_abis, fixture_tear_down);
  g_test_add ("/nixexec/sandbox/seccomp/warm-worker", Fixture, NULL, fixture_set_up,
              test_seccomp_warm_worker, fixture_tear_down);
  g_test_add ("/nixexec/sandbox/seccomp/filter-as-root", Fixture, NULL, fixture_set_up,
              test_seccomp_filter_as_root, fixture_tear_down);
  g_test_add ("/nixexec/sandbox/seccomp/program", Fixture, NULL, fixture_set_up,
              test_seccomp_program, fixture_tear_down);

  g_test_summary ("A stage under the default policy cannot escape its sandbox");
  status = g_test_run ();

  nix_exec_test_rm_rf (test_home);
  g_free (test_home);
  g_free (home_secret_path);
  g_free (home_secret_text);
  g_free (env_secret);
  g_free (probe_code);
  return status;
}
