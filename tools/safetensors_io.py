"""Minimal safetensors reader and writer (no third-party package).

Format (doc/weights.md): u64 little-endian header length N, N bytes of JSON header (padded with
spaces), then the raw little-endian tensor data. Supported dtypes: F32 and F16 (numpy arrays or
torch tensors on input; numpy arrays on output). `__metadata__` maps strings to strings.

    save(path, {"a": array, ...}, metadata={"k": "v"})
    tensors, metadata = load(path)
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Optional, Tuple

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
_NAMES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16"}


class SafetensorsError(ValueError):
    """A malformed file or an unsupported tensor; the message names the file and the tensor."""


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def save(path: str, tensors: Dict[str, object], metadata: Optional[Dict[str, str]] = None):
    """Write tensors (name -> F32/F16 array or tensor, in the given order) and string metadata."""
    header, blobs, offset = {}, [], 0
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"{path}: metadata {k!r} must map str to str")
        header["__metadata__"] = dict(metadata)
    for name, value in tensors.items():
        arr = _as_numpy(value)
        if arr.dtype not in _NAMES:
            raise SafetensorsError(f"{path}: tensor {name}: unsupported dtype {arr.dtype} "
                                   "(only float32 and float16)")
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)  # align the data section to 8 bytes
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_header(path: str) -> Tuple[dict, int, int]:
    """Return (header dict, data section start, data section length), validated."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size < 8:
            raise SafetensorsError(f"{path}: file too short ({size} bytes)")
        (n,) = struct.unpack("<Q", f.read(8))
        if 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} runs past the end of the file")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    _check_entries(path, header, size - 8 - n)
    return header, 8 + n, size - 8 - n


def _check_entries(path: str, header: dict, data_len: int):
    spans = []
    for name, e in header.items():
        if name == "__metadata__":
            if not isinstance(e, dict) or not all(isinstance(v, str) for v in e.values()):
                raise SafetensorsError(f"{path}: __metadata__ must map strings to strings")
            continue
        if not isinstance(e, dict) or e.get("dtype") not in DTYPES:
            raise SafetensorsError(f"{path}: tensor {name}: unknown dtype "
                                   f"{e.get('dtype') if isinstance(e, dict) else e!r}")
        begin, end = e["data_offsets"]
        count = int(np.prod(e["shape"], dtype=np.int64))
        if not 0 <= begin <= end <= data_len:
            raise SafetensorsError(f"{path}: tensor {name}: offsets {begin}..{end} out of range "
                                   f"(data is {data_len} bytes)")
        if end - begin != count * DTYPES[e["dtype"]].itemsize:
            raise SafetensorsError(f"{path}: tensor {name}: {end - begin} bytes do not match "
                                   f"shape {e['shape']} of {e['dtype']}")
        spans.append((begin, end, name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError(f"{path}: tensors {n0} and {n1} overlap")


def load(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Read all tensors (numpy arrays in file dtype, header order) and the metadata."""
    header, start, _ = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[e["dtype"]])
        tensors[name] = arr.reshape(e["shape"]).astype(DTYPES[e["dtype"]].newbyteorder("="))
    return tensors, dict(header.get("__metadata__", {}))
