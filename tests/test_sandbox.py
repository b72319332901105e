"""The sandbox's command line, run directly: what a sealed Python sees and may do (the graded attacks are in
tests/test_grading.py and tests/test_attacks.py)."""
import json
import os
import subprocess
import sys

import pytest

from autograder.course import HELPERS, REPO_ROOT
from autograder.sandbox import RUN_DIR, Limits, SandboxError, check_available, command


def run_sealed(tmp_path, script, limits=Limits(), inputs=()):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    connection = work / "connection.json"
    connection.write_text("{}")
    connection.chmod(0o644)
    argv = command([sys.executable, "-c", script], helpers_dir=HELPERS, helpers_source=HELPERS, inputs=inputs,
                   connection_file=connection, work=work, limits=limits)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_sandbox_is_available_here():
    try:
        check_available(HELPERS)
    except SandboxError as exc:
        pytest.fail(f"the grading machine must support the sandbox: {exc}")


def test_only_the_allow_list_is_visible(tmp_path):
    given = tmp_path / "grader_inputs.json"
    given.write_text("{}")
    script = f"""
import json, os
seen = {{p: os.path.exists(p) for p in [{str(REPO_ROOT / 'autograder')!r}, {str(REPO_ROOT / 'solutions')!r},
        {str(REPO_ROOT / '.git')!r}, {str(tmp_path)!r}, {os.path.expanduser('~/.cache')!r}, '/etc/shadow',
        '/var', '/srv', {str(REPO_ROOT.parent / 'shared')!r}, {str(REPO_ROOT / 'README.md')!r}]}}
import helpers
print(json.dumps({{"seen": seen, "cwd": os.getcwd(), "files": os.listdir('.'), "helpers": helpers.__file__,
                  "root": sorted(os.listdir('/'))}}))
"""
    result = run_sealed(tmp_path, script, inputs=[given])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert not any(report["seen"].values()), report["seen"]
    assert report["cwd"] == RUN_DIR and sorted(report["files"]) == [".grader_out", "grader_inputs.json"]
    assert report["helpers"] == str(HELPERS / "__init__.py")
    assert set(report["root"]) <= {"usr", "bin", "lib", "lib32", "lib64", "libx32", "sbin", "etc", "proc", "dev",
                                   "tmp", "root", "home", "opt", "work", "srv", "var"} | {
        p.split("/")[1] for p in (sys.prefix, sys.base_prefix, str(HELPERS))}


def test_no_privilege_no_mounts_no_user_namespaces(tmp_path):
    script = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
status = open('/proc/self/status').read()
caps = [line.split()[1] for line in status.splitlines() if line.startswith(('CapEff', 'CapPrm', 'CapBnd'))]
nnp = [line.split()[1] for line in status.splitlines() if line.startswith('NoNewPrivs')]
mounts = [line.split()[4] for line in open('/proc/self/mountinfo')]
umounts = [libc.umount2(m.encode(), 2) for m in mounts]
remount = libc.mount(None, b'/usr', None, 32 | 1 | 4096, None)
userns = libc.unshare(0x10000000)
print(os.getuid(), caps, nnp, sorted(set(umounts)), remount, userns)
"""
    result = run_sealed(tmp_path, script)
    uid, rest = result.stdout.split(" ", 1)
    assert int(uid) != 0
    assert rest.strip() == "['0000000000000000', '0000000000000000', '0000000000000000'] ['1'] [-1] -1 -1", rest


def test_no_network_but_loopback(tmp_path):
    script = """
import socket
print([name for _, name in socket.if_nameindex()])
try:
    socket.create_connection(('1.1.1.1', 53), timeout=3)
    print('online')
except OSError as exc:
    print('offline', exc.errno)
"""
    result = run_sealed(tmp_path, script)
    names, online = result.stdout.splitlines()
    assert names == "['lo']" and online.startswith("offline"), result.stdout


def test_disk_process_and_memory_limits(tmp_path):
    script = """
import os, threading, time
try:
    with open('big', 'wb') as f:
        for _ in range(64):
            f.write(b'x' * 2**20)
    print('disk: no limit')
except OSError as exc:
    print('disk:', exc.errno)
os.remove('big')
threads = []
try:
    for _ in range(100):
        t = threading.Thread(target=time.sleep, args=(3,)); t.start(); threads.append(t)
    print('threads: no limit')
except RuntimeError as exc:
    print('threads:', len(threads))
try:
    bytearray(900 * 2**20)
    print('memory: no limit')
except MemoryError:
    print('memory: limited')
"""
    result = run_sealed(tmp_path, script, limits=Limits(processes=40, memory_mb=512, disk_mb=32))
    lines = result.stdout.splitlines()
    assert lines[0] == "disk: 28", lines
    assert lines[1].startswith("threads:") and int(lines[1].split()[1]) < 40, lines
    assert lines[2] == "memory: limited", lines


def test_environment_is_cleared(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "abc")
    result = run_sealed(tmp_path, "import os; print(sorted(os.environ))")
    assert "GRADER_SECRET_TOKEN" not in result.stdout and "HOME" in result.stdout


def test_children_die_with_the_kernel(tmp_path):
    script = "import subprocess; subprocess.Popen(['sleep', '1234']); print('started')"
    result = run_sealed(tmp_path, script)
    assert result.stdout.strip() == "started"
    left = subprocess.run(["pgrep", "-f", "sleep 1234"], capture_output=True, text=True).stdout.split()
    assert not left, "a process started in the sandbox outlived its kernel"


def test_cpu_time_limit_stops_a_spinning_process(tmp_path):
    result = run_sealed(tmp_path, "while True: pass", limits=Limits(cpu_seconds=1))
    assert result.returncode == 128 + 24  # SIGXCPU


@pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user the kernel runs as that user")
def test_as_root_each_kernel_gets_a_user_id_of_its_own(tmp_path):
    ids = {run_sealed(tmp_path, "import os; print(os.getuid())").stdout.strip() for _ in range(3)}
    assert len(ids) == 3 and "0" not in ids
