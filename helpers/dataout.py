"""The JSON codec between a student's kernel and the grader ("data out").

When a notebook is graded, the grader writes ``grader_inputs.json`` beside it: for each graded cell, the calls
to make on the student's functions (function name and arguments). The cell's ``TestCell.record_for_grader``
makes them and writes the results to ``.grader_out/<cell>.json``. The trusted grader, which never runs student
code, reads them back with ``decode`` and judges them against its own reference.

Only plain data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples, dicts with string
keys, NumPy numbers and NumPy arrays of numbers or bools (as ``.npy`` bytes, read with ``allow_pickle=False``).
Anything else (an object that claims to equal everything, say) is encoded as unsupported and judged wrong; an
exception is encoded with its type name, its message and the line of the notebook that raised it (the last
frame of its traceback that is a notebook cell: the student's own code, not NumPy's inside). ``decode`` checks
every value strictly and raises ``ValueError`` on anything it does not expect.
"""
import base64
import io
import math
import traceback

import numpy as np

GRADER_INPUTS = "grader_inputs.json"
GRADER_OUT = ".grader_out"
MAX_DEPTH = 20
MAX_ARRAY_BYTES = 64 * 2**20


class Raised:
    """What a call raised: ``name`` is the exception's type name, ``message`` its text, ``line`` the source line of
    the notebook cell it came from ("" if unknown)."""

    def __init__(self, name, message, line=""):
        self.name, self.message, self.line = name, message, line

    def __repr__(self):
        return f"Raised({self.name}: {self.message})"


class Unsupported:
    """A value of a type that cannot cross (``type_name`` says which)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"Unsupported({self.type_name})"


def encode(value, depth=0):
    """``value`` as JSON-ready data; exact types only, so subclasses and look-alikes do not pass as numbers."""
    kind = type(value)
    if depth > MAX_DEPTH:
        return {"__unsupported__": "nesting too deep"}
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind in (list, tuple):
        items = [encode(v, depth + 1) for v in value]
        return items if kind is list else {"__tuple__": items}
    if kind is dict and all(type(k) is str for k in value):
        return {"__dict__": {k: encode(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in "biuf":
        return {"__npscalar__": value.dtype.str, "value": encode(value.item(), depth + 1)}
    if kind is np.ndarray and value.dtype.kind in "biuf":
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, BaseException):
        return {"__raised__": type(value).__name__, "message": str(value)[:500], "line": raising_line(value)}
    return {"__unsupported__": f"{kind.__module__}.{kind.__qualname__}"}


def _in_a_cell(filename):
    """True for the file name of a notebook cell: ipykernel's ``.../ipykernel_<pid>/<hash>.py``, IPython's
    ``<ipython-input-...>`` or a ``<cell ...>`` compiled by the course's tests."""
    return "ipykernel_" in filename or filename.startswith(("<ipython-input-", "<cell"))


def raising_line(exc):
    """The stripped source line of the last notebook-cell frame of ``exc``'s traceback ("" if none)."""
    try:
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if _in_a_cell(frame.filename)]
        return (frames[-1].line or "").strip()[:200] if frames else ""
    except Exception:  # noqa: BLE001 - a line is a courtesy, never a reason to lose the result
        return ""


def decode(data, depth=0):
    """The value that ``encode`` produced ``data`` from; raises ValueError on anything else."""
    if depth > MAX_DEPTH + 1:
        raise ValueError("nesting too deep")
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is float:
        return data
    if type(data) is list:
        return [decode(v, depth + 1) for v in data]
    if type(data) is not dict or len(data) not in (1, 2, 3):
        raise ValueError(f"unexpected value of type {type(data).__name__}")
    tag = next(iter(data))
    if len(data) == 3 and tag != "__raised__":
        raise ValueError(f"unexpected keys {sorted(data)}")
    if tag == "__tuple__" and type(data[tag]) is list:
        return tuple(decode(v, depth + 1) for v in data[tag])
    if tag == "__dict__" and type(data[tag]) is dict:
        return {str(k): decode(v, depth + 1) for k, v in data[tag].items()}
    if tag == "__float__" and data[tag] in ("nan", "inf", "-inf"):
        return float(data[tag])
    if tag == "__npscalar__" and type(data[tag]) is str:
        dtype = np.dtype(data[tag])
        if dtype.kind not in "biuf":
            raise ValueError("a NumPy scalar of a non-numeric type")
        return dtype.type(decode(data["value"], depth + 1))
    if tag == "__ndarray__" and type(data[tag]) is str:
        raw = base64.b64decode(data[tag].encode("ascii"), validate=True)
        if len(raw) > MAX_ARRAY_BYTES:
            raise ValueError("array too large")
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        if type(array) is not np.ndarray or array.dtype.kind not in "biuf":
            raise ValueError("an array of a non-numeric type")
        return array
    if tag == "__raised__" and type(data[tag]) is str and set(data) <= {"__raised__", "message", "line"}:
        return Raised(data[tag][:100], str(data.get("message", ""))[:500], str(data.get("line", ""))[:200])
    if tag == "__unsupported__" and type(data[tag]) is str:
        return Unsupported(data[tag][:200])
    raise ValueError(f"unexpected tag {tag!r}")
