"""The wire format: what a worker sends can never execute code in the judge."""
import json
import pickle
import struct

import pytest
import torch

from autograder import wire


def test_round_trip_of_plain_data_and_tensors():
    """Do tensors of every allowed dtype, nested dicts and lists, and non-finite floats survive the trip?"""
    value = {"a": [1, 2.5, None, True, "x"], "t": torch.arange(6, dtype=torch.float32).reshape(2, 3),
             "d": torch.randn(3, dtype=torch.float64), "b": torch.tensor([True, False]),
             "bf": torch.ones(2, dtype=torch.bfloat16), "empty": torch.zeros(0, 4), "scalar": torch.tensor(3),
             "nan": float("nan"), "inf": float("-inf")}
    back = wire.decode(wire.encode(value))
    for key in ("t", "d", "b", "bf", "empty", "scalar"):
        assert type(back[key]) is torch.Tensor
        assert back[key].dtype == value[key].dtype and back[key].shape == value[key].shape
        assert torch.equal(back[key], value[key])
    assert back["a"] == [1, 2.5, None, True, "x"]
    assert back["nan"] != back["nan"] and back["inf"] == float("-inf")


def test_tensor_subclass_and_objects_become_invalid_markers():
    """Does a Tensor subclass or an arbitrary object arrive as an Invalid saying what it was?"""
    class Sneaky(torch.Tensor):
        def __eq__(self, other):
            return True

    class Thing:
        pass

    back = wire.decode(wire.encode({"s": torch.zeros(2).as_subclass(Sneaky), "o": Thing(), "i": 1 << 70}))
    assert isinstance(back["s"], wire.Invalid) and "expected a Tensor, got" in back["s"].what
    assert "Sneaky" in back["s"].what
    assert isinstance(back["o"], wire.Invalid) and "Thing" in back["o"].what
    assert isinstance(back["i"], wire.Invalid)


def test_a_pickle_is_rejected_without_being_unpickled(tmp_path):
    """Is a pickle (here one that would create a file when loaded) rejected, and the file never created?"""
    target = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(target), "w"))

    payload = pickle.dumps(Evil())
    with pytest.raises(wire.WireError, match="magic"):
        wire.decode(payload)
    framed = struct.pack("!4sI", wire.MAGIC, len(payload)) + payload
    with pytest.raises(wire.WireError, match="JSON"):
        wire.decode(framed)
    assert not target.exists()


def _frame(header: dict, payload: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("!4sI", wire.MAGIC, len(h)) + h + payload


@pytest.mark.parametrize("header,payload,match", [
    ({"body": {"$tensor": 0}, "tensors": [{"dtype": "float32", "shape": [2], "nbytes": 8}]}, b"\0" * 4, "past the frame|match"),
    ({"body": {"$tensor": 0}, "tensors": [{"dtype": "object", "shape": [1], "nbytes": 8}]}, b"\0" * 8, "not allowed"),
    ({"body": {"$tensor": 0}, "tensors": [{"dtype": "float32", "shape": [3], "nbytes": 8}]}, b"\0" * 8, "cannot be"),
    ({"body": {"$tensor": 3}, "tensors": []}, b"", "unexpected node"),
    ({"body": {"$pickle": "x"}, "tensors": []}, b"", "unexpected node"),
    ({"body": 1, "tensors": [], "extra": 1}, b"", "header must be"),
    ({"body": {"$tensor": 0}, "tensors": [{"dtype": "float32", "shape": [-1], "nbytes": 4}]}, b"\0" * 4, "bad tensor shape"),
])
def test_malformed_frames_are_rejected(header, payload, match):
    """Are lying sizes, unknown dtypes, dangling references and unknown tags all rejected?"""
    with pytest.raises(wire.WireError, match=match):
        wire.decode(_frame(header, payload))


def test_oversized_payloads_are_rejected_before_reading(monkeypatch):
    """Is a frame over the size cap refused from its length prefix alone?"""
    import socket

    a, b = socket.socketpair()
    try:
        a.sendall(struct.pack("!Q", 10 << 40))
        with pytest.raises(wire.WireError, match="over the cap"):
            wire.recv_frame(b)
    finally:
        a.close()
        b.close()
    monkeypatch.setattr(wire, "MAX_PAYLOAD_BYTES", 16)
    with pytest.raises(wire.WireError, match="size cap"):
        wire.decode(wire.encode(torch.zeros(100)))


def test_deep_nesting_is_rejected():
    """Is a structure nested deeper than the cap refused rather than recursed into?"""
    deep = {"body": None, "tensors": []}
    node = 1
    for _ in range(wire.MAX_DEPTH + 5):
        node = [node]
    deep["body"] = node
    with pytest.raises(wire.WireError, match="deeply"):
        wire.decode(_frame(deep))
