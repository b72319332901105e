"""Run a student's kernel where the grader's files cannot be seen.

``python -m autograder.sandbox --hide DIR ... --keep DIR ... --mem-mb N -- KERNEL ARGV`` starts the kernel in
new Linux mount and PID namespaces (plus a user namespace when not root):

- every ``--hide`` path is covered by an empty read-only tmpfs (a file by an empty read-only bind), so the
  gradebook, the source notebooks with hidden tests and the other students' work are neither readable nor
  writable from the kernel;
- every ``--keep`` path (the folder the notebook runs in, the kernel's connection file) lies inside a hidden
  path and is bound back in, as it was;
- the kernel is PID 1 of its own PID namespace with a fresh /proc: it sees no grader process, and when it dies
  every process it forked dies with it; it also dies when the grader dies (parent-death signal);
- its address space is capped at ``--mem-mb`` MiB.

``check_available()`` tells whether this machine allows the namespaces (Linux, and root or unprivileged user
namespaces). This module imports only the standard library: it runs once per kernel start.
``autograder.kernel`` has the kernel manager that starts kernels through it.
"""
import argparse
import ctypes
import os
import resource
import signal
import subprocess
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(RuntimeError):
    """The kernel sandbox could not be set up on this machine."""


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what} failed: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _enter_namespaces():
    """Unshares mount and PID namespaces (and a user namespace when not root, mapping us to its root)."""
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWPID | (0 if uid == 0 else CLONE_NEWUSER)
    _check(_libc.unshare(flags), "unshare")
    if uid != 0:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _hide(paths, keep):
    """Covers each path in ``paths`` and binds each path in ``keep`` that lies inside one of them back in."""
    keep = [k for k in keep if any(os.path.commonpath([k, p]) == p and k != p for p in paths)]
    kept = [(path, os.open(path, os.O_RDONLY | os.O_DIRECTORY if os.path.isdir(path) else os.O_RDONLY))
            for path in keep]
    for path in paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)
    for path, fd in kept:  # mount points for the kept paths, made while the covers are still writable
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
    for path in paths:
        if os.path.isdir(path):
            _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path, fd in kept:
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND)
        os.close(fd)


def launch(hide, keep, mem_mb, argv):
    """Sets up the sandbox and runs ``argv`` in it; returns its exit status (never returns in the child)."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    _enter_namespaces()
    _hide(hide, keep)
    pid = os.fork()
    if pid == 0:  # PID 1 of the new namespace
        try:
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            if mem_mb:
                limit = mem_mb * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            os.execvp(argv[0], argv)
        except BaseException as exc:  # noqa: BLE001 - report and leave the child
            print(f"autograder.sandbox: cannot start the kernel: {exc}", file=sys.stderr)
        os._exit(127)
    # The parent only waits. SIGINT reaches the kernel through the process group (jupyter_client's interrupt);
    # SIGTERM is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue


def check_available():
    """Raises SandboxError with the reason when kernels cannot be sandboxed here."""
    if not sys.platform.startswith("linux"):
        raise SandboxError("the kernel sandbox needs Linux namespaces")
    probe = subprocess.run([sys.executable, "-m", "autograder.sandbox", "--", "true"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        raise SandboxError(probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else
                           f"sandbox probe exited with {probe.returncode}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--hide", action="append", default=[], help="a path the command must not see")
    parser.add_argument("--keep", action="append", default=[], help="a path inside a hidden one to keep")
    parser.add_argument("--mem-mb", type=int, default=0, help="address-space limit in MiB (0: none)")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("no command given after --")
    try:
        return launch([os.path.abspath(p) for p in args.hide], [os.path.abspath(p) for p in args.keep],
                      args.mem_mb, command)
    except SandboxError as exc:
        print(f"autograder.sandbox: {exc}", file=sys.stderr)
        return 126


if __name__ == "__main__":
    sys.exit(main())
