"""The LeNet-5 checkpoint handed in with assignment 05 (``lenet5.npz``): read strictly in the grader's own process
(no pickle, a size limit, exactly the expected entries, shapes and float dtypes checked in the .npy headers before
any data is read, finite values) and evaluated on the grader's 1,000 CIFAR-10 test images
(``cifar10_test_1000.npz`` beside this module: 100 per class from the official test batch, uint8, stratified with
seed 0)."""
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

TEST_IMAGES = Path(__file__).with_name("cifar10_test_1000.npz")
CHECKPOINT = "lenet5.npz"
MAX_CHECKPOINT_BYTES = 4 * 2**20  # LeNet-5 in float64 is 0.5 MB


def lenet_shapes():
    from helpers.models import lenet5
    return {**{k: v.shape for k, v in lenet5().state_dict().items()}, "mean": (3,), "std": (3,)}


def _npy_header(archive, member):
    """(shape, dtype) from the .npy header of ``member`` of an open zip, without reading its data (a header
    may promise any size: nothing is allocated before the shape has been checked); ValueError if unreadable."""
    with archive.open(member) as f:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    return shape, dtype


def load_checkpoint(path):
    """The arrays of a LeNet-5 checkpoint as float64, read strictly; ValueError saying what is wrong.

    Only a regular file (no link) of at most 4 MiB is read; it must be an .npz holding exactly LeNet-5's weights
    ("0.w" ... "11.b") and "mean", "std" (3,): float32 or float64 arrays of those shapes (checked in each .npy
    header before any data is read), finite, std > 0. Nothing is unpickled.
    """
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"no {CHECKPOINT} was handed in with the notebook: train LeNet-5 with QUICK = False (its "
                         f"training cell saves {CHECKPOINT}) and hand in {CHECKPOINT} beside the notebook")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{CHECKPOINT} is larger than LeNet-5's weights can be")
    shapes = lenet_shapes()
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename.removesuffix(".npy"): info.filename for info in archive.infolist()}
            headers = {key: _npy_header(archive, names[key]) for key in shapes if key in names}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise ValueError(f"{CHECKPOINT} is not a NumPy .npz file of arrays ({type(exc).__name__})") from None
    missing, extra = sorted(set(shapes) - set(names)), sorted(set(names) - set(shapes))
    if missing or extra:
        raise ValueError(f"{CHECKPOINT} must hold exactly LeNet-5's weights, mean and std (save_checkpoint); "
                         + "; ".join(f"{what}: {', '.join(keys)}" for what, keys in
                                     (("missing", missing), ("unexpected", extra)) if keys))
    for key, shape in shapes.items():
        found, dtype = headers[key]
        if tuple(found) != tuple(shape) or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"{CHECKPOINT}: {key} must be a float32 or float64 array of shape {shape}; it is "
                             f"{dtype} {found}")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in shapes}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{CHECKPOINT} could not be read ({type(exc).__name__})") from None
    for key, a in arrays.items():
        if type(a) is not np.ndarray or a.shape != shapes[key] or a.dtype.kind != "f":
            raise ValueError(f"{CHECKPOINT}: {key} is not a float array of shape {shapes[key]}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{CHECKPOINT}: {key} holds nan or inf (did the training diverge?)")
    if not np.all(arrays["std"] > 0):
        raise ValueError(f"{CHECKPOINT}: std must be positive")
    return {k: v.astype(np.float64) for k, v in arrays.items()}


def checkpoint_accuracy(arrays):
    """Accuracy of the LeNet-5 ``arrays`` (from ``load_checkpoint``) on the grader's 1,000 test images."""
    from helpers.backend import to_device
    from helpers.models import lenet5
    from helpers.train import predict
    with np.load(TEST_IMAGES, allow_pickle=False) as saved:
        x, y = saved["x"], saved["y"]
    model = lenet5()
    for name, layer in model.named_layers():
        for key in layer.params:
            layer.params[key] = to_device(arrays[f"{name}.{key}"], dtype=np.float32)
    mean, std = arrays["mean"][:, None, None], arrays["std"][:, None, None]
    scores = predict(model, ((x / 255 - mean) / std).astype(np.float32))
    return float((scores.argmax(axis=1) == y).mean())
