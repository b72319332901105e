"""The two-command contract: environment.yml matches pyproject.toml, CI runs `make test`, `make lab` serves."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pins_from_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[=<>!~ ]", d)[0].lower(): d.replace(" ", "") for d in deps}


def test_environment_yml_pins_match_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {re.split(r"[=<>!~ ]", d)[0].lower(): d.replace(" ", "") for d in pip if not d.startswith("-")}
    assert pins == _pins_from_pyproject()
    assert all("==" in pin for pin in pins.values()), "every dependency is pinned exactly"
    assert "-e ." in pip, "environment.yml installs the course package too"
    assert any(str(d).startswith("python=3.1") for d in env["dependencies"])


def test_pinned_versions_are_the_installed_ones():
    from importlib.metadata import version
    for name, pin in _pins_from_pyproject().items():
        assert version(name) == pin.split("==")[1], name


def test_ci_runs_make_test_and_nothing_else():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == "make test"
    others = [line for line in lines[:-1] if not line.startswith(("set ", "cd "))]
    assert all("apt-get install" in line and "bubblewrap" in line and "chromium" in line for line in others), \
        "before make test only set, cd and installing bubblewrap (the sandbox) and Chromium (the browser tests)"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_starts_jupyterlab(tmp_path):
    port, token = _free_port(), "course-test-token"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0"
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}", f"PYTHON={sys.executable}"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, body = time.time() + 120, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=5) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(1)
        assert body is not None, "JupyterLab did not answer: " + (proc.stdout.read().decode()[-2000:]
                                                                  if proc.poll() is not None else "still starting")
        assert "01_conv_arithmetic" in body, "JupyterLab should open on notebooks/"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
