# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The stage of the escape suite (tests/test-sandbox.c). It is registered as
# a stage's code and run through the executor; input["probe"] names the
# escape to attempt. Every probe tries, reports what happened, and lets no
# exception out: the test decides what must have failed.

import errno
import fcntl
import os
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
}


def execute(input):
    return PROBES[input["probe"]](input)
