"""The bubblewrap command line that seals a student's kernel: an allow-list of read-only paths, no privilege, no
network, limits. Nothing else lives here (the kernel manager that uses it is ``autograder.kernel``).

What the kernel sees (everything else of the host is absent):

- read-only: the system's libraries and programs (``/usr/bin``, ``/usr/lib*``), a few files of ``/etc``, the
  Python installation and the virtual environment, and ``helpers/`` (or the copy of it with this assignment's
  answers switched off, ``autograder.guard``);
- read-write: one fresh tmpfs of ``disk_mb`` MiB at ``/tmp`` that holds the run folder ``/tmp/submission`` (the
  grader's inputs are bound into it read-only), ``$HOME`` and the kernel's sockets, plus a small ``/dev/shm`` and
  a small tmpfs of its own for the results the test cells record (``.grader_out``);
- its own PID, IPC, UTS, cgroup and network namespaces (loopback only), a cleared environment, no capabilities,
  ``no_new_privs``, no further user namespaces, and the limits of ``Limits`` (``prlimit``).

It always runs as an unprivileged user. A grader started as root runs bubblewrap as root to lay out the view (it
may need to read a Python installation under ``/root``), then ``setpriv`` drops to a user id of this kernel's own
(so that ``RLIMIT_NPROC`` binds and counts only this kernel's processes), and a second, unprivileged bubblewrap
disables user namespaces and drops the rest. A grader started as a normal user needs only the second stage.

Bubblewrap was chosen over nsjail because Debian and Ubuntu package it (it is what Flatpak runs on, and Ubuntu's
package carries the AppArmor profile that allows its user namespaces), it needs no configuration file, and every
option used here is in its 0.8 release.
"""
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.dataout import GRADER_OUT

RUN_DIR = "/tmp/submission"   # the kernel's working folder inside the sandbox
HOME_DIR = "/tmp/home"
SOCKET_DIR = "/tmp/.kernel"   # the kernel's ZMQ sockets (ipc transport); the grader reaches them from outside
CONNECTION_FILE = "/etc/kernel-connection.json"
SHM_MB = 64
RESULTS_MB = 128  # a tmpfs of its own for the recorded results, so that a full disk does not also lose them
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts")
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
              "MKL_NUM_THREADS", "TZ")
INSTALL_HINT = ("Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap; use the "
                "distribution's package: on Ubuntu 24.04 its AppArmor profile is what allows unprivileged user "
                "namespaces")


class SandboxError(RuntimeError):
    """The kernel sandbox cannot start on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed kernel may use; each is a setting of ``SandboxKernelManager`` in the nbgrader config."""
    processes: int = 256      # processes and threads of the kernel together (RLIMIT_NPROC)
    memory_mb: int = 4096     # address space of each process (RLIMIT_AS)
    cpu_seconds: int = 1800   # CPU time of each process (RLIMIT_CPU), on top of the wall-clock timeouts
    disk_mb: int = 1024       # everything it writes: run folder, /tmp, $HOME (one tmpfs) plus /dev/shm

    def describe(self):
        return (f"{self.processes} processes and threads, {self.memory_mb} MiB of memory per process, "
                f"{self.cpu_seconds} s of CPU time per process, {self.disk_mb} MiB of files")


def bwrap():
    """The path of the ``bwrap`` program; raises SandboxError saying how to install it."""
    path = shutil.which("bwrap")
    if not sys.platform.startswith("linux"):
        raise SandboxError("the kernel sandbox needs Linux (bubblewrap and namespaces)")
    if not path:
        raise SandboxError(f"bubblewrap is not installed ({INSTALL_HINT})")
    return path


def readable_roots(helpers_dir):
    """The host folders the kernel may read: Python (installation and environment) and the course's helpers."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(helpers_dir).resolve()}
    return sorted(p for p in roots if not any(p != q and q in p.parents for q in roots))


def _parents(path):
    return [p for p in reversed(Path(path).parents) if p != Path("/")]


def sandbox_ids():
    """(uid, gid) the kernel runs as: for a grader run as root a fresh id of its own, else the grader's."""
    if os.geteuid() == 0:
        uid = 10_000_000 + secrets.randbelow(1_000_000_000)
        return uid, uid
    return os.getuid(), os.getgid()


def _view(helpers_dir, helpers_source, inputs, connection_file, identity_files, mpl_cache):
    """bwrap arguments for the file system view (see the module docstring)."""
    args = []
    for folder in ("/usr", "/usr/share", "/etc"):
        args += ["--perms", "0755", "--dir", folder]
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        if os.path.isdir(f"/usr/{name}"):
            args += ["--ro-bind", f"/usr/{name}", f"/usr/{name}"]
        if os.path.lexists(f"/{name}"):
            args += ["--symlink", f"usr/{name}", f"/{name}"]
    for share in ("zoneinfo", "fonts"):
        args += ["--ro-bind-try", f"/usr/share/{share}", f"/usr/share/{share}"]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", identity_files[0], "/etc/passwd", "--ro-bind", identity_files[1], "/etc/group"]
    # the writable tmpfs first: a Python environment that lives under /tmp is then bound on top of it
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(SHM_MB * 2**20), "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", "{disk_bytes}", "--tmpfs", "/tmp"]
    made = set()
    for root in readable_roots(helpers_dir):
        for parent in _parents(root):
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", os.fspath(parent)]
        source = helpers_source if root == Path(helpers_dir).resolve() else root
        args += ["--ro-bind", os.fspath(source), os.fspath(root)]
    for folder in (RUN_DIR, HOME_DIR, SOCKET_DIR, f"{HOME_DIR}/.cache/matplotlib"):
        args += ["--perms", "0777", "--dir", folder]
    args += ["--perms", "0777", "--size", str(RESULTS_MB * 2**20), "--tmpfs", f"{RUN_DIR}/{GRADER_OUT}"]
    if mpl_cache:
        args += ["--ro-bind", os.fspath(mpl_cache), f"{HOME_DIR}/.cache/matplotlib/{Path(mpl_cache).name}"]
    for path in inputs:
        args += ["--ro-bind", os.fspath(path), f"{RUN_DIR}/{Path(path).name}"]
    args += ["--ro-bind", os.fspath(connection_file), CONNECTION_FILE]
    return args


def _environment(venv_bin):
    args = ["--clearenv"]
    env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HOME": HOME_DIR, "USER": "student", "LOGNAME": "student",
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "CONVNETS_DEVICE": "cpu", "TMPDIR": "/tmp"}
    env.update({name: os.environ[name] for name in PASSED_ENV if name in os.environ})
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args


def identity_files(folder, uid, gid):
    """Writes a passwd and a group file naming the kernel's user "student"; returns their paths."""
    folder = Path(folder)
    passwd, group = folder / "passwd", folder / "group"
    passwd.write_text(f"student:x:{uid}:{gid}:student:{HOME_DIR}:/bin/sh\n")
    group.write_text(f"student:x:{gid}:\n")
    return os.fspath(passwd), os.fspath(group)


def command(argv, *, helpers_dir, helpers_source, inputs, connection_file, work, limits=Limits(), ids=None,
            mpl_cache=None, nproc=None):
    """The full command line that runs ``argv`` (the kernel) sealed.

    Args:
        argv: the kernel's command; its ``-f`` connection file is replaced by the sandbox's copy.
        helpers_dir: the course's ``helpers/`` folder (its path inside is the same).
        helpers_source: what to show at that path (``helpers_dir`` itself, or a copy with answers switched off).
        inputs: files and folders bound read-only into the run folder (the grader's inputs).
        connection_file: the kernel's connection file on the host (ipc transport, sockets in SOCKET_DIR).
        work: a private folder of the grader for this kernel's passwd and group files.
        limits: a Limits.
        ids: (uid, gid) to run as; default ``sandbox_ids()``.
        mpl_cache: matplotlib's font cache file to lend read-only (saves building it in every kernel).
        nproc: the kernel's RLIMIT_NPROC (``ProcessCounter.budget``); default ``limits.processes``.
    """
    uid, gid = ids or sandbox_ids()
    # SIGINT is how Jupyter interrupts a kernel, sent to its whole process group: the bwrap processes ignore it
    # (and pass that on), the kernel sets its own handler. SIGHUP (the instructor's terminal closed) is ignored too:
    # the grader stops its kernels itself, and a kernel dying of it first could be graded as an error
    ignore_interrupt = ["sh", "-c", 'trap "" INT HUP; exec "$@"', "sh"]
    argv = [CONNECTION_FILE if arg == os.fspath(connection_file) else arg for arg in argv]
    view = _view(helpers_dir, helpers_source, inputs, connection_file, identity_files(work, uid, gid), mpl_cache)
    view = [str(limits.disk_mb * 2**20) if a == "{disk_bytes}" else a for a in view]
    namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                  "--hostname", "sandbox", "--die-with-parent"]
    limited = ["prlimit", f"--nproc={nproc or limits.processes}", f"--as={limits.memory_mb * 2**20}",
               f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 10}", "--"]
    unprivileged = ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(gid), "--cap-drop", "ALL"]
    tail = ["--chdir", RUN_DIR, "--"] + limited + list(argv)
    if os.geteuid() != 0:
        return (ignore_interrupt + [bwrap()] + namespaces + unprivileged + view
                + _environment(Path(sys.executable).parent) + tail)
    drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    second = [bwrap(), "--bind", "/", "/", "--die-with-parent"] + unprivileged + tail
    return (ignore_interrupt + [bwrap()] + namespaces
            + ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            + view + _environment(Path(sys.executable).parent) + ["--"] + drop + second)


PIDS_CGROUPS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")  # cgroup v1's pids controller, or v2's unified tree


STALE_CGROUP_SECONDS = 3600


def _remove_stale(folder):
    """Removes the empty kernel cgroups in ``folder`` older than an hour: those of graders that were killed before
    they could remove their own (a cgroup with a process in it cannot be removed)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        try:
            if time.time() - entry.stat().st_mtime > STALE_CGROUP_SECONDS:
                entry.rmdir()
        except OSError:
            continue


class ProcessCounter:
    """Caps the processes and threads of one kernel's sandbox and tells afterwards whether it reached the cap.

    As root, where the grader may make one, a pids cgroup of its own caps the whole sandbox and remembers how often
    it refused a fork, also after a fork loop has killed the kernel. Elsewhere (``path`` is None: a normal user)
    the kernel's RLIMIT_NPROC alone caps them (``budget``).
    """

    def __init__(self, limit):
        self.limit, self.path, self._nproc = limit, None, limit
        for root in PIDS_CGROUPS:
            if os.geteuid() != 0 or not os.path.exists(f"{root}/cgroup.procs"):
                continue
            try:
                path = Path(root, "autograder", secrets.token_hex(8))
                _remove_stale(path.parent)
                path.mkdir(parents=True)
                (path / "pids.max").write_text(str(limit))
                self.path = path
                return
            except OSError:
                continue

    def budget(self, uid):
        """The RLIMIT_NPROC to give a kernel run as ``uid``. Under a cgroup, a margin above the limit, so that the
        cgroup refuses first and counts the refusal. Otherwise the limit itself where RLIMIT_NPROC counts the tasks
        of the sandbox's own user namespace (Linux 5.14 and later); before, it counted every task of the uid on
        the machine, and a normal user's other processes are added."""
        if self.path is not None:
            self._nproc = self.limit + 16
        elif os.geteuid() != 0 and not nproc_counts_per_namespace():
            self._nproc = self.limit + _tasks_of(uid)
        return self._nproc

    def reached(self, sandbox_pid, uid):
        """Whether the kernel started as process ``sandbox_pid`` (its outermost one on the host) met its cap: the
        cgroup refused a fork, or (RLIMIT_NPROC alone) the tasks that the limit counts fill the budget now."""
        if self.path is not None:
            return self.refused() > 0
        if nproc_counts_per_namespace():  # the sandbox's tasks, plus the few outside its namespace (bwrap, setpriv)
            return _tasks_under(sandbox_pid) >= self._nproc
        return _tasks_of(uid) >= self._nproc

    def wrap(self, argv):
        """``argv`` started inside the cgroup (it joins, then execs)."""
        if self.path is None:
            return argv
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', os.fspath(self.path)] + list(argv)

    def refused(self):
        try:
            return int((self.path / "pids.events").read_text().split()[1]) if self.path else 0
        except (OSError, ValueError, IndexError):
            return 0

    def remove(self, wait=5.0):
        """Removes the cgroup once its last process has gone (waiting up to ``wait`` seconds for that)."""
        deadline = time.monotonic() + wait
        while self.path is not None:
            try:
                self.path.rmdir()
                self.path = None
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.005)


def nproc_counts_per_namespace(release=None):
    """Whether this Linux counts RLIMIT_NPROC per user namespace (5.14 and later, "ucounts"): a sandbox's limit
    then counts only the sandbox's own processes and threads, not the rest of the uid's."""
    version = re.match(r"(\d+)\.(\d+)", release or os.uname().release)
    return version is not None and (int(version[1]), int(version[2])) >= (5, 14)


def descendants(pid):
    """Host pids of every descendant of ``pid``, parents before children."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    order, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        for child in children.get(current, []):
            order.append(child)
            queue.append(child)
    return order


def _tasks_under(pid):
    """How many processes and threads the process ``pid`` and its descendants run now."""
    count = 0
    for each in [pid] + descendants(pid):
        try:
            with open(f"/proc/{each}/status") as f:
                count += int(next(line for line in f if line.startswith("Threads:")).split()[1])
        except (OSError, ValueError, StopIteration):
            continue
    return count


def _tasks_of(uid):
    """How many processes and threads the user ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, ValueError, KeyError):
            continue
    return count


def check_available(helpers_dir):
    """Starts a sealed Python once; raises SandboxError with the reason and what to do when it cannot start."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as tmp:
        os.chmod(tmp, 0o711)
        connection = Path(tmp) / "connection.json"
        connection.write_text("{}")
        os.chmod(connection, 0o644)
        argv = command([sys.executable, "-c", "import helpers"], helpers_dir=helpers_dir,
                       helpers_source=helpers_dir, inputs=[], connection_file=connection, work=tmp)
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        raise SandboxError(f"bubblewrap could not start a sealed kernel ({detail}). Check that bubblewrap is "
                           f"installed ({INSTALL_HINT}), that user namespaces are allowed, and, when grading as "
                           f"root, that the course and its Python environment are readable by other users "
                           f"(chmod o+rX)")
