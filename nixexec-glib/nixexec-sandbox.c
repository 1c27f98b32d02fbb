/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bubblewrap sandbox of a confined stage, derived from its effects.
 *
 * Finding bwrap. Only fixed system locations are looked at, never PATH: an
 * application's PATH is whatever its caller made it, and a `bwrap` early in
 * it would decide what "confined" means. The binary, after symbolic links,
 * and every directory above it must belong to root and be writable by no
 * one else (a sticky directory such as /nix/store is fine: nobody can
 * replace root's entries in it).
 *
 * Probing. Being installed is not being usable: user namespaces can be off
 * (kernel.unprivileged_userns_clone, user.max_user_namespaces = 0) or
 * denied by AppArmor (Ubuntu 24.04), cgroup namespaces can be missing. So
 * bwrap runs once per process, synchronously, with every namespace and
 * credential option a stage gets, and only a zero exit makes it usable.
 * `--disable-userns` (bwrap 0.8) is used when the probe shows it works.
 * A failure is definite (no trusted bwrap, namespaces refused: the host
 * cannot confine, and that answer is kept) or transient (the probe could
 * not fork, ran out of memory or descriptors, or was killed: by a signal,
 * or by the alarm when it hung). A transient one is not kept, and is
 * reported as NIX_EXEC_ERROR_RESOURCE_LIMIT, never as "no sandbox": a host
 * briefly out of processes must not make every later stage of the process
 * run unconfined. The next probe tries again.
 *
 * The policy. Every stage gets fresh user, pid, ipc, uts, mount, cgroup and
 * network namespaces, uid/gid 65534, no capabilities, a new session, the
 * seccomp filter of nixexec-seccomp.c,
 * --die-with-parent, a root that is an empty tmpfs remounted read-only once
 * built, a new /proc and a minimal /dev, private tmpfs /tmp and /work (the
 * working directory and HOME), /nix/store (the directory of the resolved
 * runtime) read-only, and the stage's own script read-only at
 * /run/nixexec/stage.<ext> — never the cache directory it lives in.
 * Effects add: FsRead paths read-only, FsWrite paths read-write, and with
 * Network the host's network namespace plus the resolver files and the CA
 * certificates. The environment is cleared down to an allowlist; HOME is
 * /work, USER and LOGNAME are nobody.
 *
 * Identity. uid and gid 65534 get a name: /etc/passwd and /etc/group of
 * the sandbox's own, with nobody (at home in /work) and nogroup only,
 * bound read-only from files written once into the cache directory under
 * names derived from their contents, mode 0444. A stage that asks who it
 * is (getpass, `id -un`, `~user`) gets an answer, and no host account.
 *
 * Bind order. bwrap performs its operations in the order given, and a later
 * mount on a path inside an earlier one covers it. The binds are sorted by
 * the depth of their destination, so the innermost declaration wins: an
 * FsRead inside an FsWrite stays read-only, and an FsWrite inside an FsRead
 * is writable. For two declarations of the same path, read-write wins.
 *
 * What is never bound. A declared path (after symbolic links) must not be
 * `/`, contain the home directory, contain or lie inside the script cache,
 * contain or be the nix daemon's socket directory, or (written) overlap
 * the store; inside the sandbox, it must not land on, in or above /work,
 * /proc, /dev or /run/nixexec. Nor may it reach into the host's /proc,
 * /sys, /dev, /nix/var or /run — the kernel's interfaces, devices, nix's
 * database and daemon, the sockets of the host's services — after symbolic
 * links, checked for the path and for each of its parents as declared (a
 * link to /proc/self is /proc). Such a declaration fails the call instead
 * of weakening the sandbox.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pwd.h>

#include <glib/gstdio.h>

#include "nixexec-child-private.h"
#include "nixexec-error.h"
#include "nixexec-sandbox-private.h"
#include "nixexec-seccomp-private.h"
#include "nixexec-wrapper-private.h"

#define PROBE_TIMEOUT_SECS  10
#define SANDBOX_HOSTNAME    "nixexec"

static const char * const default_candidates[] = {
  "/usr/bin/bwrap",
  "/bin/bwrap",
  "/usr/local/bin/bwrap",
  "/run/current-system/sw/bin/bwrap",   /* NixOS */
  NULL
};

/* Where the nix daemon listens; NIX_DAEMON_SOCKET_PATH may add another. */
static const char nix_daemon_socket_dir[] = "/nix/var/nix/daemon-socket";

/* Bound read-only, when they exist, for stages that declare Network. */
static const char * const network_paths[] = {
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  /* CA certificates: Debian and Ubuntu (whose /etc/ssl/certs links into
   * /usr/share and /usr/local/share), Fedora, Arch, NixOS. Not /etc/ssl as
   * a whole: /etc/ssl/private holds keys. */
  "/etc/ssl/certs",
  "/usr/share/ca-certificates",
  "/usr/local/share/ca-certificates",
  "/etc/pki/tls/certs",
  "/etc/pki/ca-trust/extracted",
  "/etc/ca-certificates",
  "/etc/static/ssl/certs",
  NULL
};

/* Variables naming certificate files (bound with Network) or, for
 * SSL_CERT_DIR, colon-separated directories. */
static const char * const cert_file_vars[] = {
  "SSL_CERT_FILE",
  "NIX_SSL_CERT_FILE",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
  "NODE_EXTRA_CA_CERTS",
  NULL
};
#define CERT_DIR_VAR "SSL_CERT_DIR"

/* Paths inside the sandbox that belong to the sandbox itself. */
static const char * const reserved_dests[] = {
  NIX_EXEC_SANDBOX_WORK_DIR,
  NIX_EXEC_SANDBOX_SCRIPT_DIR,
  "/proc",
  "/dev",
  NULL
};

/* Host trees no declared path may lead into, after symbolic links. */
static const char * const host_only_dirs[] = {
  "/proc",
  "/sys",
  "/dev",
  "/nix/var",
  "/run",
  NULL
};

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* The sandbox's accounts: its uid and gid, and nothing of the host. */
#define SANDBOX_USER   "nobody"
#define SANDBOX_GROUP  "nogroup"
static const char sandbox_passwd[] =
  SANDBOX_USER ":x:" G_STRINGIFY (NIX_EXEC_SANDBOX_UID) ":" G_STRINGIFY (NIX_EXEC_SANDBOX_UID)
  ":" SANDBOX_USER ":" NIX_EXEC_SANDBOX_WORK_DIR ":/usr/sbin/nologin\n";
static const char sandbox_group[] =
  SANDBOX_GROUP ":x:" G_STRINGIFY (NIX_EXEC_SANDBOX_UID) ":\n";

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/* TRUE when @path is @dir or lies below it. Both canonical. */
static gboolean
path_is_within (const char *path,
                const char *dir)
{
  gsize len = strlen (dir);

  if (g_str_equal (dir, "/"))
    return TRUE;
  return strncmp (path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* The real path of an existing @path (symbolic links resolved), or NULL with
 * errno set. */
static char *
real_path (const char *path)
{
  char *resolved = realpath (path, NULL);
  char *copy;

  if (resolved == NULL)
    return NULL;
  /* realpath() allocates with malloc(); hand out GLib memory. */
  copy = g_strdup (resolved);
  free (resolved);
  return copy;
}

/* The real path when @path exists, the lexically clean one otherwise. */
static char *
canonical_path (const char *path)
{
  char *resolved = real_path (path);

  return resolved != NULL ? resolved : g_canonicalize_filename (path, "/");
}

static guint
path_depth (const char *path)
{
  guint depth = 0;

  if (g_str_equal (path, "/"))
    return 0;
  for (const char *p = path; *p != '\0'; p++)
    depth += *p == '/';
  return depth;
}

/* What no bind may expose. */
typedef struct
{
  GPtrArray *homes;      /* a bind may lie inside one, never contain it */
  GPtrArray *private;    /* a bind may neither contain one nor lie inside it */
  char      *store_dir;  /* never bound writable, in either direction */
} Protected;

static void
protected_clear (Protected *protected)
{
  g_clear_pointer (&protected->homes, g_ptr_array_unref);
  g_clear_pointer (&protected->private, g_ptr_array_unref);
  g_clear_pointer (&protected->store_dir, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Protected, protected_clear)

static void
add_home (GPtrArray  *homes,
          const char *home)
{
  if (home != NULL && g_path_is_absolute (home))
    g_ptr_array_add (homes, canonical_path (home));
}

static void
protected_init (Protected          *protected,
                const char         *cache_dir,
                const char         *store_dir,
                const char * const *host_environ)
{
  const char *socket_path = g_environ_getenv ((char **) host_environ, "NIX_DAEMON_SOCKET_PATH");
  struct passwd pwd, *found = NULL;
  char buffer[4096];

  protected->homes = g_ptr_array_new_with_free_func (g_free);
  protected->private = g_ptr_array_new_with_free_func (g_free);

  /* HOME as it is now, as GLib first saw it, and as the password database
   * has it: any of them may hold the user's secrets. */
  add_home (protected->homes, g_environ_getenv ((char **) host_environ, "HOME"));
  add_home (protected->homes, g_get_home_dir ());
  if (getpwuid_r (getuid (), &pwd, buffer, sizeof buffer, &found) == 0 && found != NULL)
    add_home (protected->homes, found->pw_dir);

  if (cache_dir != NULL)
    g_ptr_array_add (protected->private, canonical_path (cache_dir));
  g_ptr_array_add (protected->private, canonical_path (nix_daemon_socket_dir));
  if (socket_path != NULL && g_path_is_absolute (socket_path))
    {
      g_autofree char *socket_dir = g_path_get_dirname (socket_path);
      g_ptr_array_add (protected->private, canonical_path (socket_dir));
    }

  protected->store_dir = store_dir != NULL ? canonical_path (store_dir) : NULL;
}

/* Checks that binding the host's @source (a real path) exposes nothing
 * protected. @what names the bind in the message. */
static gboolean
check_source (const Protected  *protected,
              const char       *what,
              const char       *source,
              gboolean          writable,
              int               code,
              GError          **error)
{
  if (g_str_equal (source, "/"))
    {
      g_set_error (error, NIX_EXEC_ERROR, code,
                   "%s would expose the whole host file system", what);
      return FALSE;
    }

  for (guint i = 0; i < protected->homes->len; i++)
    {
      const char *home = g_ptr_array_index (protected->homes, i);

      if (path_is_within (home, source))
        {
          g_set_error (error, NIX_EXEC_ERROR, code,
                       "%s would expose the home directory “%s”", what, home);
          return FALSE;
        }
    }

  for (guint i = 0; i < protected->private->len; i++)
    {
      const char *private = g_ptr_array_index (protected->private, i);

      if (path_is_within (private, source) || path_is_within (source, private))
        {
          g_set_error (error, NIX_EXEC_ERROR, code,
                       "%s would expose “%s”, which stages never see", what, private);
          return FALSE;
        }
    }

  if (writable && protected->store_dir != NULL &&
      (path_is_within (protected->store_dir, source) ||
       path_is_within (source, protected->store_dir)))
    {
      g_set_error (error, NIX_EXEC_ERROR, code,
                   "%s would make the store “%s” writable", what, protected->store_dir);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_dest (const char  *what,
            const char  *dest,
            int          code,
            GError     **error)
{
  if (g_str_equal (dest, "/"))
    {
      g_set_error (error, NIX_EXEC_ERROR, code,
                   "%s would replace the sandbox's root", what);
      return FALSE;
    }

  /* Neither inside the sandbox's own paths nor above them: /run would
   * cover where the script is mounted. */
  for (guint i = 0; reserved_dests[i] != NULL; i++)
    {
      if (path_is_within (dest, reserved_dests[i]) || path_is_within (reserved_dests[i], dest))
        {
          g_set_error (error, NIX_EXEC_ERROR, code,
                       "%s lands on “%s”, which belongs to the sandbox", what, reserved_dests[i]);
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
check_not_host_only (const char  *what,
                     const char  *resolved,
                     GError     **error)
{
  for (guint i = 0; host_only_dirs[i] != NULL; i++)
    {
      if (path_is_within (resolved, host_only_dirs[i]))
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                       "%s leads to “%s”, inside %s, which stages never see",
                       what, resolved, host_only_dirs[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* The absolute @path, and each of its parents as written ("/a", "/a/b", …,
 * with any "." and ".." kept), must not resolve into a host-only tree: a
 * parent that is a link into /proc is refused even when ".." leads back
 * out of it. */
static gboolean
check_declared_reach (const char  *what,
                      const char  *path,
                      GError     **error)
{
  g_autoptr(GString) prefix = g_string_new (NULL);
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  g_autofree char *lexical = g_canonicalize_filename (path, "/");

  if (!check_not_host_only (what, lexical, error))
    return FALSE;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autofree char *resolved = NULL;

      if (*parts[i] == '\0')
        continue;
      g_string_append_c (prefix, '/');
      g_string_append (prefix, parts[i]);
      resolved = canonical_path (prefix->str);
      if (!check_not_host_only (what, resolved, error))
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The mount plan                                                           */
/* ------------------------------------------------------------------------ */

typedef enum {
  MOUNT_SYMLINK,   /* lowest priority when two entries share a destination */
  MOUNT_RO_BIND,
  MOUNT_BIND,
} MountKind;

typedef struct
{
  MountKind  kind;
  char      *source;  /* owned; the link target for MOUNT_SYMLINK */
  char      *dest;    /* owned; canonical */
  guint      depth;
  guint      order;   /* insertion order, to keep the sort stable */
} Mount;

static void
mount_free (Mount *mount)
{
  g_free (mount->source);
  g_free (mount->dest);
  g_free (mount);
}

static void
add_mount (GPtrArray  *mounts,
           MountKind   kind,
           const char *source,
           const char *dest)
{
  Mount *mount;

  for (guint i = 0; i < mounts->len; i++)
    {
      Mount *existing = g_ptr_array_index (mounts, i);

      if (!g_str_equal (existing->dest, dest))
        continue;
      /* One mount per destination: read-write over read-only over a link. */
      if (kind > existing->kind)
        {
          existing->kind = kind;
          g_free (existing->source);
          existing->source = g_strdup (source);
        }
      return;
    }

  mount = g_new0 (Mount, 1);
  mount->kind = kind;
  mount->source = g_strdup (source);
  mount->dest = g_strdup (dest);
  mount->depth = path_depth (dest);
  mount->order = mounts->len;
  g_ptr_array_add (mounts, mount);
}

static int
compare_mounts (gconstpointer a,
                gconstpointer b)
{
  const Mount *x = *(const Mount * const *) a;
  const Mount *y = *(const Mount * const *) b;

  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

/* A declared path: absolute, existing, and exposing nothing protected. */
static gboolean
add_declared_path (GPtrArray        *mounts,
                   const Protected  *protected,
                   const char       *effect,
                   const char       *path,
                   gboolean          writable,
                   GError          **error)
{
  g_autofree char *what = g_strdup_printf ("The declared %s path “%s”", effect, path);
  g_autofree char *source = NULL;
  g_autofree char *dest = NULL;

  if (*path == '\0' || !g_path_is_absolute (path))
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                   "%s is not an absolute path", what);
      return FALSE;
    }

  source = real_path (path);
  if (source == NULL)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                     "%s does not exist", what);
      else
        g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_INVALID_EFFECTS,
                     "%s cannot be used: %s", what, g_strerror (saved_errno));
      return FALSE;
    }

  /* Shown to the stage where it declared it, even through a symbolic link;
   * bound from where it really is, which is what the checks look at. */
  dest = g_canonicalize_filename (path, "/");
  if (!check_source (protected, what, source, writable, NIX_EXEC_ERROR_INVALID_EFFECTS, error) ||
      !check_dest (what, dest, NIX_EXEC_ERROR_INVALID_EFFECTS, error) ||
      !check_not_host_only (what, source, error) ||
      !check_declared_reach (what, path, error))
    return FALSE;

  add_mount (mounts, writable ? MOUNT_BIND : MOUNT_RO_BIND, source, dest);
  return TRUE;
}

/* An extra read-only bind from the config: missing ones are skipped, links
 * are recreated as links. With @mounts NULL, only checks. */
static gboolean
add_extra_ro_bind (GPtrArray        *mounts,
                   const Protected  *protected,
                   const char       *path,
                   GError          **error)
{
  g_autofree char *what = g_strdup_printf ("The extra read-only bind “%s”", path);
  g_autofree char *dest = g_canonicalize_filename (path, "/");
  g_autofree char *source = NULL;
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return TRUE;

  if (!check_dest (what, dest, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE, error))
    return FALSE;

  if (S_ISLNK (st.st_mode))
    {
      /* /bin -> usr/bin on a merged-/usr system: the same link inside
       * exposes nothing by itself. */
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && mounts != NULL)
        add_mount (mounts, MOUNT_SYMLINK, target, dest);
      return TRUE;
    }

  source = real_path (path);
  if (source == NULL)
    return TRUE;
  if (!check_source (protected, what, source, FALSE, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE, error))
    return FALSE;

  if (mounts != NULL)
    add_mount (mounts, MOUNT_RO_BIND, source, dest);
  return TRUE;
}

/* A host path added for Network when it exists and is harmless; skipped
 * quietly otherwise. */
static void
add_network_path (GPtrArray       *mounts,
                  const Protected *protected,
                  const char      *path)
{
  g_autofree char *source = NULL;
  g_autofree char *dest = NULL;
  g_autoptr(GError) error = NULL;

  if (path == NULL || *path == '\0' || !g_path_is_absolute (path))
    return;
  source = real_path (path);
  if (source == NULL)
    return;
  dest = g_canonicalize_filename (path, "/");
  if (!check_dest (path, dest, NIX_EXEC_ERROR_INVALID_EFFECTS, &error) ||
      !check_source (protected, path, source, FALSE, NIX_EXEC_ERROR_INVALID_EFFECTS, &error))
    {
      g_debug ("Not binding %s for a Network stage: %s", path, error->message);
      return;
    }
  add_mount (mounts, MOUNT_RO_BIND, source, dest);
}

/* ------------------------------------------------------------------------ */
/* The command line                                                         */
/* ------------------------------------------------------------------------ */

/* What every sandbox is, the probe's included. */
static void
add_confinement (GStrvBuilder *argv,
                 gboolean      disable_userns,
                 gboolean      share_network)
{
  g_autofree char *id = g_strdup_printf ("%d", NIX_EXEC_SANDBOX_UID);

  g_strv_builder_add_many (argv,
                           "--unshare-user",
                           "--unshare-pid",
                           "--unshare-ipc",
                           "--unshare-uts",
                           "--unshare-cgroup",
                           NULL);
  if (!share_network)
    g_strv_builder_add (argv, "--unshare-net");
  /* No user namespaces inside: a large kernel attack surface, and no
   * stage needs one. */
  if (disable_userns)
    g_strv_builder_add (argv, "--disable-userns");
  g_strv_builder_add_many (argv,
                           "--uid", id,
                           "--gid", id,
                           "--hostname", SANDBOX_HOSTNAME,
                           "--cap-drop", "ALL",
                           /* No controlling terminal: TIOCSTI cannot push
                            * input to one. */
                           "--new-session",
                           "--die-with-parent",
                           NULL);
}

static gboolean
env_is_allowed (const char *name)
{
  if (g_str_equal (name, "PATH") || g_str_equal (name, "LANG") ||
      g_str_has_prefix (name, "LC_") || g_str_equal (name, CERT_DIR_VAR))
    return TRUE;
  return g_strv_contains (cert_file_vars, name);
}

static void
add_environment (GStrvBuilder       *argv,
                 const char * const *host_environ)
{
  gboolean have_path = FALSE;

  g_strv_builder_add (argv, "--clearenv");
  for (guint i = 0; host_environ != NULL && host_environ[i] != NULL; i++)
    {
      const char *eq = strchr (host_environ[i], '=');
      g_autofree char *name = NULL;

      if (eq == NULL || eq == host_environ[i])
        continue;
      name = g_strndup (host_environ[i], eq - host_environ[i]);
      if (!env_is_allowed (name))
        continue;
      have_path |= g_str_equal (name, "PATH");
      g_strv_builder_add_many (argv, "--setenv", name, eq + 1, NULL);
    }
  if (!have_path)
    g_strv_builder_add_many (argv, "--setenv", "PATH", DEFAULT_PATH, NULL);
  g_strv_builder_add_many (argv,
                           "--setenv", "HOME", NIX_EXEC_SANDBOX_WORK_DIR,
                           "--setenv", "USER", SANDBOX_USER,
                           "--setenv", "LOGNAME", SANDBOX_USER,
                           NULL);
}

/* The path of a file in the cache's sandbox directory holding @contents,
 * written now unless it exists, complete, already: named after what it
 * holds, it never changes once there. */
static char *
ensure_sandbox_file (const char  *cache_dir,
                     const char  *name,
                     const char  *contents,
                     GError     **error)
{
  g_autofree char *dir = g_build_filename (cache_dir, "sandbox", NULL);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, contents, -1);
  g_autofree char *basename = NULL;
  g_autofree char *path = NULL;
  gsize length = strlen (contents);
  GStatBuf st;

  if (!nix_exec_ensure_private_dir (dir, "sandbox file directory", error))
    return NULL;
  basename = g_strdup_printf ("%s-%.16s", name, hash);
  path = g_build_filename (dir, basename, NULL);
  if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode) && (gsize) st.st_size == length)
    return g_steal_pointer (&path);
  if (!g_file_set_contents_full (path, contents, length, G_FILE_SET_CONTENTS_CONSISTENT, 0444,
                                 error))
    {
      g_prefix_error (error, "Could not write the sandbox's %s “%s”: ", name, path);
      return NULL;
    }
  return g_steal_pointer (&path);
}

/* /etc/passwd and /etc/group of the sandbox's own. A declared path of the
 * same name, added first, keeps its place. */
static gboolean
add_identity (GPtrArray   *mounts,
              const char  *cache_dir,
              GError     **error)
{
  g_autofree char *passwd = NULL;
  g_autofree char *group = NULL;

  if (cache_dir == NULL)
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "The sandbox needs a cache directory for its /etc/passwd");
      return FALSE;
    }
  passwd = ensure_sandbox_file (cache_dir, "passwd", sandbox_passwd, error);
  if (passwd == NULL)
    return FALSE;
  group = ensure_sandbox_file (cache_dir, "group", sandbox_group, error);
  if (group == NULL)
    return FALSE;
  add_mount (mounts, MOUNT_RO_BIND, passwd, "/etc/passwd");
  add_mount (mounts, MOUNT_RO_BIND, group, "/etc/group");
  return TRUE;
}

gboolean
nix_exec_sandbox_check_extra_ro_binds (const char * const  *extra_ro_binds,
                                       const char          *cache_dir,
                                       GError             **error)
{
  g_auto(GStrv) host_environ = g_get_environ ();
  g_auto(Protected) protected = { NULL, };

  protected_init (&protected, cache_dir, NULL, (const char * const *) host_environ);
  for (guint i = 0; extra_ro_binds != NULL && extra_ro_binds[i] != NULL; i++)
    {
      if (!add_extra_ro_bind (NULL, &protected, extra_ro_binds[i], error))
        return FALSE;
    }
  return TRUE;
}

gboolean
nix_exec_sandbox_build_command (const NixExecSandboxPlan  *plan,
                                GStrv                     *out_argv,
                                GBytes                   **out_options,
                                GBytes                   **out_seccomp,
                                GError                   **error)
{
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_auto(GStrv) options = NULL;
  g_autoptr(GByteArray) serialized = g_byte_array_new ();
  g_autoptr(GPtrArray) mounts = g_ptr_array_new_with_free_func ((GDestroyNotify) mount_free);
  g_auto(Protected) protected = { NULL, };
  g_autofree char *store_dir = NULL;
  g_autofree char *script_source = NULL;
  g_autofree char *script_dest = NULL;
  g_autofree char *script_name = NULL;
  g_autofree char *interpreter = NULL;
  g_autoptr(GBytes) seccomp = NULL;
  const char * const *paths;
  gboolean network;

  g_return_val_if_fail (plan != NULL, FALSE);
  g_return_val_if_fail (plan->bwrap_path != NULL, FALSE);
  g_return_val_if_fail (NIX_EXEC_IS_EFFECT_SET (plan->effects), FALSE);
  g_return_val_if_fail (plan->runtime_path != NULL && g_path_is_absolute (plan->runtime_path), FALSE);
  g_return_val_if_fail (plan->interpreter != NULL, FALSE);
  g_return_val_if_fail (plan->script_path != NULL, FALSE);
  g_return_val_if_fail (plan->script_extension != NULL, FALSE);
  g_return_val_if_fail (out_argv != NULL && out_options != NULL && out_seccomp != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* No stage runs sandboxed without its filter. */
  seccomp = nix_exec_seccomp_get_program (error);
  if (seccomp == NULL)
    return FALSE;

  /* The directory of the runtime's store path: /nix/store, or the store
   * directory of a nix configured otherwise. */
  store_dir = g_path_get_dirname (plan->runtime_path);
  protected_init (&protected, plan->cache_dir, store_dir, plan->host_environ);
  network = nix_exec_effect_set_contains (plan->effects, NIX_EXEC_EFFECT_KIND_NETWORK);

  if (path_depth (store_dir) == 0)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "The runtime “%s” is not inside a store directory", plan->runtime_path);
      return FALSE;
    }
  add_mount (mounts, MOUNT_RO_BIND, protected.store_dir, store_dir);

  for (guint i = 0; plan->extra_ro_binds != NULL && plan->extra_ro_binds[i] != NULL; i++)
    {
      if (!add_extra_ro_bind (mounts, &protected, plan->extra_ro_binds[i], error))
        return FALSE;
    }

  if (network)
    {
      const char *dirs = g_environ_getenv ((char **) plan->host_environ, CERT_DIR_VAR);

      for (guint i = 0; network_paths[i] != NULL; i++)
        add_network_path (mounts, &protected, network_paths[i]);
      for (guint i = 0; cert_file_vars[i] != NULL; i++)
        add_network_path (mounts, &protected,
                          g_environ_getenv ((char **) plan->host_environ, cert_file_vars[i]));
      if (dirs != NULL)
        {
          g_auto(GStrv) split = g_strsplit (dirs, ":", -1);

          for (guint i = 0; split[i] != NULL; i++)
            add_network_path (mounts, &protected, split[i]);
        }
    }

  paths = nix_exec_effect_set_get_write_paths (plan->effects);
  for (guint i = 0; paths[i] != NULL; i++)
    {
      if (!add_declared_path (mounts, &protected, "FsWrite", paths[i], TRUE, error))
        return FALSE;
    }
  paths = nix_exec_effect_set_get_read_paths (plan->effects);
  for (guint i = 0; paths[i] != NULL; i++)
    {
      if (!add_declared_path (mounts, &protected, "FsRead", paths[i], FALSE, error))
        return FALSE;
    }

  if (!add_identity (mounts, plan->cache_dir, error))
    return FALSE;

  /* The one script this stage runs, not the cache it lives in. */
  script_source = real_path (plan->script_path);
  if (script_source == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "The stage script “%s” cannot be used: %s",
                   plan->script_path, g_strerror (saved_errno));
      return FALSE;
    }
  script_name = g_strconcat ("stage.", plan->script_extension, NULL);
  script_dest = g_build_filename (NIX_EXEC_SANDBOX_SCRIPT_DIR, script_name, NULL);

  g_ptr_array_sort (mounts, compare_mounts);

  /* Everything but the command goes to bwrap through a file (--args): the
   * host paths it names stay out of /proc/1/cmdline inside the sandbox and
   * out of `ps` outside. */
  add_confinement (argv, plan->disable_userns, network);
  /* Which process is the namespace's init, to wait for its end (see
   * nixexec-child.c). */
  g_strv_builder_add_many (argv, "--info-fd", G_STRINGIFY (NIX_EXEC_CHILD_INFO_FD), NULL);
  /* The stage's seccomp filter, which bwrap installs right before exec
   * (see nixexec-seccomp.c). */
  g_strv_builder_add_many (argv, "--seccomp", G_STRINGIFY (NIX_EXEC_SECCOMP_FD), NULL);
  add_environment (argv, plan->host_environ);

  /* The root is an empty tmpfs of bwrap's; everything is built on it, then
   * it is made read-only. */
  g_strv_builder_add_many (argv,
                           "--proc", "/proc",
                           "--dev", "/dev",
                           "--tmpfs", "/tmp",
                           "--tmpfs", NIX_EXEC_SANDBOX_WORK_DIR,
                           NULL);

  for (guint i = 0; i < mounts->len; i++)
    {
      Mount *mount = g_ptr_array_index (mounts, i);

      switch (mount->kind)
        {
        case MOUNT_SYMLINK:
          g_strv_builder_add_many (argv, "--symlink", mount->source, mount->dest, NULL);
          break;
        case MOUNT_RO_BIND:
          g_strv_builder_add_many (argv, "--ro-bind", mount->source, mount->dest, NULL);
          break;
        case MOUNT_BIND:
          g_strv_builder_add_many (argv, "--bind", mount->source, mount->dest, NULL);
          break;
        default:
          g_assert_not_reached ();
        }
    }

  g_strv_builder_add_many (argv,
                           "--ro-bind", script_source, script_dest,
                           "--remount-ro", "/",
                           "--chdir", NIX_EXEC_SANDBOX_WORK_DIR,
                           NULL);

  options = g_strv_builder_end (argv);
  for (guint i = 0; options[i] != NULL; i++)
    g_byte_array_append (serialized, (const guint8 *) options[i], strlen (options[i]) + 1);

  interpreter = g_build_filename (plan->runtime_path, "bin", plan->interpreter, NULL);
  argv = g_strv_builder_new ();
  g_strv_builder_add_many (argv, plan->bwrap_path, "--args", "3", "--",
                           interpreter, script_dest, NULL);

  *out_argv = g_strv_builder_end (argv);
  *out_options = g_byte_array_free_to_bytes (g_steal_pointer (&serialized));
  *out_seccomp = g_steal_pointer (&seccomp);
  return TRUE;
}

gboolean
nix_exec_sandbox_exit_status_is_signal (int  exit_status,
                                        int *out_signal)
{
  if (exit_status <= 128 || exit_status >= 128 + NSIG)
    return FALSE;
  if (out_signal != NULL)
    *out_signal = exit_status - 128;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Finding and probing bwrap                                                */
/* ------------------------------------------------------------------------ */

G_LOCK_DEFINE_STATIC (probe);
static GStrv    candidates_for_testing;  /* NULL: default_candidates */
static gboolean probed;
static char    *probe_bwrap;             /* the usable binary, or NULL */
static gboolean probe_disable_userns;
static char    *probe_failure;           /* why not, when probe_bwrap is NULL */
static gboolean warning_claimed;

static gboolean
is_owned_by_root_only (const char *path,
                       gboolean    is_dir,
                       char      **out_problem)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      *out_problem = g_strdup_printf ("“%s” cannot be inspected: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (st.st_uid != 0)
    {
      *out_problem = g_strdup_printf ("“%s” does not belong to root", path);
      return FALSE;
    }
  /* Others may create entries in a sticky directory, but not replace
   * root's. */
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(is_dir && (st.st_mode & S_ISVTX) != 0))
    {
      *out_problem = g_strdup_printf ("“%s” can be written by users other than root", path);
      return FALSE;
    }
  return TRUE;
}

/* The real path of @candidate when it is a root-owned executable that no
 * one else can replace; NULL with *out_problem otherwise. */
static char *
trusted_binary (const char  *candidate,
                char       **out_problem)
{
  g_autofree char *resolved = real_path (candidate);
  g_autofree char *dir = NULL;
  GStatBuf st;

  if (resolved == NULL)
    {
      *out_problem = g_strdup_printf ("%s: %s", candidate, g_strerror (errno));
      return NULL;
    }
  if (g_stat (resolved, &st) != 0 || !S_ISREG (st.st_mode) || access (resolved, X_OK) != 0)
    {
      *out_problem = g_strdup_printf ("%s is not an executable file", resolved);
      return NULL;
    }
  if (!is_owned_by_root_only (resolved, FALSE, out_problem))
    return NULL;

  dir = g_path_get_dirname (resolved);
  for (;;)
    {
      g_autofree char *parent = NULL;

      if (!is_owned_by_root_only (dir, TRUE, out_problem))
        return NULL;
      if (g_str_equal (dir, "/"))
        break;
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = g_steal_pointer (&parent);
    }

  return g_steal_pointer (&resolved);
}

static void
probe_child_setup (gpointer user_data)
{
  /* Between fork and exec: async-signal-safe calls only. A bwrap that
   * hangs is killed by the alarm, which survives exec. */
  setsid ();
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  alarm (PROBE_TIMEOUT_SECS);
}

/* What bwrap, or the kernel under it, says when the host is short of
 * something for now (bwrap runs in the C locale: strerror's English). */
static const char * const transient_messages[] = {
  "Resource temporarily unavailable",   /* EAGAIN: no process left to clone */
  "Cannot allocate memory",             /* ENOMEM */
  "Too many open files",                /* EMFILE, and ENFILE's "... in system" */
  NULL
};

/* A probe that g_spawn_sync() could not even start for want of processes,
 * memory or descriptors (a pipe it could not make is FAILED). */
static gboolean
spawn_error_is_transient (const GError *error)
{
  if (error->domain != G_SPAWN_ERROR)
    return FALSE;
  switch (error->code)
    {
    case G_SPAWN_ERROR_FORK:
    case G_SPAWN_ERROR_READ:
    case G_SPAWN_ERROR_NOMEM:
    case G_SPAWN_ERROR_NFILE:
    case G_SPAWN_ERROR_MFILE:
    case G_SPAWN_ERROR_TXTBUSY:
    case G_SPAWN_ERROR_FAILED:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Runs bwrap with the confinement of every stage; NULL when it worked,
 * otherwise why not, with *out_transient telling whether it may work on a
 * later try. */
static char *
run_probe (const char *bwrap,
           gboolean    disable_userns,
           gboolean   *out_transient)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autofree char *err_text = NULL;
  g_autoptr(GError) error = NULL;
  const char * const envp[] = { NULL };
  int wait_status = 0;

  *out_transient = FALSE;
  g_strv_builder_add (builder, bwrap);
  add_confinement (builder, disable_userns, FALSE);
  g_strv_builder_add_many (builder,
                           "--clearenv",
                           "--ro-bind", "/", "/",
                           "--proc", "/proc",
                           "--dev", "/dev",
                           "--tmpfs", "/tmp",
                           "--tmpfs", NIX_EXEC_SANDBOX_WORK_DIR,
                           "--remount-ro", "/",
                           "--chdir", NIX_EXEC_SANDBOX_WORK_DIR,
                           /* No init of bwrap's in the namespace: one would
                            * be orphaned to a host that is a subreaper or
                            * PID 1, and never reaped. */
                           "--as-pid-1",
                           "--", bwrap, "--version",
                           NULL);
  argv = g_strv_builder_end (builder);

  if (!g_spawn_sync (NULL, argv, (char **) envp,
                     G_SPAWN_STDIN_FROM_DEV_NULL | G_SPAWN_STDOUT_TO_DEV_NULL,
                     probe_child_setup, NULL,
                     NULL, &err_text, &wait_status, &error))
    {
      *out_transient = spawn_error_is_transient (error);
      return g_strdup_printf ("%s could not be run: %s", bwrap, error->message);
    }

  if (g_spawn_check_wait_status (wait_status, &error))
    return NULL;

  /* Killed, by the alarm of a probe that hung or by anyone else: says
   * nothing about the host. */
  if (WIFSIGNALED (wait_status))
    {
      *out_transient = TRUE;
      if (WTERMSIG (wait_status) == SIGALRM)
        return g_strdup_printf ("%s did not finish within %d seconds", bwrap,
                                PROBE_TIMEOUT_SECS);
      return g_strdup_printf ("%s was killed by signal %d", bwrap, WTERMSIG (wait_status));
    }

  g_strstrip (err_text);
  if (*err_text != '\0')
    {
      char *newline = strchr (err_text, '\n');

      if (newline != NULL)
        *newline = '\0';
      for (guint i = 0; transient_messages[i] != NULL; i++)
        *out_transient |= strstr (err_text, transient_messages[i]) != NULL;
      return g_strdup_printf ("%s cannot create a sandbox on this host: %s", bwrap, err_text);
    }
  return g_strdup_printf ("%s cannot create a sandbox on this host: %s", bwrap, error->message);
}

/* Called with the lock held. A transient failure is not kept: *out_transient
 * says why, and the next call probes again. */
static void
probe_locked (char **out_transient)
{
  const char * const *candidates = candidates_for_testing != NULL
                                   ? (const char * const *) candidates_for_testing
                                   : default_candidates;
  g_autoptr(GString) problems = g_string_new (NULL);
  g_autofree char *bwrap = NULL;
  g_autofree char *with_disable = NULL;
  g_autofree char *without_disable = NULL;
  gboolean transient = FALSE;

  for (guint i = 0; candidates[i] != NULL && bwrap == NULL; i++)
    {
      g_autofree char *problem = NULL;

      bwrap = trusted_binary (candidates[i], &problem);
      if (bwrap == NULL)
        g_string_append_printf (problems, "%s%s", problems->len > 0 ? "; " : "", problem);
    }

  if (bwrap == NULL)
    {
      probed = TRUE;
      probe_failure = g_strdup_printf ("No usable bubblewrap (bwrap) in a trusted system "
                                       "location (%s)", problems->str);
      return;
    }

  with_disable = run_probe (bwrap, TRUE, &transient);
  if (with_disable == NULL)
    {
      probed = TRUE;
      probe_bwrap = g_steal_pointer (&bwrap);
      probe_disable_userns = TRUE;
      return;
    }
  if (transient)
    {
      *out_transient = g_steal_pointer (&with_disable);
      return;
    }

  /* bwrap before 0.8 has no --disable-userns; the rest may still work. */
  without_disable = run_probe (bwrap, FALSE, &transient);
  if (without_disable == NULL)
    {
      g_debug ("%s works without --disable-userns only: %s", bwrap, with_disable);
      probed = TRUE;
      probe_bwrap = g_steal_pointer (&bwrap);
      probe_disable_userns = FALSE;
      return;
    }
  if (transient)
    {
      *out_transient = g_steal_pointer (&without_disable);
      return;
    }

  probed = TRUE;
  probe_failure = g_steal_pointer (&without_disable);
}

gboolean
nix_exec_sandbox_probe (char     **out_bwrap_path,
                        gboolean  *out_disable_userns,
                        GError   **error)
{
  g_autofree char *transient = NULL;
  gboolean usable;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  G_LOCK (probe);
  if (!probed)
    probe_locked (&transient);
  usable = probe_bwrap != NULL;
  if (usable)
    {
      if (out_bwrap_path != NULL)
        *out_bwrap_path = g_strdup (probe_bwrap);
      if (out_disable_userns != NULL)
        *out_disable_userns = probe_disable_userns;
    }
  else if (transient != NULL)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_RESOURCE_LIMIT,
                   "The sandbox could not be probed, for a transient reason (try again "
                   "later): %s", transient);
    }
  else
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           probe_failure);
    }
  G_UNLOCK (probe);

  return usable;
}

gboolean
nix_exec_sandbox_claim_warning (void)
{
  gboolean first;

  G_LOCK (probe);
  first = !warning_claimed;
  warning_claimed = TRUE;
  G_UNLOCK (probe);

  return first;
}

void
nix_exec_sandbox_set_bwrap_candidates_for_testing (const char * const *candidates)
{
  G_LOCK (probe);
  g_clear_pointer (&candidates_for_testing, g_strfreev);
  candidates_for_testing = g_strdupv ((char **) candidates);
  probed = FALSE;
  g_clear_pointer (&probe_bwrap, g_free);
  g_clear_pointer (&probe_failure, g_free);
  probe_disable_userns = FALSE;
  warning_claimed = FALSE;
  G_UNLOCK (probe);
}
