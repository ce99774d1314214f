"""Bonus: the extensions the guide suggests."""
import struct

import torch

from autograder.judge import expect_close, expect_tensor, fail, points

PNG = b"\x89PNG\r\n\x1a\n"


@points(1)
def test_causal_mask_matches_reference(submission, reference):
    """Does causal_mask(T) put 1 on and below the diagonal and 0 above it?"""
    for T in (1, 6):
        got = expect_tensor(submission.probe("causal", T=T)["mask"], f"causal_mask({T})")
        want = expect_tensor(reference.probe("causal", T=T)["mask"], f"reference causal_mask({T})")
        expect_close(got.float(), want.float(), f"causal_mask({T})", atol=0, rtol=0)


def png_size(data) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, read here byte by byte (nothing decodes the image), or None."""
    raw = bytes(data.tolist()) if type(data) is torch.Tensor and data.dtype == torch.uint8 else b""
    if len(raw) < 24 or raw[:8] != PNG or raw[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", raw[16:24])


@points(1)
def test_plot_attention_saves_a_png(submission):
    """Does plot_attention(weights, path, title=...) save a PNG at path and return path (weights that require grad)?"""
    got = submission.probe("plot", seed=61, title="heads")
    size = png_size(got["file"])
    if got["file"] is None:
        fail("plot_attention wrote no file at the path it was given")
    if size is None:
        fail("the file plot_attention saved is not a PNG image")
    if min(size) < 50:
        fail(f"the PNG plot_attention saved is {size[0]} x {size[1]} pixels; a heatmap should be larger")
    if got["returned"] != got["path"]:
        fail(f"plot_attention should return the path it saved to; it returned {str(got['returned'])[:80]}")
