"""Kernels for grading: nbgrader's Execute preprocessor with every kernel sealed by ``autograder.sandbox``.

The kernel has no network, so it talks to the grader over ZMQ's ``ipc`` transport: its sockets are files in the
sandbox's own ``/tmp``, which the grader reaches through ``/proc/<pid>/root`` of a process inside, once the
sockets exist and before any student code has run. After each code cell the results recorded so far are copied
out of the sandbox (``copy_results``), since the sandbox's files vanish with it.
"""
import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import DottedObjectName, Dict, Integer, Type, Unicode

from helpers.dataout import GRADER_OUT

from . import sandbox
from .demos import NOT_RUN, left_out
from .outcomes import HELD_AT_PROCESS_LIMIT

MAX_RESULT_BYTES = 64 * 2**20
LIMIT_MARK = "sandbox limit:"
SOCKET_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
RESCAN = 10  # polls (0.02 s apart) between two lookups of the sandbox's processes
EXIT_POLL = 0.005  # seconds between two looks whether a killed kernel has exited


# What a graded kernel runs as it starts (IPython's exec_lines, in a namespace of its own): matplotlib.pyplot is
# loaded when first used, not when imported (the standard library's LazyLoader). Every notebook imports it in its
# first cell, and with the demonstrations left out most submissions never draw: 0.19 s of CPU for each, about a
# tenth of what grading a notebook costs. A cell that draws loads it then, with the same backend and output.
LAZY_PYPLOT = """
import importlib.machinery, importlib.util, sys

class PyplotWhenUsed:
    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec

sys.meta_path.insert(0, PyplotWhenUsed())
"""
KERNEL_ARGUMENTS = [f"--IPKernelApp.exec_lines=exec({LAZY_PYPLOT!r}, {{}})"]


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel has answered ``kernel_info`` and IOPub carries its
    messages. jupyter_client's own then drains IOPub until it has been silent for 0.2 s: 0.2 s of an idle core
    for every submission, and nothing needs it, since nbclient reads only the IOPub messages of its own
    requests."""

    async def _async_wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
                if reply["msg_type"] == "kernel_info_reply":
                    await self.iopub_channel.get_msg(timeout=0.2)  # IOPub is connected
                    self._handle_kernel_info_reply(reply)
                    return
            except Empty:
                pass
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    wait_for_ready = _async_wait_for_ready  # AsyncKernelClient binds the name to its parent's function


class PromptKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, with a PromptKernelClient and a quicker look at a killed kernel: whether
    it has exited, every EXIT_POLL seconds (jupyter_client's every 0.1 s left a core idle for most of that)."""

    client_class = DottedObjectName("autograder.kernel.PromptKernelClient")
    client_factory = Type(PromptKernelClient, klass=AsyncKernelClient)  # what client() makes

    async def _async_wait(self, pollinterval=EXIT_POLL):
        await super()._async_wait(pollinterval=min(pollinterval, EXIT_POLL))


class SandboxKernelManager(PromptKernelManager):
    """A kernel manager whose kernels run sealed (``autograder.sandbox``)."""

    helpers_dir = Unicode(help="The course's helpers/ folder.").tag(config=True)
    helpers_source = Unicode(help="What the kernel sees at helpers_dir (a copy with answers switched off).").tag(
        config=True)
    processes = Integer(sandbox.Limits.processes, help="Processes and threads of one kernel.").tag(config=True)
    memory_mb = Integer(sandbox.Limits.memory_mb, help="Address space of each kernel process, MiB.").tag(config=True)
    cpu_seconds = Integer(sandbox.Limits.cpu_seconds, help="CPU time of each kernel process, s.").tag(config=True)
    disk_mb = Integer(sandbox.Limits.disk_mb, help="Files the kernel may write in all, MiB.").tag(config=True)
    mpl_cache = Unicode("", help="matplotlib's font cache file, lent read-only.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.ip = f"{sandbox.SOCKET_DIR}/kernel"
        self.sandbox_pid = None
        self.counter = self.ids = None

    @property
    def limits(self):
        return sandbox.Limits(self.processes, self.memory_mb, self.cpu_seconds, self.disk_mb)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        run_dir = Path(self._launch_args.get("cwd") or os.getcwd())
        inputs = [p for p in sorted(run_dir.iterdir()) if p.suffix != ".ipynb" and p.name != GRADER_OUT]
        # a private folder for what the sandbox binds in: passwd, group and a copy of the connection file that the
        # kernel's user may read (the original is the grader's, mode 0600)
        work = Path(tempfile.mkdtemp(prefix="sandbox-", dir=Path(self.connection_file).parent))
        connection = work / "connection.json"
        shutil.copyfile(self.connection_file, connection)
        os.chmod(connection, 0o644)
        argv = [os.fspath(connection) if arg == os.path.realpath(self.connection_file) else arg for arg in cmd]
        self.counter, self.ids = sandbox.ProcessCounter(self.processes), sandbox.sandbox_ids()
        return self.counter.wrap(sandbox.command(argv, helpers_dir=self.helpers_dir, helpers_source=self.helpers_source or
                               self.helpers_dir, inputs=inputs, connection_file=connection, work=work,
                               limits=self.limits, ids=self.ids, mpl_cache=self.mpl_cache or None,
                               nproc=self.counter.budget(self.ids[0])))

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # what the kernel prints on its own stdout and stderr (its banner; C libraries' messages) is not the
        # student's output, which travels over ZMQ: keep it out of the grader's terminal
        kw.update(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_post_start_kernel(self, **kw):
        self.sandbox_pid = await self._wait_for_sockets()
        self.ip = f"/proc/{self.sandbox_pid}/root{sandbox.SOCKET_DIR}/kernel"
        await super()._async_post_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if self.counter is not None:
            self.counter.remove()

    async def _wait_for_sockets(self):
        """The host pid of a process inside the sandbox once all the kernel's sockets exist there (the processes
        are looked up every RESCAN polls: a lookup reads all of /proc). The outermost such process is taken: it
        lives as long as the sandbox. A deeper one may be a short-lived child of the starting kernel, and a path
        through a pid that is gone leaves the kernel's channels unconnected (it happened about once in 50 kernels
        as a normal user: "Kernel didn't respond in 120 seconds")."""
        launched = self.provisioner.process
        names = [f"kernel-{getattr(self, name)}" for name in SOCKET_NAMES]
        deadline = time.monotonic() + 120
        polls, inside = 0, []
        while time.monotonic() < deadline:
            if launched.poll() is not None:
                raise RuntimeError(f"the sandboxed kernel exited at start (status {launched.returncode}); "
                                   "see the grader's log")
            if polls % RESCAN == 0:
                inside = sandbox.descendants(launched.pid)
            polls += 1
            for pid in inside:
                folder = f"/proc/{pid}/root{sandbox.SOCKET_DIR}"
                try:
                    if all(name in os.listdir(folder) for name in names):
                        return pid
                except OSError:
                    continue
            await asyncio.sleep(0.02)
        raise RuntimeError("the sandboxed kernel did not open its sockets within 120 s")

    def limit_reason(self):
        """Which sandbox limit explains a dead or unresponsive kernel, if one does, else None."""
        process = getattr(self.provisioner, "process", None)
        if process is None:
            return None
        if process.poll() == 128 + signal.SIGXCPU:
            return f"{LIMIT_MARK} the kernel used up its CPU time ({self.cpu_seconds} s per process) and was stopped"
        if self.counter is not None and self.counter.reached(process.pid, self.ids[0]):
            return f"{LIMIT_MARK} {HELD_AT_PROCESS_LIMIT} ({self.processes} processes and threads) and stopped answering"
        return None


def kill_children():
    """Kills the kernels this process started (each sandbox dies with its outer bwrap)."""
    for pid in sandbox.descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if argv and (Path(argv[0].decode()).name in ("bwrap", "sh") or b"ipykernel_launcher" in argv):
                os.kill(pid, signal.SIGKILL)
        except (OSError, UnicodeDecodeError):
            continue


RESULT_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.json$")


def copy_results(root_pid, dest_dir, seen):
    """Copies the results files of ``.grader_out/`` out of the sandbox of process ``root_pid`` into ``dest_dir``,
    those that changed since ``seen`` ({name: (size, mtime)}, updated) says.

    Every step below ``/proc/<pid>/root`` is opened without following links, so a link planted by the student
    cannot point the grader at one of its own files; only regular files of at most MAX_RESULT_BYTES are copied.
    """
    parts = [p for p in f"{sandbox.RUN_DIR}/{GRADER_OUT}".split("/") if p]
    fds = []
    try:
        fds.append(os.open(f"/proc/{root_pid}/root", os.O_RDONLY | os.O_DIRECTORY))
        for part in parts:
            fds.append(os.open(part, os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY, dir_fd=fds[-1]))
        for name in os.listdir(fds[-1]):
            if RESULT_NAME.match(name):
                _copy_one(fds[-1], name, Path(dest_dir, GRADER_OUT), seen)
    except OSError:
        pass
    finally:
        for fd in fds:
            os.close(fd)


def _copy_one(folder_fd, name, dest, seen):
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError:
        return
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        stamp = (st.st_size, st.st_mtime_ns)
        if st.st_mode & 0o170000 != 0o100000 or st.st_size > MAX_RESULT_BYTES or seen.get(name) == stamp:
            return
        data = f.read(MAX_RESULT_BYTES + 1)
    if len(data) <= MAX_RESULT_BYTES:
        dest.mkdir(exist_ok=True)
        (dest / name).write_bytes(data)
        seen[name] = stamp


class GradingExecute(Execute):
    """nbgrader's Execute preprocessor that leaves out the course's demonstrations where that changes nothing
    else (``autograder.demos``) and stops each kernel at once when the notebook is done: the kernel's files are
    thrown away with it, and its results are already out."""

    demo_cells = Dict(help="{cell id: source} of the course's demonstrations (``course.demo_cells``).").tag(
        config=True)
    _left_out = set()  # ids of this notebook's cells not run (``demos.left_out``)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("shutdown_kernel", "immediate")
        kwargs.setdefault("kernel_manager_class", PromptKernelManager)
        kwargs.setdefault("extra_arguments", list(KERNEL_ARGUMENTS))
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._left_out = left_out(nb.cells, self.demo_cells)
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.get("id") in self._left_out:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN)]
            cell.execution_count = None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


class SandboxedExecute(GradingExecute):
    """GradingExecute with every kernel sealed; after each code cell the results recorded so far are copied out,
    and a kernel that dies at a limit says which."""

    _copied = {}  # {results file: (size, mtime)} of this notebook's copies
    _limit_seen = None  # the limit this notebook's kernel was at when one of its cells ran out of time

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)

    def preprocess_cell(self, cell, resources, index):
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as exc:
            reason = (self.km.limit_reason() if self.km is not None else None) or self._limit_seen
            if reason:
                raise type(exc)(f"{reason}; {exc}") from exc
            raise
        if cell.cell_type == "code" and self.km.sandbox_pid:
            copy_results(self.km.sandbox_pid, resources["metadata"]["path"], self._copied)
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        """A cell past its time limit: the limit the kernel is at is read before nbclient interrupts it (the
        interrupt ends a fork loop, and with it all a normal user's grader can see of it: there is no cgroup that
        counted the refused forks) and named in the cell's timeout error, and in the notebook's error when the kernel
        then stops answering (its copies made by the loop share its sockets)."""
        reason = self.km.limit_reason() if self.km is not None else None
        self._limit_seen = reason or self._limit_seen
        reply = await super()._async_handle_timeout(timeout, cell)
        if reason and reply is not None:
            content = reply["content"]
            reply = {**reply, "content": {**content, "evalue": reason, "traceback": content["traceback"] + [reason]}}
        return reply

    def preprocess(self, nb, resources=None, km=None):
        self._copied, self._limit_seen = {}, None
        return super().preprocess(nb, resources, km)
