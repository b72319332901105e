"""NumPy or CuPy: which array module the course's layers and training loop run on.

The device is chosen once, at import: ``CONVNETS_DEVICE=gpu`` asks for CuPy (and fails with a clear message
when it cannot have it), ``cpu`` forces NumPy, ``auto`` (the default) takes the GPU when CuPy is installed and
sees a CUDA device. CuPy is optional (``pip install .[gpu]``); without it everything is NumPy.

The kernels themselves run on whatever module their inputs come from (``array_module(x)``): NumPy arrays stay
on the CPU, CuPy arrays stay on the GPU. ``to_device`` moves data to the chosen device, ``to_numpy`` brings it
back for plotting and saving.

On Linux, importing this module also asks the C library to keep freed host memory for reuse
(``keep_freed_memory``): a training step frees and allocates the same large arrays again and again.
"""
import ctypes
import ctypes.util
import os

import numpy as np

try:
    import cupy
except ImportError:  # the usual case: no GPU
    cupy = None

CHOICES = ("auto", "cpu", "gpu")


def _gpu_count():
    if cupy is None:
        return 0
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy installed without a usable driver: treat as no GPU
        return 0


def _choose(requested):
    """'gpu' or 'cpu' for the value of CONVNETS_DEVICE; RuntimeError/ValueError when it cannot be honoured."""
    requested = (requested or "auto").strip().lower()
    if requested not in CHOICES:
        raise ValueError(f"CONVNETS_DEVICE must be one of {', '.join(CHOICES)}; got {requested!r}")
    if requested == "cpu":
        return "cpu"
    if _gpu_count() > 0:
        return "gpu"
    if requested == "gpu":
        why = "CuPy is not installed (pip install .[gpu])" if cupy is None else "CuPy sees no CUDA device"
        raise RuntimeError(f"CONVNETS_DEVICE=gpu but {why}; unset it or set CONVNETS_DEVICE=cpu")
    return "cpu"


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 * 2 ** 20  # glibc's largest; bigger arrays still come from and go back to the system
TRIM_THRESHOLD_BYTES = 2 ** 30


def keep_freed_memory():
    """Lets glibc keep freed memory for the next allocation instead of returning it to the system.

    By default glibc gives freed memory back to the operating system and asks for it again at the next
    allocation, which then pays a page fault for every 4 KB page it touches. A training step allocates and frees
    the same arrays on every step: measured on 2 cores (batch 128, medians of 15 steps), a LeNet-5 step took
    27 ms with glibc's defaults and 17 ms with freed memory kept; the peak resident memory of a step did not
    change. Arrays above 32 MB still go back at once. Nothing happens outside glibc (macOS, musl) or when the
    user set glibc's own MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_.

    Returns:
        True when glibc took the settings.
    """
    if {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & os.environ.keys():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # a fixed mmap threshold also stops glibc from adjusting the trim threshold by itself
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


keep_freed_memory()
DEVICE = _choose(os.environ.get("CONVNETS_DEVICE"))
xp = cupy if DEVICE == "gpu" else np


def array_module(*arrays):
    """``cupy`` if any of ``arrays`` is a CuPy array, else ``numpy``."""
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np


def to_device(a, dtype=None):
    """``a`` as an array of the chosen device (a no-op when it already is one), optionally cast to ``dtype``."""
    return xp.asarray(a, dtype=dtype)


def to_numpy(a):
    """``a`` as a NumPy array (copied from the GPU when it is a CuPy array)."""
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return np.asarray(a)


def describe():
    """One line naming the device, e.g. ``"CPU: NumPy 2.4.6"`` or ``"GPU: NVIDIA H100 80GB HBM3 (CuPy 14.2.0)"``."""
    if DEVICE == "gpu":
        name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"]
        name = name.decode() if isinstance(name, bytes) else name
        return f"GPU: {name} (CuPy {cupy.__version__})"
    return f"CPU: NumPy {np.__version__}"
