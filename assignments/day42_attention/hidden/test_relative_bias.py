"""Relative position bias: out[h, i, j] = bias.weight[clip(j - i, -D, D) + D, h], as an (h, T_q, T_k) tensor."""
import torch

from autograder.judge import expect_close, expect_shape, fail, points


def _index_table(h, D, T_q, T_k):
    """The expected output when weight[r, h] = 100 * r + h: row r = clip(j - i, -D, D) + D."""
    i = torch.arange(T_q)[:, None]
    j = torch.arange(T_k)[None, :]
    rows = (j - i).clamp(-D, D) + D  # (T_q, T_k)
    return (100 * rows)[None].float() + torch.arange(h, dtype=torch.float32)[:, None, None]


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
    want = _index_table(h, D, T, T)
    if not torch.equal(got.float(), want):
        if torch.equal(got.float(), want.transpose(1, 2)):
            fail("the bias uses the distance i - j; the contract is j - i (key position j minus query position i)")
        if not torch.equal(torch.remainder(got.float(), 100), torch.remainder(want, 100)):
            fail("entry [h, i, j] does not come from column h of the table: the lookup gives (T_q, T_k, h); "
                 "move the head dimension first with .permute(2, 0, 1), not with .view or .reshape")
        fail("out[h, i, j] should be bias.weight[(j - i) + max_distance, h] for query i and key j")


@points(2)
def test_relative_bias_is_clipped(submission):
    """Beyond max_distance, do all farther keys share the last bucket (rows 0 and 2D of the table)?"""
    for h, D, T_q, T_k in [(2, 2, 9, 9), (3, 3, 4, 12), (1, 1, 3, 5)]:
        got = expect_shape(submission.probe("relative_bias", seed=0, num_heads=h, max_distance=D, T_q=T_q, T_k=T_k,
                                            table="index")["output"], (h, T_q, T_k),
                           f"RelativePositionBias({h}, {D})({T_q}, {T_k})")
        if not torch.equal(got.float(), _index_table(h, D, T_q, T_k)):
            fail(f"RelativePositionBias({h}, max_distance={D})({T_q}, {T_k}): distances j - i beyond +-max_distance "
                 "must be clipped to +-max_distance (clamp) before the lookup: row clip(j - i, -D, D) + D")


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
