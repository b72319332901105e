"""The kernel sandbox hides the grader's files, keeps the run folder, and contains processes."""
import subprocess
import sys

import pytest

from autograder.sandbox import SandboxError, check_available


def run_sandboxed(args, script):
    return subprocess.run([sys.executable, "-m", "autograder.sandbox", *args, "--", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture()
def secret_tree(tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "gradebook.db").write_text("scores")
    (tmp_path / "private" / "run").mkdir()
    (tmp_path / "private" / "run" / "notebook.ipynb").write_text("{}")
    (tmp_path / "hidden_file.txt").write_text("secret")
    return tmp_path


def test_sandbox_is_available_here():
    try:
        check_available()
    except SandboxError as exc:
        pytest.fail(f"the grading machine must support the sandbox: {exc}")


def test_hidden_paths_are_gone_and_kept_paths_work(secret_tree):
    private = secret_tree / "private"
    script = f"""
import os
print(sorted(os.listdir({str(private)!r})))
print(open({str(private / 'run' / 'notebook.ipynb')!r}).read())
open({str(private / 'run' / 'out.txt')!r}, 'w').write('written')
for path in [{str(private / 'gradebook.db')!r}, {str(secret_tree / 'hidden_file.txt')!r}]:
    print(path, repr(open(path).read()) if os.path.exists(path) else 'absent')
try:
    open({str(private / 'planted.db')!r}, 'w').write('x')
    print('WRITABLE')
except OSError as exc:
    print('read-only', exc.errno)
"""
    result = run_sandboxed(["--hide", str(private), "--hide", str(secret_tree / "hidden_file.txt"),
                            "--keep", str(private / "run")], script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['run']" and lines[1] == "{}"
    assert lines[2].endswith("absent") and lines[3].endswith("''")
    assert lines[4].startswith("read-only")
    assert (private / "run" / "out.txt").read_text() == "written"  # the run folder is the real one
    assert (private / "gradebook.db").read_text() == "scores" and not (private / "planted.db").exists()


def test_kernel_is_pid_one_and_sees_no_grader_process():
    result = run_sandboxed([], "import os; print(os.getpid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    pid, visible = result.stdout.split(" ", 1)
    assert pid == "1" and visible.strip() == "[1]", result.stdout


def test_children_die_with_the_kernel():
    script = "import subprocess; subprocess.Popen(['sleep', '1000']); print('started')"
    result = run_sandboxed([], script)
    assert result.stdout.strip() == "started"
    left = subprocess.run(["pgrep", "-f", "sleep 1000"], capture_output=True, text=True).stdout.split()
    assert not left, "a process forked in the sandbox outlived its kernel"


def test_memory_limit(tmp_path):
    result = run_sandboxed(["--mem-mb", "512"], "b = bytearray(2 * 1024**3)")
    assert result.returncode != 0 and "MemoryError" in result.stderr
