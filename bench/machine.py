"""What a benchmark ran on: the processor and NumPy's BLAS kernel, recorded in every result.

The virtual machines here all call themselves "AMD EPYC", but they are not one processor: one with AVX-512
(OpenBLAS's SkylakeX kernel) multiplied float32 matrices at 400 GFLOP/s on 2 cores, one without (Haswell kernel,
AMD family 25 model 1) at 190, its hardware's peak. The family, model and AVX-512 tell them apart.
"""
import platform
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def cpu(cpuinfo="/proc/cpuinfo"):
    """{"name", "family", "model", "avx512"} of the first processor in ``cpuinfo`` (Linux); the name alone
    elsewhere."""
    try:
        with open(cpuinfo) as f:
            first = f.read().split("\n\n")[0]
    except OSError:
        return {"name": platform.processor() or platform.machine()}
    fields = dict((key.strip(), value.strip()) for key, _, value in
                  (line.partition(":") for line in first.splitlines()))
    return {"name": fields.get("model name", platform.machine()), "family": fields.get("cpu family"),
            "model": fields.get("model"), "avx512": "avx512f" in fields.get("flags", "").split()}


def blas_info():
    """NumPy's BLAS: library, version, threads and, with threadpoolctl, the kernel OpenBLAS chose."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return {"library": blas.get("name"), "version": blas.get("version"),
                "kernel": "unknown (pip install threadpoolctl to see it)", "threads": None}
    blas = next(i for i in threadpool_info() if i["user_api"] == "blas")
    return {"library": blas["internal_api"], "version": blas["version"], "kernel": blas.get("architecture"),
            "threads": blas["num_threads"]}


def describe(processor):
    """One line for cpu()'s dict: "AMD EPYC (family 25, model 1, no AVX-512)"."""
    if processor.get("family") is None:
        return processor["name"]
    vectors = "AVX-512" if processor["avx512"] else "no AVX-512"
    return f"{processor['name']} (family {processor['family']}, model {processor['model']}, {vectors})"


def code_version(root=ROOT):
    """{"commit", "edited"}: the checkout's commit and whether the code in ``helpers/`` or ``bench/`` differs from it
    (results in ``bench/results/`` do not count), so that a result names the code it measured; {"commit": None, ...}
    outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    try:
        head = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--", "helpers", "bench", ":(exclude)bench/results")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "edited": None}
    if head.returncode != 0:
        return {"commit": None, "edited": None}
    return {"commit": head.stdout.strip(), "edited": bool(changes.stdout.strip())}
