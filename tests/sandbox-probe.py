# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The stage of the escape suite (tests/test-sandbox.c). It is registered as
# a stage's code and run through the executor; input["probe"] names the
# escape to attempt. Every probe tries, reports what happened, and lets no
# exception out: the test decides what must have failed.

import ctypes
import errno
import fcntl
import mmap
import os
import platform
import signal
import socket
import termios
import time


def attempt(fn):
    try:
        return {"ok": True, "value": fn()}
    except BaseException as e:  # noqa: B902 - report everything
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def read_args(path):
    # NUL-separated; joined with spaces so that nothing is cut short.
    return read_text(path).replace("\0", " ")


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)
    return True


def processes_with(marker):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in args:
            found.append(int(name))
    return found


def probe_secrets(input):
    return {
        "shadow": attempt(lambda: len(read_text("/etc/shadow"))),
        "home_secret": attempt(lambda: read_text(input["home_secret"])),
        "home_secret_via_tilde": attempt(
            lambda: read_text(os.path.expanduser("~/.ssh/id_test"))),
        "home": attempt(lambda: os.listdir(input["home"])),
        "passwd_home": attempt(lambda: os.listdir(input["passwd_home"])),
    }


def probe_writes(input):
    report = {}
    for name, path in input["targets"].items():
        report[name] = attempt(lambda path=path: write_text(path, input["text"]))
    victim = input["read_only_file"]
    report["unlink_read_only"] = attempt(lambda: os.unlink(victim))
    report["chmod_read_only"] = attempt(lambda: os.chmod(victim, 0o777))
    report["rename_read_only"] = attempt(lambda: os.rename(victim, victim + ".moved"))
    return report


def connect_and_send(port, token):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(token.encode())
    return True


def probe_network(input):
    return {
        "connect": attempt(lambda: connect_and_send(input["port"], input["token"])),
        "etc": sorted(os.listdir("/etc")) if os.path.isdir("/etc") else [],
        "shadow": attempt(lambda: len(read_text("/etc/shadow"))),
    }


def status_field(name):
    for line in read_text("/proc/self/status").splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def probe_credentials(input):
    report = {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "egid": os.getegid(),
        "groups": os.getgroups(),
    }
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
        report[cap] = status_field(cap)
    # In a child, so that a success does not change what is reported above.
    # The child exits with 0 on success, else with the errno.
    pid = os.fork()
    if pid == 0:
        try:
            os.setuid(0)
            os._exit(0)
        except OSError as e:
            os._exit(e.errno if 0 < e.errno < 256 else 255)
        except BaseException:
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    report["setuid0"] = "succeeded" if code == 0 else errno.errorcode.get(code, "other")
    return report


def probe_pid(input):
    target = input["pid"]
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    return {
        "signal0": attempt(lambda: os.kill(target, 0)),
        "sigwinch": attempt(lambda: os.kill(target, signal.SIGWINCH)),
        "proc_entry": os.path.exists("/proc/%d" % target),
        "pids": pids,
        "self": os.getpid(),
    }


def probe_environment(input):
    return {
        "environ": dict(os.environ),
        "init_cmdline": attempt(lambda: read_args("/proc/1/cmdline")),
        "init_environ": attempt(lambda: read_args("/proc/1/environ")),
    }


def probe_work(input):
    listing = os.listdir("/work") if os.path.isdir("/work") else None
    return {
        "cwd": os.getcwd(),
        "home": os.environ.get("HOME"),
        "listing": listing,
        "write": attempt(lambda: write_text("/work/" + input["name"], "left behind")),
    }


def probe_grandchild(input):
    marker = input["marker"]
    pid = os.fork()
    if pid == 0:
        # A session of its own, out of the stage's process group, and no
        # pipe of the call held open: only a pid namespace can reach it.
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execvp("sleep", ["sleep", marker])
        os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 10
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    started = bool(processes_with(marker))
    if input.get("then_hang"):
        time.sleep(300)
    return {"started": started}


def push_input(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"X")
        return "injected"
    finally:
        os.close(fd)


def probe_tiocsti(input):
    report = {
        "dev_tty": attempt(lambda: push_input("/dev/tty")),
        "host_pty": attempt(lambda: push_input(input["pty"])),
    }
    for fd in (0, 1, 2):
        report["fd%d" % fd] = attempt(
            lambda fd=fd: fcntl.ioctl(fd, termios.TIOCSTI, b"X") and "injected")
    return report


def probe_hidden(input):
    return {
        "cache_dir": attempt(lambda: os.listdir(input["cache_dir"])),
        "scripts": attempt(lambda: os.listdir(os.path.join(input["cache_dir"], "scripts"))),
        "daemon_socket": os.path.exists("/nix/var/nix/daemon-socket/socket"),
        "nix_var": os.path.exists("/nix/var"),
        "script_dir": sorted(os.listdir("/run/nixexec")) if os.path.isdir("/run/nixexec") else None,
        "root": sorted(os.listdir("/")),
        "init_cmdline": attempt(lambda: read_args("/proc/1/cmdline")),
    }


def probe_read(input):
    return {name: attempt(lambda path=path: read_text(path))
            for name, path in input["paths"].items()}


def probe_listdir(input):
    return {name: attempt(lambda path=path: sorted(os.listdir(path)))
            for name, path in input["paths"].items()}


def probe_write(input):
    return {name: attempt(lambda path=path: write_text(path, input["text"]))
            for name, path in input["paths"].items()}


def run_output(argv):
    import subprocess
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError("%s exited with %d: %s" % (argv[0], done.returncode, done.stderr.strip()))
    return done.stdout.strip()


def probe_identity(input):
    import getpass
    import grp
    import pwd
    return {
        "getuser": attempt(getpass.getuser),
        "expanduser": attempt(lambda: os.path.expanduser("~")),
        "pw_name": attempt(lambda: pwd.getpwuid(os.getuid()).pw_name),
        "pw_dir": attempt(lambda: pwd.getpwuid(os.getuid()).pw_dir),
        "gr_name": attempt(lambda: grp.getgrgid(os.getgid()).gr_name),
        "id_un": attempt(lambda: run_output(["id", "-un"])),
        "id_gn": attempt(lambda: run_output(["id", "-gn"])),
        "user": os.environ.get("USER"),
        "logname": os.environ.get("LOGNAME"),
    }


# The system calls the seccomp filter refuses, each made with arguments
# that make it fail harmlessly, or do nothing, when it is not refused (the
# tests run as root): invalid flags, a bad fd or NULL pointers, checked by
# the kernel before anything happens. x86_64 numbers.
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

TIOCSTI = 0x5412
TIOCLINUX = 0x541C
CLONE_THREAD = 0x00010000
CLONE_FLAGS = {
    "newns": 0x00020000,
    "newcgroup": 0x02000000,
    "newuts": 0x04000000,
    "newipc": 0x08000000,
    "newuser": 0x10000000,
    "newpid": 0x20000000,
    "newnet": 0x40000000,
}


def raw_syscall(nr, *args):
    """0, or the errno the call failed with."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return ctypes.get_errno() if r == -1 else 0


SYSCALLS = {
    # ioctl on a bad fd: EBADF, unless refused before the fd is looked at.
    "ioctl_tiocsti": (16, -1, TIOCSTI, 0),
    "ioctl_tiocsti_high_bits": (16, -1, TIOCSTI | (1 << 32), 0),
    "ioctl_tioclinux": (16, -1, TIOCLINUX, 0),
    "ioctl_tcgets": (16, -1, termios.TCGETS, 0),
    "mount": (165, 0, 0, 0, 0, 0),
    "umount2": (166, 0, 0xffffffff),
    "pivot_root": (155, 0, 0),
    "chroot": (161, 0),
    "open_tree": (428, -1, 0, 0xffffffff),
    "move_mount": (429, -1, 0, -1, 0, 0xffffffff),
    "fsopen": (430, 0, 0xffffffff),
    "fsconfig": (431, -1, 0xffff, 0, 0, 0),
    "fsmount": (432, -1, 0xffffffff, 0),
    "fspick": (433, -1, 0, 0xffffffff),
    "mount_setattr": (442, -1, 0, 0xffffffff, 0, 0),
    "unshare": (272, 0xffffffff),
    "setns": (308, -1, 0),
    # clone3 with a size of 0: EINVAL.
    "clone3": (435, 0, 0),
    "keyctl": (250, 0xffff, 0, 0, 0, 0),
    "add_key": (248, 0, 0, 0, 0, 0),
    "request_key": (249, 0, 0, 0, 0),
    # PTRACE_PEEKDATA of pid 0, which no process is: ESRCH.
    "ptrace": (101, 2, 0, 0, 0),
    "perf_event_open": (298, 0, 0, -1, -1, 0),
    "bpf": (321, 0xffff, 0, 0),
    "userfaultfd": (323, 0xffffffff),
    # personality(0xffffffff) only asks; personality(PER_LINUX) sets what
    # the stage already is.
    "personality_query": (135, 0xffffffff),
    "personality_linux": (135, 0),
    "kexec_load": (246, 0, 0xffff, 0, 0xffffffff),
    "kexec_file_load": (320, -1, -1, 0, 0, 0xffffffff),
    "syslog": (103, 0xffff, 0, 0),
    # A filename at address 1: EFAULT, accounting untouched.
    "acct": (163, 1),
    "quotactl": (179, 0xffffffff, 0, 0, 0),
    "init_module": (175, 0, 0, 0),
    "finit_module": (313, -1, 0, 0xffffffff),
    "delete_module": (176, 0, 0),
    "reboot": (169, 0, 0, 0, 0),
    "swapon": (167, 0, 0),
    "swapoff": (168, 0),
    # Neither a time nor a zone: settimeofday does nothing.
    "settimeofday": (164, 0, 0),
    "clock_settime": (227, 0xffff, 0),
    "uselib": (134, 0),
    "modify_ldt": (154, 0xffff, 0, 0),
    "move_pages": (279, 0, 0, 0, 0, 0, 0),
    "migrate_pages": (256, 0, 0, 0, 0),
    "nfsservctl": (180, 0, 0, 0),
}
for _flag, _value in CLONE_FLAGS.items():
    # CLONE_THREAD without CLONE_SIGHAND: EINVAL, before any process is made.
    SYSCALLS["clone_" + _flag] = (56, _value | CLONE_THREAD, 0, 0, 0, 0)
SYSCALLS["clone_no_namespace"] = (56, CLONE_THREAD, 0, 0, 0, 0)


def i386_getpid():
    """getpid through int 0x80, the i386 entry: its return, or -errno."""
    code = bytes([0xb8, 20, 0, 0, 0,  # mov eax, 20 (getpid)
                  0xcd, 0x80,         # int 0x80
                  0xc3])              # ret
    page = mmap.mmap(-1, mmap.PAGESIZE,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return ctypes.CFUNCTYPE(ctypes.c_int)(address)()


def in_child(fn):
    """fn() in a child process, which may crash: its result or its signal."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, str(fn()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"value": int(out)}


def probe_syscalls(input):
    if platform.machine() != "x86_64":
        return {"arch": platform.machine()}
    report = {"arch": "x86_64"}
    for name in input["calls"]:
        if name == "i386_getpid":
            result = in_child(i386_getpid)
            result["pid"] = os.getpid()
            report[name] = result
        elif name == "x32_getpid":
            report[name] = {"errno": raw_syscall(0x40000000 | 39)}
        elif name == "fork":
            report[name] = in_child(lambda: 7)
        else:
            report[name] = {"errno": raw_syscall(*SYSCALLS[name])}
    return report


PROBES = {
    "identity": probe_identity,
    "secrets": probe_secrets,
    "writes": probe_writes,
    "network": probe_network,
    "credentials": probe_credentials,
    "pid": probe_pid,
    "environment": probe_environment,
    "work": probe_work,
    "grandchild": probe_grandchild,
    "tiocsti": probe_tiocsti,
    "hidden": probe_hidden,
    "read": probe_read,
    "listdir": probe_listdir,
    "write": probe_write,
    "syscalls": probe_syscalls,
}


def execute(input):
    return PROBES[input["probe"]](input)
