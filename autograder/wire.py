"""The safe wire format between a sandboxed worker and the trusted judge.

A frame is `MAGIC | u32 header length | JSON header | raw tensor bytes`. Reading one never
executes code: no pickle, no torch.load. JSON carries plain data; tensors are raw bytes
rebuilt with torch.frombuffer after their dtype, shape and size are checked against caps.

Plain data means None, bool, int, float, str, list and dict with str keys, and exact
torch.Tensor. Anything else (a Tensor subclass, an arbitrary object) is sent as an Invalid
marker, so the judge can say "expected a Tensor, got MyTensor" instead of trusting it.
"""
from __future__ import annotations

import json
import math
import socket
import struct
import time
from dataclasses import dataclass

MAGIC = b"AGW1"
_HEAD = struct.Struct("!4sI")

# Caps on what a worker may send; a frame over any of them is rejected as a whole.
MAX_HEADER_BYTES = 4 << 20
MAX_PAYLOAD_BYTES = 256 << 20
MAX_TENSORS = 512
MAX_NDIM = 8
MAX_DEPTH = 32
MAX_STRING = 1 << 20

DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
          "uint8", "bool")


class WireError(ValueError):
    """A frame broke the format or a cap; the judge treats the worker's answer as garbage."""


@dataclass(frozen=True)
class Invalid:
    """Something the worker could not send as plain data; `what` says what it was."""
    what: str

    def __str__(self) -> str:
        return self.what


def _type_name(obj) -> str:
    return type(obj).__qualname__


# -- encoding (runs on either side; the worker's copy may be tampered with, which is fine,
# because the reader trusts nothing it did not check itself) --------------------------------

def encode(value) -> bytes:
    import torch

    buffers: list[bytes] = []
    tensors: list[dict] = []

    def walk(obj, depth):
        if depth > MAX_DEPTH:
            return {"$invalid": "a structure nested too deeply"}
        kind = type(obj)
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            return obj if -(1 << 63) <= obj < (1 << 63) else {"$invalid": "an integer too large"}
        if kind is float:
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if kind in (list, tuple):
            return [walk(item, depth + 1) for item in obj]
        if kind is dict:
            if not all(type(k) is str for k in obj):
                return {"$invalid": "a dict with non-string keys"}
            return {"$dict": {k: walk(v, depth + 1) for k, v in obj.items()}}
        if kind is torch.Tensor:
            t = obj.detach()
            if t.layout is not torch.strided:
                return {"$invalid": f"a {t.layout} tensor"}
            dtype = str(t.dtype).removeprefix("torch.")
            if dtype not in DTYPES:
                return {"$invalid": f"a tensor of dtype {dtype}"}
            data = t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
            tensors.append({"dtype": dtype, "shape": list(t.shape), "nbytes": len(data)})
            buffers.append(data)
            return {"$tensor": len(tensors) - 1}
        if isinstance(obj, torch.Tensor):
            return {"$invalid": f"expected a Tensor, got {_type_name(obj)}"}
        return {"$invalid": f"expected plain data, got {_type_name(obj)}"}

    body = walk(value, 0)
    header = json.dumps({"body": body, "tensors": tensors}, allow_nan=False).encode()
    return _HEAD.pack(MAGIC, len(header)) + header + b"".join(buffers)


# -- decoding (the trusted side) --------------------------------------------------------------

def decode(frame: bytes):
    """Rebuild plain data and tensors from one frame, or raise WireError."""
    import torch

    if len(frame) < _HEAD.size:
        raise WireError("frame shorter than its header")
    magic, header_len = _HEAD.unpack_from(frame)
    if magic != MAGIC:
        raise WireError("frame does not start with the wire magic (not our format)")
    if header_len > MAX_HEADER_BYTES or _HEAD.size + header_len > len(frame):
        raise WireError(f"header of {header_len} bytes is over the cap or past the frame")
    if len(frame) - _HEAD.size - header_len > MAX_PAYLOAD_BYTES:
        raise WireError("payload over the size cap")
    try:
        header = json.loads(frame[_HEAD.size:_HEAD.size + header_len])
    except (ValueError, RecursionError) as exc:
        raise WireError(f"header is not valid JSON: {exc}") from None
    if type(header) is not dict or set(header) != {"body", "tensors"} or type(header["tensors"]) is not list:
        raise WireError("header must be {body, tensors}")
    specs = header["tensors"]
    if len(specs) > MAX_TENSORS:
        raise WireError(f"{len(specs)} tensors is over the cap of {MAX_TENSORS}")

    tensors, offset = [], _HEAD.size + header_len
    for spec in specs:
        tensors.append(_tensor(torch, spec, frame, offset))
        offset += spec["nbytes"]
    if offset != len(frame):
        raise WireError("payload length does not match the tensors' sizes")

    def build(node, depth):
        if depth > MAX_DEPTH:
            raise WireError("structure nested too deeply")
        kind = type(node)
        if node is None or kind in (bool, int, float):
            return node
        if kind is str:
            if len(node) > MAX_STRING:
                raise WireError("string over the size cap")
            return node
        if kind is list:
            return [build(item, depth + 1) for item in node]
        if kind is dict and len(node) == 1:
            (tag, inner), = node.items()
            if tag == "$dict" and type(inner) is dict:
                return {str(k): build(v, depth + 1) for k, v in inner.items()}
            if tag == "$tensor" and type(inner) is int and 0 <= inner < len(tensors):
                return tensors[inner]
            if tag == "$float" and inner in ("nan", "inf", "-inf"):
                return float(inner)
            if tag == "$invalid" and type(inner) is str:
                return Invalid(inner[:200])
        raise WireError(f"unexpected node in body: {str(node)[:80]}")

    return build(header["body"], 0)


def _tensor(torch, spec, frame: bytes, offset: int):
    if type(spec) is not dict or set(spec) != {"dtype", "shape", "nbytes"}:
        raise WireError("tensor spec must be {dtype, shape, nbytes}")
    dtype, shape, nbytes = spec["dtype"], spec["shape"], spec["nbytes"]
    if dtype not in DTYPES:
        raise WireError(f"dtype {dtype!r} is not allowed")
    if (type(shape) is not list or len(shape) > MAX_NDIM
            or not all(type(d) is int and 0 <= d <= MAX_PAYLOAD_BYTES for d in shape)):
        raise WireError(f"bad tensor shape {str(shape)[:80]}")
    torch_dtype = getattr(torch, dtype)
    itemsize = torch.empty((), dtype=torch_dtype).element_size()
    if type(nbytes) is not int or nbytes != math.prod(shape) * itemsize:
        raise WireError(f"tensor of shape {shape} and dtype {dtype} cannot be {nbytes} bytes")
    if offset + nbytes > len(frame):
        raise WireError("tensor bytes run past the frame")
    if nbytes == 0:
        return torch.empty(shape, dtype=torch_dtype)
    raw = bytearray(frame[offset:offset + nbytes])  # a private, writable copy
    return torch.frombuffer(raw, dtype=torch_dtype).reshape(shape)


# -- framing over a socket --------------------------------------------------------------------

def send(sock: socket.socket, value) -> None:
    frame = encode(value)
    sock.sendall(struct.pack("!Q", len(frame)) + frame)


def recv_frame(sock: socket.socket, limit: int = MAX_HEADER_BYTES + MAX_PAYLOAD_BYTES + 64,
               deadline: float | None = None) -> bytes:
    """One length-prefixed frame; EOFError if the peer is gone, WireError if it is too big,
    socket.timeout once `deadline` (time.monotonic) passes, however slowly the bytes drip in."""
    (size,) = struct.unpack("!Q", _recv_exact(sock, 8, deadline))
    if size > limit:
        raise WireError(f"frame of {size} bytes is over the cap of {limit}")
    return _recv_exact(sock, size, deadline)


def recv(sock: socket.socket):
    return decode(recv_frame(sock))


def _recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            sock.settimeout(left)
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("the worker closed the connection")
        got += k
    return bytes(buf)
