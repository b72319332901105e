"""CIFAR-10 in the official "python version" layout, read from a local copy.

Where the copy is: the ``path`` argument, else the ``CIFAR10_PATH`` environment variable; either may name the
official tarball ``cifar-10-python.tar.gz`` (read without extracting), the extracted ``cifar-10-batches-py``
folder, or a folder that holds either. Each batch is a pickled dict with ``b'data'``, uint8 (N, 3072) laid out
as R, G, B planes of 32 x 32, and ``b'labels'``.

(The full loader of issue 6, with download, md5 check, cache, normalisation and subsets, builds on this.)
"""
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

TARBALL = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"


def _where(path):
    """The tarball or batches folder that ``path`` (or CIFAR10_PATH) designates; FileNotFoundError if none."""
    given = path or os.environ.get("CIFAR10_PATH")
    if not given:
        raise FileNotFoundError("no CIFAR-10 copy configured: pass path=... or set CIFAR10_PATH to the folder "
                                f"holding {TARBALL} (or the extracted {FOLDER}/)")
    given = Path(given).expanduser()
    for candidate in (given, given / TARBALL, given / FOLDER):
        if candidate.is_file() and candidate.name.endswith((".tar.gz", ".tgz")):
            return candidate
        if candidate.is_dir() and (candidate / "test_batch").is_file():
            return candidate
    raise FileNotFoundError(f"no CIFAR-10 at {given}: expected {TARBALL} or a {FOLDER}/ folder with data_batch_1..5 "
                            "and test_batch there")


def read_batch(name, path=None):
    """One batch (``"data_batch_1"`` ... ``"test_batch"``) as (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    where = _where(path)
    try:
        if where.is_dir():
            raw = (where / name).read_bytes()
        else:
            with tarfile.open(where) as tar:
                raw = tar.extractfile(f"{FOLDER}/{name}").read()
        batch = pickle.load(io.BytesIO(raw), encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (OSError, KeyError, EOFError, pickle.UnpicklingError, tarfile.TarError, AttributeError) as exc:
        raise ValueError(f"{where} does not hold a readable CIFAR-10 batch {name!r} ({type(exc).__name__}: {exc}); "
                         f"download {TARBALL} again") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{name} in {where} has data of shape {data.shape}: expected (N, 3072) and N labels")
    return data.reshape(-1, 3, 32, 32), labels


def load_sample_images(n=1, path=None):
    """The first ``n`` test images as uint8 (n, 3, 32, 32), for pictures; FileNotFoundError if no copy is set."""
    return read_batch("test_batch", path)[0][:n]
