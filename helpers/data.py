"""CIFAR-10 in the official "python version" layout: downloaded once into a cache, or read from a local copy.

Where the data comes from, first match wins:

1. the ``path`` argument, else the ``CIFAR10_PATH`` environment variable. Either may name the official tarball
   ``cifar-10-python.tar.gz`` (read without extracting), the extracted ``cifar-10-batches-py`` folder, or a folder
   that holds either. A copy named there must be there: nothing is downloaded in its place.
2. the cache folder (``$CONVNETS_CACHE``, default ``~/.cache/convnets``), where ``download()`` puts the tarball.
3. with ``download=True``, the official tarball fetched into the cache (170 MB, progress bar, md5 checked before
   it is kept).

The md5 is checked only for what ``download`` fetches: a local copy is taken as it is (other copies, such as one
rebuilt from another source, have other checksums) and checked while it is read: gzip's own CRC, the batch
shapes and the labels. Each batch is a pickled dict with ``b'data'``, uint8 (N, 3072) laid out as R, G, B planes
of 32 x 32, and ``b'labels'``; unpickling admits only the NumPy arrays, lists and bytes such a batch holds.
"""
import hashlib
import http.client
import io
import os
import pickle
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

TARBALL = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
TRAIN_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
TEST_BATCH = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(eq=False, repr=False)
class Cifar10:
    """CIFAR-10 as arrays: images ``x_*`` (N, 3, 32, 32), labels ``y_*`` int64 (N,) indexing ``classes``.

    ``mean`` and ``std`` (3,) are the per-channel statistics, on the [0, 1] pixel scale, that the images were
    normalised with (zeros and ones when they were not): ``x * std[:, None, None] + mean[:, None, None]`` gives
    back pixels in [0, 1].
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    classes: tuple = CLASSES

    def __repr__(self):
        def triple(values):
            return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"
        return (f"Cifar10(train {len(self.x_train)}, test {len(self.x_test)}, images {self.x_train.shape[1:]} "
                f"{self.x_train.dtype}, mean {triple(self.mean)}, std {triple(self.std)})")


def _cache_folder():
    return Path(os.environ.get("CONVNETS_CACHE") or "~/.cache/convnets").expanduser()


def _hint():
    """What every 'no usable copy' message ends with: what is expected and the ways to provide it."""
    return (f"Expected the CIFAR-10 python version: {TARBALL} or its extracted {FOLDER}/ folder (data_batch_1..5 "
            f"and test_batch). Pass path=..., or set CIFAR10_PATH to that file or the folder holding it, or call "
            f"load_cifar10(download=True) to fetch it from {URL} into {_cache_folder()}.")


def _copy_in(given):
    """The tarball or batches folder that ``given`` is or holds, or None."""
    for candidate in (given, given / TARBALL, given / FOLDER):
        if candidate.is_file():
            return candidate
        if candidate.is_dir() and any((candidate / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
            return candidate
    return None


def _locate(path=None, fetch=False):
    """The tarball or folder to read: ``path``, else CIFAR10_PATH, else the cache, else (``fetch``) a download."""
    given = path or os.environ.get("CIFAR10_PATH")
    if given:
        where = _copy_in(Path(given).expanduser())
        if where is None:
            origin = "path" if path else "CIFAR10_PATH"
            raise FileNotFoundError(f"no CIFAR-10 at {given} (given by {origin}). {_hint()}")
        return where
    where = _copy_in(_cache_folder())
    if where is None and fetch:
        return download()
    if where is None:
        raise FileNotFoundError(f"no CIFAR-10 copy: no path given, CIFAR10_PATH not set, none in the cache "
                                f"{_cache_folder()}. {_hint()}")
    return where


def download(cache_dir=None, progress=True):
    """The path of the official tarball in ``cache_dir`` (default: the cache folder), downloaded if not there yet.

    The download streams into a ``.part`` file beside it, with a progress bar, and is renamed to
    ``cifar-10-python.tar.gz`` only when complete with the official md5; otherwise the part is deleted and
    ValueError (truncated, wrong md5) or ConnectionError (no connection) is raised. A tarball already in the
    cache is returned as it is: it was checked when downloaded, or put there by hand.
    """
    folder = Path(cache_dir).expanduser() if cache_dir else _cache_folder()
    target = folder / TARBALL
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    handle, part = tempfile.mkstemp(dir=folder, prefix=f"{TARBALL}.", suffix=".part")
    os.close(handle)
    part = Path(part)
    try:
        try:
            digest, received, announced = _stream(URL, part, progress)
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionError(f"could not download {URL} ({type(exc).__name__}: {exc}). Without internet, put "
                                  f"{TARBALL} in {folder}, or set CIFAR10_PATH to a copy.") from exc
        if announced is not None and received != announced:
            raise ValueError(f"download of {URL} truncated: {received} of {announced} bytes arrived; nothing was "
                             f"kept in {folder}. Try again, or put {TARBALL} there or set CIFAR10_PATH to a copy.")
        if digest != MD5:
            raise ValueError(f"download of {URL} has md5 {digest}, expected {MD5} (corrupted or changed on the "
                             f"server); nothing was kept in {folder}. Try again, or put {TARBALL} there or set "
                             f"CIFAR10_PATH to a copy.")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def _stream(url, part, progress):
    """Writes what ``url`` sends into ``part``; returns (md5 hex digest, bytes received, Content-Length or None)."""
    md5, received = hashlib.md5(), 0
    with urllib.request.urlopen(url, timeout=60) as response:
        length = response.headers.get("Content-Length")
        announced = int(length) if length else None
        with open(part, "wb") as out, tqdm(total=announced, unit="B", unit_scale=True, unit_divisor=1024,
                                           desc=TARBALL, disable=not progress) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                md5.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    return md5.hexdigest(), received, announced


def _read_members(where, names):
    """{name: bytes} of the batches ``names`` from a folder, or from a tarball in one pass; error if any is missing."""
    if where.is_dir():
        missing = [name for name in names if not (where / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{where} lacks {', '.join(missing)}. {_hint()}")
        return {name: (where / name).read_bytes() for name in names}
    found = {}
    try:
        with tarfile.open(where, mode="r|*", bufsize=1 << 20) as tar:  # a stream: members in order, read once
            for member in tar:
                folder, _, name = member.name.removeprefix("./").rpartition("/")
                if member.isfile() and folder == FOLDER and name in names:
                    found[name] = tar.extractfile(member).read()
                    if len(found) == len(names):
                        break
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise ValueError(f"{where} is not a readable {TARBALL}, truncated or corrupt? ({type(exc).__name__}: "
                         f"{exc}). {_hint()}") from exc
    missing = [f"{FOLDER}/{name}" for name in names if name not in found]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}: not the CIFAR-10 python version. {_hint()}")
    return found


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR-10 batch holds: no code named in the file runs."""
    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} has no place in a CIFAR-10 batch")
        return super().find_class(module, name)


def _parse_batch(raw, name, where):
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) from the pickled batch ``raw``; ValueError if damaged."""
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:  # a damaged pickle can fail in any way: say which batch, where
        raise ValueError(f"{where} does not hold a readable CIFAR-10 batch {name!r} ({type(exc).__name__}: {exc}). "
                         f"{_hint()}") from exc
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise ValueError(f"{name} in {where} has data {data.dtype} {data.shape} and {labels.shape} labels: expected "
                         f"uint8 (N, 3072) and N labels. {_hint()}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"{name} in {where} has labels outside 0..{len(CLASSES) - 1}. {_hint()}")
    return data.reshape(-1, 3, 32, 32), labels


def read_batch(name, path=None):
    """One batch (``"data_batch_1"`` ... ``"test_batch"``) as (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    if name not in (*TRAIN_BATCHES, TEST_BATCH):
        raise ValueError(f"name must be one of {', '.join((*TRAIN_BATCHES, TEST_BATCH))}; got {name!r}")
    where = _locate(path)
    return _parse_batch(_read_members(where, (name,))[name], name, where)


def load_sample_images(n=1, path=None):
    """The first ``n`` test images as uint8 (n, 3, 32, 32), for pictures; FileNotFoundError if no copy is found."""
    return read_batch(TEST_BATCH, path)[0][:n]


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number of images; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}")


def stratified_subset(labels, n, seed=0):
    """Sorted indices (int64) of ``n`` items of ``labels`` (1-D ints) with an equal share of every class.

    Each of the K classes present gets n // K items, drawn without replacement; the n % K left over go one each
    to classes picked at random. The same labels, n and seed always give the same indices.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be a 1-D array of integers; got {labels.dtype} {labels.shape}")
    _check_count(n, "n")
    if n > len(labels):
        raise ValueError(f"a subset of {n} is more than the {len(labels)} items there are")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = np.full(len(classes), n // len(classes))
    share[rng.permutation(len(classes))[: n % len(classes)]] += 1
    short = np.flatnonzero(share > counts)
    if short.size:
        k = short[0]
        raise ValueError(f"a stratified subset of {n} needs {share[k]} items of class {classes[k]}, which has only "
                         f"{counts[k]}")
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, share)]
    return np.sort(np.concatenate(picked))


def _channel_stats(images, chunk=1000):
    """Per-channel mean and std (ddof 0) of uint8 images (N, C, H, W) on the [0, 1] scale, from exact integer sums."""
    total, squares = np.zeros(images.shape[1], np.uint64), np.zeros(images.shape[1], np.uint64)
    for start in range(0, len(images), chunk):  # in chunks: a uint16 copy of all 50,000 images would be 300 MB
        part = images[start:start + chunk].astype(np.uint16)
        total += part.sum(axis=(0, 2, 3), dtype=np.uint64)
        part *= part  # 255 ** 2 still fits in uint16
        squares += part.sum(axis=(0, 2, 3), dtype=np.uint64)
    n = images[:, 0].size
    mean = total / (255 * n)
    std = np.sqrt([(int(s2) * n - int(s1) ** 2) / n ** 2 for s1, s2 in zip(total, squares)]) / 255  # Python ints
    std[std == 0] = 1.0  # a channel without variation is only centred
    return mean, std


def _scale(images, mean, std, dtype):
    """(images / 255 - mean) / std per channel, as ``dtype``."""
    out = images.astype(dtype)
    out *= (1 / (255 * std)).astype(dtype)[:, None, None]
    out -= (mean / std).astype(dtype)[:, None, None]
    return out


def load_cifar10(path=None, subset=None, test_subset=None, normalize=True, dtype=np.float32, download=False,
                 seed=0):
    """CIFAR-10 as a ``Cifar10``: images NCHW of ``dtype``, labels int64; see the module docstring for where from.

    ``subset`` / ``test_subset``: keep that many training / test images, an equal share per class
    (``stratified_subset`` with ``seed``). ``normalize``: subtract the per-channel mean and divide by the std,
    both measured on the training images returned (after ``subset``), from the test images too; otherwise the
    images are pixels / 255 in [0, 1]. ``download``: fetch the official tarball into the cache when no copy is
    found (never in place of a ``path`` or ``CIFAR10_PATH`` that names no copy).
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating-point type such as float32; got {dtype}")
    for value, name in ((subset, "subset"), (test_subset, "test_subset")):
        if value is not None:
            _check_count(value, name)
    where = _locate(path, fetch=download)
    raw = _read_members(where, (*TRAIN_BATCHES, TEST_BATCH))
    train = [_parse_batch(raw.pop(name), name, where) for name in TRAIN_BATCHES]
    x_train, y_train = np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])
    x_test, y_test = _parse_batch(raw.pop(TEST_BATCH), TEST_BATCH, where)
    if subset is not None:
        keep = stratified_subset(y_train, subset, seed)
        x_train, y_train = x_train[keep], y_train[keep]
    if test_subset is not None:
        keep = stratified_subset(y_test, test_subset, seed)
        x_test, y_test = x_test[keep], y_test[keep]
    mean, std = _channel_stats(x_train) if normalize else (np.zeros(3), np.ones(3))
    return Cifar10(_scale(x_train, mean, std, dtype), y_train, _scale(x_test, mean, std, dtype), y_test, mean, std)
