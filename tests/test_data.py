"""helpers.data reads CIFAR-10 from a tarball, a folder or its download cache, and says clearly what is missing."""
import hashlib
import http.server
import os
import pickle
import re
import socket
import tarfile
import threading
from types import SimpleNamespace

import numpy as np
import pytest

import helpers.data as data_module
from cifar_fixture import cifar_members, make_tiny_cifar, write_folder, write_tarball
from helpers.data import (CLASSES, FOLDER, TARBALL, URL, download, load_cifar10, load_sample_images, read_batch,
                          stratified_subset)

FULL_COPY = os.environ.get("CIFAR10_PATH")  # read before the fixture below clears it for every test


@pytest.fixture(autouse=True)
def nothing_configured(tmp_path, monkeypatch):
    """Every test starts without CIFAR10_PATH, with an empty cache folder of its own, and no proxy for 127.0.0.1."""
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1")


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


# --- load_cifar10, stratified_subset and download, on a tiny copy the tests write themselves (tests/cifar_fixture.py)

@pytest.fixture()
def tiny(tmp_path):
    """40 training images (4 per class, 8 per batch) and 20 test images, as folder and tarball in one folder."""
    return make_tiny_cifar(tmp_path / "copy")


def cached_files(tmp_path):
    cache = tmp_path / "cache"
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_folder_tarball_and_cifar10_path_give_the_same_data(tiny, monkeypatch):
    data = load_cifar10(tiny.folder, normalize=False)
    assert data.x_train.shape == (40, 3, 32, 32) and data.x_test.shape == (20, 3, 32, 32)
    assert data.y_train.dtype == np.int64 and data.classes == CLASSES and len(CLASSES) == 10
    assert np.array_equal(data.y_train, tiny.y_train) and np.array_equal(data.y_test, tiny.y_test)
    assert np.allclose(data.x_train, tiny.x_train / 255, rtol=0, atol=1e-6)
    assert np.allclose(data.x_test, tiny.x_test / 255, rtol=0, atol=1e-6)
    monkeypatch.setenv("CIFAR10_PATH", str(tiny.root / "elsewhere"))
    for source in (tiny.tarball, str(tiny.root), tiny.folder):  # path= wins over CIFAR10_PATH
        other = load_cifar10(source, normalize=False)
        assert np.array_equal(other.x_train, data.x_train) and np.array_equal(other.y_test, data.y_test)
    monkeypatch.setenv("CIFAR10_PATH", str(tiny.tarball))
    assert np.array_equal(load_cifar10(normalize=False).x_test, data.x_test)


def test_normalisation_uses_the_training_statistics(tiny):
    data = load_cifar10(tiny.tarball)
    pixels = tiny.x_train / 255
    assert np.allclose(data.mean, pixels.mean(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    assert np.allclose(data.std, pixels.std(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    assert abs(data.mean[1] - data.mean[2]) > 0.1  # the fixture's channels differ, so per channel matters
    assert data.x_train.dtype == np.float32 and data.x_test.dtype == np.float32
    assert np.allclose(data.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert np.allclose(data.x_train.std(axis=(0, 2, 3)), 1, atol=1e-5)
    expected_test = (tiny.x_test / 255 - data.mean[:, None, None]) / data.std[:, None, None]
    assert np.allclose(data.x_test, expected_test, rtol=0, atol=1e-5)
    assert not np.allclose(data.x_test.mean(axis=(0, 2, 3)), 0, atol=1e-5)  # test images: the training stats
    back = data.x_train * data.std[:, None, None] + data.mean[:, None, None]
    assert np.allclose(back, pixels, rtol=0, atol=1e-6)
    wide = load_cifar10(tiny.tarball, dtype=np.float64)
    assert wide.x_train.dtype == np.float64 and np.allclose(wide.x_train, data.x_train, rtol=0, atol=1e-5)
    raw = load_cifar10(tiny.tarball, normalize=False)
    assert np.array_equal(raw.mean, np.zeros(3)) and np.array_equal(raw.std, np.ones(3))


def test_statistics_come_from_the_subset_returned(tiny):
    data = load_cifar10(tiny.folder, subset=10, seed=5)
    chosen = tiny.x_train[stratified_subset(tiny.y_train, 10, seed=5)] / 255
    assert np.allclose(data.mean, chosen.mean(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    assert np.allclose(data.std, chosen.std(axis=(0, 2, 3)), rtol=0, atol=1e-12)


def test_dtype_must_be_floating_point(tiny):
    with pytest.raises(TypeError, match="dtype must be a floating-point type"):
        load_cifar10(tiny.folder, dtype=np.uint8)


def test_repr_is_one_short_line(tiny):
    text = repr(load_cifar10(tiny.folder))
    assert text.startswith("Cifar10(train 40, test 20, images (3, 32, 32) float32, mean (")
    assert "\n" not in text and len(text) < 150


def test_stratified_subset_is_balanced_and_deterministic():
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 7))
    picked = stratified_subset(labels, 30, seed=3)
    assert picked.dtype == np.int64 and np.array_equal(picked, np.unique(picked))  # sorted, no repeats
    assert np.array_equal(np.bincount(labels[picked], minlength=10), np.full(10, 3))
    assert np.array_equal(stratified_subset(labels, 30, seed=3), picked)
    assert not np.array_equal(stratified_subset(labels, 30, seed=4), picked)
    uneven = np.bincount(labels[stratified_subset(labels, 25, seed=3)], minlength=10)
    assert sorted(uneven) == [2] * 5 + [3] * 5
    assert np.array_equal(stratified_subset(labels, 70), np.arange(70))


@pytest.mark.parametrize("labels, n, error, message", [
    (np.repeat(np.arange(10), 7), 71, ValueError, "subset of 71 is more than the 70"),
    (np.repeat(np.arange(10), 7), 0, ValueError, "n must be at least 1"),
    (np.repeat(np.arange(10), 7), 2.5, TypeError, "n must be a whole number"),
    (np.repeat(np.arange(10), 7), True, TypeError, "n must be a whole number"),
    ([0] * 10 + [1] * 2, 6, ValueError, "needs 3 items of class 1, which has only 2"),
    (np.zeros((4, 2), int), 2, TypeError, "1-D array of integers"),
    ([0.0, 1.0], 2, TypeError, "1-D array of integers"),
])
def test_stratified_subset_rejects(labels, n, error, message):
    with pytest.raises(error, match=re.escape(message)):
        stratified_subset(labels, n)


def test_subsets_take_an_equal_share_per_class(tiny):
    data = load_cifar10(tiny.tarball, subset=20, test_subset=10, normalize=False, seed=1)
    assert np.array_equal(np.bincount(data.y_train, minlength=10), np.full(10, 2))
    assert np.array_equal(np.bincount(data.y_test, minlength=10), np.full(10, 1))
    keep = stratified_subset(tiny.y_train, 20, seed=1)
    assert np.array_equal(data.y_train, tiny.y_train[keep])
    assert np.allclose(data.x_train, tiny.x_train[keep] / 255, rtol=0, atol=1e-6)
    again = load_cifar10(tiny.folder, subset=20, test_subset=10, normalize=False, seed=1)
    assert np.array_equal(again.x_train, data.x_train) and np.array_equal(again.x_test, data.x_test)
    other = load_cifar10(tiny.folder, subset=20, normalize=False, seed=2)
    assert not np.array_equal(other.x_train, data.x_train) and len(other.x_test) == 20


@pytest.mark.parametrize("kwargs, error, message", [
    ({"subset": 41}, ValueError, "subset of 41 is more than the 40"),
    ({"subset": 0}, ValueError, "subset must be at least 1"),
    ({"test_subset": "10"}, TypeError, "test_subset must be a whole number"),
])
def test_bad_subsets_are_named(tiny, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        load_cifar10(tiny.folder, **kwargs)


def assert_says_how_to_fix(message, where):
    for part in (str(where), TARBALL, "CIFAR10_PATH", "download=True"):
        assert part in message, f"{part!r} missing from: {message}"


def test_nothing_configured_says_every_way_to_provide_a_copy(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load_cifar10()
    assert_says_how_to_fix(str(caught.value), tmp_path / "cache")
    assert URL in str(caught.value)


def test_a_named_place_without_a_copy_is_an_error_even_with_download(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as caught:
        load_cifar10(tmp_path, download=True)
    assert_says_how_to_fix(str(caught.value), tmp_path)
    monkeypatch.setenv("CIFAR10_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="given by CIFAR10_PATH") as caught:
        load_cifar10(download=True)
    assert_says_how_to_fix(str(caught.value), tmp_path / "nowhere")
    assert cached_files(tmp_path) == []


def damaged_batch(members, data=None, labels=None):
    """members with data_batch_2 rebuilt from ``data`` / ``labels`` (defaults: 8 valid images and labels)."""
    data = np.zeros((8, 3072), np.uint8) if data is None else data
    labels = list(range(8)) if labels is None else labels
    return {**members, "data_batch_2": pickle.dumps({b"data": data, b"labels": labels}, protocol=2)}


DAMAGE = {  # name: (layout, damage to the members, expected error, words the message must hold)
    "missing batch in a folder": ("folder", lambda m: {k: v for k, v in m.items() if k != "data_batch_3"},
                                  FileNotFoundError, "lacks data_batch_3"),
    "missing member in a tarball": ("tarball", lambda m: {k: v for k, v in m.items() if k != "data_batch_4"},
                                    ValueError, "lacks cifar-10-batches-py/data_batch_4"),
    "not a pickle": ("folder", lambda m: {**m, "test_batch": b"not a pickle"}, ValueError,
                     "readable CIFAR-10 batch 'test_batch'"),
    "not a dict": ("tarball", lambda m: {**m, "test_batch": pickle.dumps([1, 2])}, ValueError,
                   "readable CIFAR-10 batch 'test_batch'"),
    "wrong image size": ("folder", lambda m: damaged_batch(m, data=np.zeros((8, 1024), np.uint8)), ValueError,
                         "expected uint8 (N, 3072)"),
    "float pixels": ("tarball", lambda m: damaged_batch(m, data=np.zeros((8, 3072))), ValueError,
                     "expected uint8 (N, 3072)"),
    "too few labels": ("folder", lambda m: damaged_batch(m, labels=[0, 1]), ValueError, "and N labels"),
    "label out of range": ("folder", lambda m: damaged_batch(m, labels=[10] * 8), ValueError,
                           "labels outside 0..9"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_copies_get_a_clear_error(tmp_path, case):
    layout, damage, error, words = DAMAGE[case]
    members, _ = cifar_members()
    if layout == "folder":
        where = write_folder(tmp_path / FOLDER, damage(members))
    else:
        where = write_tarball(tmp_path / TARBALL, damage(members))
    with pytest.raises(error, match=re.escape(words)) as caught:
        load_cifar10(where)
    assert_says_how_to_fix(str(caught.value), where)


@pytest.mark.parametrize("keep", [0.5, 0.01])
def test_truncated_or_foreign_tarball_is_reported(tiny, tmp_path, keep):
    broken = tmp_path / "broken" / TARBALL
    broken.parent.mkdir()
    raw = tiny.tarball.read_bytes()
    broken.write_bytes(raw[:int(len(raw) * keep)])
    with pytest.raises(ValueError, match="not a readable cifar-10-python.tar.gz, truncated or corrupt") as caught:
        load_cifar10(broken.parent)
    assert_says_how_to_fix(str(caught.value), broken)


def test_a_batch_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")

    members, _ = cifar_members()
    where = write_folder(tmp_path / FOLDER, {**members, "test_batch": pickle.dumps({b"data": Payload()}, protocol=2)})
    with pytest.raises(ValueError, match=r"\.open has no place in a CIFAR-10 batch"):
        load_cifar10(where)
    assert not marker.exists()


def test_read_batch_names_the_batches():
    with pytest.raises(ValueError, match="name must be one of data_batch_1, .*test_batch; got 'data_batch_6'"):
        read_batch("data_batch_6")


# --- download: a local HTTP server stands in for the official site


@pytest.fixture()
def site(tiny, monkeypatch):
    """Serves the tiny tarball on 127.0.0.1 as the official URL with its md5; ``site.body`` and ``site.announce``
    (Content-Length, default the body's length) can be changed, ``site.requests`` counts the GETs."""
    site = SimpleNamespace(body=tiny.tarball.read_bytes(), announce=None, requests=0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            site.requests += 1
            self.send_response(200)
            self.send_header("Content-Length", str(site.announce or len(site.body)))
            self.end_headers()
            self.wfile.write(site.body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setattr(data_module, "URL", f"http://127.0.0.1:{server.server_port}/{TARBALL}")
    monkeypatch.setattr(data_module, "MD5", hashlib.md5(site.body).hexdigest())
    yield site
    server.shutdown()
    server.server_close()


def test_download_fills_the_cache_once(tiny, site, tmp_path):
    data = load_cifar10(download=True, normalize=False)
    assert np.array_equal(data.y_train, tiny.y_train) and np.array_equal(data.y_test, tiny.y_test)
    assert cached_files(tmp_path) == [TARBALL] and site.requests == 1
    assert (tmp_path / "cache" / TARBALL).read_bytes() == site.body
    assert np.array_equal(load_cifar10(normalize=False).x_train, data.x_train)  # from the cache, no download
    assert download() == tmp_path / "cache" / TARBALL and site.requests == 1
    assert download(cache_dir=tmp_path / "other", progress=False) == tmp_path / "other" / TARBALL
    assert site.requests == 2


def test_download_with_the_wrong_md5_keeps_nothing(site, tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "MD5", "0" * 32)
    with pytest.raises(ValueError, match=f"has md5 {hashlib.md5(site.body).hexdigest()}, expected 0{{32}}") as caught:
        load_cifar10(download=True)
    assert "CIFAR10_PATH" in str(caught.value) and str(tmp_path / "cache") in str(caught.value)
    assert cached_files(tmp_path) == []


def test_truncated_download_keeps_nothing(site, tmp_path):
    site.announce, site.body = len(site.body), site.body[:len(site.body) // 2]
    with pytest.raises(ValueError, match=f"truncated: {len(site.body)} of {site.announce} bytes") as caught:
        download(progress=False)
    assert "CIFAR10_PATH" in str(caught.value)
    assert cached_files(tmp_path) == []


def test_unreachable_site_says_what_to_do_instead(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(data_module, "URL", f"http://127.0.0.1:{port}/{TARBALL}")
    with pytest.raises(ConnectionError, match="could not download") as caught:
        load_cifar10(download=True)
    assert "CIFAR10_PATH" in str(caught.value) and TARBALL in str(caught.value)
    assert cached_files(tmp_path) == []


# --- a full copy, when one is configured (e.g. CIFAR10_PATH=/work/shared/data on the course machines)


@pytest.mark.skipif(not FULL_COPY, reason="CIFAR10_PATH not set: no full CIFAR-10 copy to check")
def test_full_copy_has_the_official_shape():
    data = load_cifar10(FULL_COPY)
    assert data.x_train.shape == (50000, 3, 32, 32) and data.x_test.shape == (10000, 3, 32, 32)
    assert data.x_train.dtype == np.float32
    assert np.array_equal(np.bincount(data.y_train), np.full(10, 5000))
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 1000))
    assert np.allclose(data.mean, [0.4914, 0.4822, 0.4465], atol=0.005)  # published CIFAR-10 statistics
    assert np.allclose(data.std, [0.2470, 0.2435, 0.2616], atol=0.005)
