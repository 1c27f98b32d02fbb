/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The seccomp filter of every sandboxed stage, one-shot and warm worker.
 *
 * A blocklist, the one Flatpak (flatpak-run.c, setup_seccomp) and glycin
 * apply to untrusted code: everything is allowed but the system calls below,
 * which fail with EPERM. The namespaces, credentials and mounts bwrap sets
 * up are the sandbox; the filter takes away the kernel interfaces a stage
 * could use to leave it, to reach the host's terminal, keyring or kernel,
 * or to attack kernel code that is a frequent source of vulnerabilities.
 *
 * The program is built once per process with libseccomp, exported as BPF
 * (seccomp_export_bpf, into a memfd read back here), and kept as bytes;
 * every sandboxed spawn writes them into a fresh memfd on
 * NIX_EXEC_SECCOMP_FD and passes `--seccomp 5` to bwrap, which installs
 * the filter after building the sandbox, right before exec of the stage's
 * interpreter (so bwrap's own namespace and mount setup is unaffected).
 *
 * A filter that cannot be built is never silently dropped: the call that
 * needed it fails with NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE.
 *
 * What is blocked, and why (see also SECURITY.md):
 *
 *  - ioctl TIOCSTI and TIOCLINUX: pushing characters into a terminal's
 *    input (CVE-2017-5226 in bwrap, CVE-2019-10063 in Flatpak) and the
 *    Linux console's selection. The request is compared on its low 32 bits
 *    only, as the kernel reads it (an int), so high bits cannot hide it.
 *  - mount, umount2, pivot_root, chroot and the new mount API (fsopen,
 *    fsconfig, fsmount, fspick, move_mount, open_tree, mount_setattr):
 *    rearranging the sandbox's view of the file system.
 *  - unshare, setns, and clone with any CLONE_NEW* namespace flag: new or
 *    other namespaces, the entry point of many kernel exploits (bwrap
 *    already gives the stage no capabilities and, where it can,
 *    --disable-userns; this holds where it cannot).
 *  - clone3, with ENOSYS: its flags live in a structure that seccomp cannot
 *    read, so the namespace check above cannot be made; glibc falls back to
 *    clone on ENOSYS.
 *  - keyctl, add_key, request_key: the kernel keyring is not namespaced.
 *  - ptrace, perf_event_open, bpf, userfaultfd: debugging, profiling, eBPF
 *    and fault handling from user space, long sources of kernel CVEs, and
 *    never needed by a stage.
 *  - personality other than PER_LINUX: BSD emulation and the like (the
 *    0xffffffff query is refused too, as in Flatpak: libseccomp cannot
 *    compare one argument twice in a rule, and no interpreter asks).
 *  - syslog, uselib, acct, modify_ldt, quotactl, move_pages,
 *    migrate_pages, vhangup, swapon, swapoff, init_module, finit_module,
 *    delete_module, reboot, kexec_load, kexec_file_load, settimeofday,
 *    clock_settime, nfsservctl: the kernel log, obsolete
 *    calls, other processes' memory and administration of the host; most
 *    need capabilities the stage lacks, blocking them costs nothing.
 *  - every other ABI: a system call made through another architecture's
 *    entry (on x86_64, i386's int 0x80 and x32) is not checked against the
 *    rules above, whose numbers are the native ones, so it fails with
 *    EPERM as a whole (the filter's bad-architecture action).
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>

#include <seccomp.h>

#include "nixexec-error.h"
#include "nixexec-seccomp-private.h"

/* On s390 the flags are clone's second argument. */
#if defined(__s390__) || defined(__s390x__)
# define CLONE_FLAGS_ARG 1
#else
# define CLONE_FLAGS_ARG 0
#endif

typedef struct
{
  int                  syscall;
  const char          *name;
  int                  errnum;
  gboolean             has_arg;
  struct scmp_arg_cmp  arg;
} Rule;

#define BLOCK(sys) { SCMP_SYS (sys), #sys, EPERM, FALSE, { 0, } }
#define BLOCK_ERRNO(sys, e) { SCMP_SYS (sys), #sys, e, FALSE, { 0, } }
#define BLOCK_IF(sys, cmp) { SCMP_SYS (sys), #sys, EPERM, TRUE, cmp }
#define BLOCK_CLONE_FLAG(flag) \
  BLOCK_IF (clone, SCMP_CMP (CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, flag, flag))

G_LOCK_DEFINE_STATIC (program);
static GBytes   *program;         /* the cached program, or NULL */
static char     *program_failure; /* why not, once a build failed */
static gboolean  broken_for_testing;

static gboolean
add_rules (scmp_filter_ctx   ctx,
           GError          **error)
{
  const Rule rules[] = {
    /* Terminal injection and the console's selection. */
    BLOCK_IF (ioctl, SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, (scmp_datum_t) TIOCSTI)),
    BLOCK_IF (ioctl, SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, (scmp_datum_t) TIOCLINUX)),

    /* Mounts, old API and new. */
    BLOCK (mount),
    BLOCK (umount2),
    BLOCK (pivot_root),
    BLOCK (chroot),
    BLOCK (fsopen),
    BLOCK (fsconfig),
    BLOCK (fsmount),
    BLOCK (fspick),
    BLOCK (move_mount),
    BLOCK (open_tree),
    BLOCK (mount_setattr),

    /* Namespaces. */
    BLOCK (unshare),
    BLOCK (setns),
    BLOCK_CLONE_FLAG (CLONE_NEWNS),
    BLOCK_CLONE_FLAG (CLONE_NEWUSER),
    BLOCK_CLONE_FLAG (CLONE_NEWPID),
    BLOCK_CLONE_FLAG (CLONE_NEWNET),
    BLOCK_CLONE_FLAG (CLONE_NEWIPC),
    BLOCK_CLONE_FLAG (CLONE_NEWUTS),
    BLOCK_CLONE_FLAG (CLONE_NEWCGROUP),
    BLOCK_ERRNO (clone3, ENOSYS),

    /* The kernel keyring. */
    BLOCK (keyctl),
    BLOCK (add_key),
    BLOCK (request_key),

    /* Debugging, profiling, eBPF, user-space fault handling. */
    BLOCK (ptrace),
    BLOCK (perf_event_open),
    BLOCK (bpf),
    BLOCK (userfaultfd),

    /* Other execution domains. */
    BLOCK_IF (personality, SCMP_A0 (SCMP_CMP_NE, PER_LINUX)),

    /* The kernel log, obsolete calls, other processes' memory, and the
     * administration of the host. */
    BLOCK (syslog),
    BLOCK (uselib),
    BLOCK (acct),
    BLOCK (modify_ldt),
    BLOCK (quotactl),
    BLOCK (move_pages),
    BLOCK (migrate_pages),
    BLOCK (vhangup),
    BLOCK (swapon),
    BLOCK (swapoff),
    BLOCK (init_module),
    BLOCK (finit_module),
    BLOCK (delete_module),
    BLOCK (reboot),
    BLOCK (kexec_load),
    BLOCK (kexec_file_load),
    BLOCK (settimeofday),
    BLOCK (clock_settime),
    BLOCK (nfsservctl),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      const Rule *rule = &rules[i];
      int r;

      if (rule->has_arg)
        r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (rule->errnum), rule->syscall, 1, rule->arg);
      else
        r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (rule->errnum), rule->syscall, 0);

      /* -EFAULT: a call this architecture does not have (nfsservctl, gone
       * from newer kernels' tables, or modify_ldt outside x86); there is
       * nothing to block. */
      if (r == -EFAULT)
        continue;
      if (r < 0)
        {
          g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                       "The seccomp filter could not block %s: %s",
                       rule->name, g_strerror (-r));
          return FALSE;
        }
    }
  return TRUE;
}

/* Reads all of @fd from its start. */
static GBytes *
read_back (int      fd,
           GError **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint8 buffer[4096];

  if (lseek (fd, 0, SEEK_SET) < 0)
    goto fail;
  for (;;)
    {
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto fail;
      if (n == 0)
        break;
      g_byte_array_append (bytes, buffer, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));

fail:
  {
    int saved_errno = errno;

    g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                 "The seccomp filter could not be read back: %s", g_strerror (saved_errno));
    return NULL;
  }
}

GBytes *
nix_exec_seccomp_build_program (GError **error)
{
  scmp_filter_ctx ctx;
  GBytes *result = NULL;
  int fd = -1;
  int r;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (G_UNLIKELY (broken_for_testing))
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "The seccomp filter could not be built: broken for testing");
      return NULL;
    }

  ctx = seccomp_init (SCMP_ACT_ALLOW);
  if (ctx == NULL)
    {
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "The seccomp filter could not be built: libseccomp failed to initialise");
      return NULL;
    }

  /* Only the native architecture is in the filter: a call through any
   * other ABI fails whole. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO (EPERM));
  if (r < 0)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "The seccomp filter could not refuse other ABIs: %s", g_strerror (-r));
      goto out;
    }

  if (!add_rules (ctx, error))
    goto out;

  fd = memfd_create ("nixexec-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "The seccomp filter could not be exported: %s", g_strerror (saved_errno));
      goto out;
    }
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    {
      g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                   "The seccomp filter could not be exported: %s", g_strerror (-r));
      goto out;
    }
  result = read_back (fd, error);
  if (result != NULL && g_bytes_get_size (result) == 0)
    {
      g_clear_pointer (&result, g_bytes_unref);
      g_set_error_literal (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                           "The seccomp filter was exported empty");
    }

out:
  if (fd >= 0)
    close (fd);
  seccomp_release (ctx);
  return result;
}

GBytes *
nix_exec_seccomp_get_program (GError **error)
{
  GBytes *result = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  G_LOCK (program);
  if (program == NULL && program_failure == NULL)
    {
      g_autoptr(GError) local_error = NULL;

      program = nix_exec_seccomp_build_program (&local_error);
      if (program == NULL)
        program_failure = g_strdup (local_error->message);
    }
  if (program != NULL)
    result = g_bytes_ref (program);
  else
    g_set_error (error, NIX_EXEC_ERROR, NIX_EXEC_ERROR_ISOLATION_UNAVAILABLE,
                 "Stages cannot be sandboxed: %s", program_failure);
  G_UNLOCK (program);
  return result;
}

void
nix_exec_seccomp_set_broken_for_testing (gboolean broken)
{
  G_LOCK (program);
  broken_for_testing = broken;
  g_clear_pointer (&program, g_bytes_unref);
  g_clear_pointer (&program_failure, g_free);
  G_UNLOCK (program);
}
