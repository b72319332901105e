"""NumPy or CuPy: which array module an operation runs on.

The kernels run on the module their inputs come from (``array_module(x)``): NumPy arrays stay on the CPU, CuPy
arrays stay on the GPU. CuPy is optional (``pip install .[gpu]``); without it everything is NumPy.
"""
import numpy as np

try:
    import cupy
except ImportError:  # the usual case: no GPU
    cupy = None


def array_module(*arrays):
    """``cupy`` if any of ``arrays`` is a CuPy array, else ``numpy``."""
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np

