"""`python -m autograder selftest`: solutions 100%, the blank release 0, for every assignment."""
import subprocess
import sys

from autograder.course import REPO_ROOT, assignments


def test_selftest_command():
    result = subprocess.run([sys.executable, "-m", "autograder", "selftest", "--jobs", "2"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "selftest passed" in result.stdout
    for name in assignments():
        assert f"solutions  {name}" in result.stdout and f"release    {name}" in result.stdout
        lines = [line.split() for line in result.stdout.splitlines() if name in line]
        assert {(line[0], line[4]) for line in lines} == {("solutions", "100.0%"), ("release", "0.0%")}
    # the written answers of 01, 04 and 05 (graded by hand) are listed as pending for the solutions, apart
    pending = {line.split()[1] for line in result.stdout.splitlines() if line.endswith("points pending")}
    assert pending == {"01_conv_arithmetic", "04_resnets", "05_training"}, result.stdout
    assert "cells graded by hand are pending" in result.stdout
