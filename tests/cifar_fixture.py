"""A tiny CIFAR-10 copy in the official layout, written by the tests themselves: no download, no shared data.

``cifar_members`` makes the pickled files of ``cifar-10-batches-py`` (protocol 2, as the official Python 2
pickles), ``write_folder`` and ``write_tarball`` lay them out, ``make_tiny_cifar`` does both in one folder. The
same arguments always give the same images and labels. The channels have different pixel ranges, so per-channel
statistics differ from channel to channel.
"""
import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-py"
TARBALL = "cifar-10-python.tar.gz"
LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
CHANNEL_RANGES = ((0, 256), (40, 200), (100, 256))  # low (inclusive), high (exclusive) pixel value per channel


@dataclass
class TinyCifar:
    """Where the copy is, and what it holds: images uint8 (N, 3, 32, 32) in file order, labels int64 (N,)."""
    root: Path
    folder: Path
    tarball: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _images_and_labels(rng, per_class):
    labels = rng.permutation(np.repeat(np.arange(10), per_class))
    images = np.stack([rng.integers(low, high, size=(len(labels), 32, 32), dtype=np.uint8)
                       for low, high in CHANNEL_RANGES], axis=1)
    return images, labels


def _batch(images, labels, label):
    return pickle.dumps({b"batch_label": label, b"labels": [int(y) for y in labels],
                         b"data": images.reshape(len(images), 3072),
                         b"filenames": [f"image_{i:05d}.png".encode() for i in range(len(images))]}, protocol=2)


def cifar_members(per_class_train=4, per_class_test=2, seed=0):
    """({file name: bytes} for data_batch_1..5, test_batch, batches.meta, (x_train, y_train, x_test, y_test)).

    ``per_class_train`` images per class in the whole training set, split in file order over the 5 batches.
    """
    rng = np.random.default_rng(seed)
    x_train, y_train = _images_and_labels(rng, per_class_train)
    x_test, y_test = _images_and_labels(rng, per_class_test)
    per_batch = len(x_train) // 5
    members = {f"data_batch_{i + 1}": _batch(x_train[i * per_batch:(i + 1) * per_batch],
                                             y_train[i * per_batch:(i + 1) * per_batch],
                                             f"training batch {i + 1} of 5".encode())
               for i in range(5)}
    members["test_batch"] = _batch(x_test, y_test, b"testing batch 1 of 1")
    members["batches.meta"] = pickle.dumps({b"num_cases_per_batch": per_batch, b"label_names": LABEL_NAMES,
                                            b"num_vis": 3072}, protocol=2)
    return members, (x_train, y_train, x_test, y_test)


def write_folder(folder, members):
    """Writes ``members`` ({name: bytes}) as files in ``folder`` (created); returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in members.items():
        (folder / name).write_bytes(raw)
    return folder


def write_tarball(path, members):
    """Writes ``members`` ({name: bytes}) into a gzipped tar under ``cifar-10-batches-py/``; returns ``path``."""
    with tarfile.open(path, "w:gz") as tar:
        directory = tarfile.TarInfo(FOLDER)
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        for name, raw in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size, info.mode = len(raw), 0o644
            tar.addfile(info, io.BytesIO(raw))
    return Path(path)


def make_tiny_cifar(root, per_class_train=4, per_class_test=2, seed=0):
    """The copy in ``root`` both as ``cifar-10-batches-py/`` and as ``cifar-10-python.tar.gz``: a TinyCifar."""
    root = Path(root)
    members, arrays = cifar_members(per_class_train, per_class_test, seed)
    folder = write_folder(root / FOLDER, members)
    tarball = write_tarball(root / TARBALL, members)
    return TinyCifar(root, folder, tarball, *arrays)
