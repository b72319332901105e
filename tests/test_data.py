"""helpers.data reads CIFAR-10 batches from a tarball or a folder, and says clearly what is missing."""
import pickle
import tarfile

import numpy as np
import pytest

from helpers.data import FOLDER, load_sample_images, read_batch


@pytest.fixture()
def tiny_cifar(tmp_path):
    """A CIFAR-format copy with 4 test images, as a folder and as a tarball."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
    folder = tmp_path / FOLDER
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": data, b"labels": [3, 1, 4, 1], b"batch_label": b"testing batch"}, f)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname=FOLDER)
    return tmp_path, data


def test_reads_folder_and_tarball_alike(tiny_cifar, monkeypatch):
    root, data = tiny_cifar
    images, labels = read_batch("test_batch", root / FOLDER)
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.uint8 and list(labels) == [3, 1, 4, 1]
    assert np.array_equal(images[1, 0].ravel(), data[1, :1024])  # the red plane comes first
    monkeypatch.setenv("CIFAR10_PATH", str(root / "cifar-10-python.tar.gz"))
    assert np.array_equal(load_sample_images(2), images[:2])


def test_missing_copy_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    with pytest.raises(FileNotFoundError, match="CIFAR10_PATH"):
        load_sample_images()
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        load_sample_images(path=tmp_path)


def test_corrupt_batch_is_reported(tmp_path):
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="readable CIFAR-10 batch"):
        read_batch("test_batch", tmp_path)
