"""Relative position bias: out[h, i, j] = bias.weight[clip(j - i, -D, D) + D, h], as an (h, T_q, T_k) tensor."""
import torch

from autograder.judge import expect_close, expect_shape, fail, points


def _rows(D, T_q, T_k, sign=1):
    """(T_q, T_k): the table row of each (query i, key j), clip(sign * (j - i), -D, D) + D."""
    i = torch.arange(T_q)[:, None]
    j = torch.arange(T_k)[None, :]
    return (sign * (j - i)).clamp(-D, D) + D


def _index_table(h, D, T_q, T_k, sign=1):
    """The expected output when weight[r, h] = 100 * r + h: row r = clip(j - i, -D, D) + D."""
    return (100 * _rows(D, T_q, T_k, sign))[None].float() + torch.arange(h, dtype=torch.float32)[:, None, None]


def lookup_problem(got, h, D, T_q, T_k):
    """What is wrong with a lookup on the index table (weight[r, h] = 100 * r + h), or None: a cause
    where the output tells it apart (the mirrored distance, the head dimension moved by a reshape),
    else the first entry that differs and where it came from."""
    got, want = got.float(), _index_table(h, D, T_q, T_k)
    if torch.equal(got, want):
        return None
    if torch.equal(got, _index_table(h, D, T_q, T_k, sign=-1)):
        return "the bias uses the distance i - j; the contract is j - i (key position j minus query position i)"
    if torch.equal(got, want.permute(1, 2, 0).reshape(h, T_q, T_k)):
        return ("the lookup's (T_q, T_k, h) result is reshaped to (h, T_q, T_k) with .view or .reshape, which mixes "
                "heads and positions; move the head dimension first with .permute(2, 0, 1)")
    hh, i, j = (int(k) for k in (got != want).nonzero()[0])
    value = float(got[hh, i, j])
    row, column = divmod(value, 100)
    source = (f"bias.weight[{int(row)}, {int(column)}]" if value.is_integer() and 0 <= column < h
              and 0 <= row <= 2 * D else "no entry of the table")
    return (f"out[{hh}, {i}, {j}] (query {i}, key {j}: distance j - i = {j - i}) should be "
            f"bias.weight[{int(_rows(D, T_q, T_k)[i, j])}, {hh}], and is {source}")


@points(2)
def test_relative_bias_matches_reference(submission, reference):
    """With the same (seeded) embedding table, is your bias the reference's, for T_q != T_k?"""
    for h, D, T_q, T_k in [(4, 3, 6, 10), (2, 5, 9, 4), (3, 1, 1, 7)]:
        args = dict(seed=81, num_heads=h, max_distance=D, T_q=T_q, T_k=T_k)
        expect_close(submission.probe("relative_bias", **args)["output"],
                     reference.probe("relative_bias", **args)["output"],
                     f"RelativePositionBias({h}, max_distance={D})({T_q}, {T_k})", atol=1e-6, rtol=0)


@points(2)
def test_relative_bias_looks_up_distance_j_minus_i(submission):
    """Within max_distance, is out[h, i, j] the table entry of row (j - i) + D and column h?"""
    h, D, T = 3, 4, 5  # every distance j - i is within [-D, D]: nothing is clipped
    got = expect_shape(submission.probe("relative_bias", seed=0, num_heads=h, max_distance=D, T_q=T, T_k=T,
                                        table="index")["output"], (h, T, T), f"RelativePositionBias({h}, {D})({T}, {T})")
    problem = lookup_problem(got, h, D, T, T)
    if problem:
        fail(problem)


@points(2)
def test_relative_bias_is_clipped(submission):
    """Beyond max_distance, do all farther keys share the last bucket (rows 0 and 2D of the table)?"""
    for h, D, T_q, T_k in [(2, 2, 9, 9), (3, 3, 4, 12), (1, 1, 3, 5)]:
        what = f"RelativePositionBias({h}, max_distance={D})({T_q}, {T_k})"
        got = expect_shape(submission.probe("relative_bias", seed=0, num_heads=h, max_distance=D, T_q=T_q, T_k=T_k,
                                            table="index")["output"], (h, T_q, T_k), what)
        problem = lookup_problem(got, h, D, T_q, T_k)
        if problem is None:
            continue
        near = (torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]).abs() <= D  # where clipping changes nothing
        if torch.equal(got.float()[:, near], _index_table(h, D, T_q, T_k)[:, near]):
            fail(f"{what}: within max_distance the lookup is right, beyond it is not: distances j - i beyond "
                 "+-max_distance must be clipped to +-max_distance (clamp) before the lookup")
        fail(f"{what}: {problem}")


@points(1)
def test_relative_bias_depends_only_on_distance(submission):
    """Is the bias the same along every diagonal (same j - i) and different across distances within max_distance?"""
    got = expect_shape(submission.probe("relative_bias", seed=82, num_heads=2, max_distance=6, T_q=7, T_k=7)["output"],
                       (2, 7, 7), "RelativePositionBias(2, 6)(7, 7)")
    for k in range(-6, 7):
        diagonal = torch.diagonal(got, offset=k, dim1=1, dim2=2)  # (h, 7 - |k|): all pairs with j - i = k
        if float((diagonal - diagonal[:, :1]).abs().max()) > 1e-6:
            fail(f"pairs (i, j) with the same distance j - i = {k} get different biases; "
                 "the bias may depend on j - i only")
    if float((got[:, 0, 1] - got[:, 0, 2]).abs().max()) == 0:
        fail("different distances get the same bias: each distance within max_distance has its own row")
