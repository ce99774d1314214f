"""Cross-attention: the decoder reads the memory (keys and values from it, T != S), and memory_mask hides positions."""
from autograder.judge import expect_close, expect_finite, expect_shape, fail, points

DECODER = dict(d_model=32, num_heads=4, d_ff=64)


@points(2)
def test_cross_attention_attends_over_memory(submission, reference):
    """With T != S, are the cross-attention weights (B, h, T, S) and the reference's?"""
    for T, S in ((4, 9), (7, 3)):
        args = dict(seed=71, B=2, T=T, S=S, **DECODER)
        got = expect_shape(submission.probe("decoder", **args)["cross_weights"], (2, 4, T, S),
                           f"cross_attn.attention_weights for T={T} target and S={S} memory positions "
                           "(queries from x, keys and values from memory)")
        expect_close(got, reference.probe("decoder", **args)["cross_weights"], f"cross-attention weights (T={T}, S={S})")


@points(2)
def test_memory_changes_the_output(submission, reference):
    """Does changing an unmasked memory position change the decoder's output, as it does for the reference?"""
    args = dict(seed=72, B=2, T=4, S=6, **DECODER)
    want = reference.probe("decoder_memory", **args)
    if float((want["visible_changed"] - want["base"]).abs().max()) < 1e-3:
        raise RuntimeError("the reference does not react to its memory")
    got = submission.probe("decoder_memory", **args)
    base = expect_shape(got["base"], tuple(want["base"].shape), "decoder output")
    changed = expect_shape(got["visible_changed"], tuple(base.shape), "decoder output with another memory")
    if float((changed.double() - base.double()).abs().max()) < 1e-3:
        fail("changing the memory did not change the decoder's output: cross_attn must take its keys and "
             "values from memory, cross_attn(x, memory, memory, memory_mask)")


@points(2)
def test_memory_mask_hides_positions(submission, reference, diagnose):
    """Does changing memory positions where memory_mask == 0 leave the output unchanged, for (B, 1, S) and (B, T, S) masks?"""
    for kind, shape in (("padding", "(B, 1, S)"), ("per_query", "(B, T, S)")):
        args = dict(seed=73, B=3, T=5, S=7, memory_mask=kind, **DECODER)
        want = reference.probe("decoder_memory", **args)
        if want["hidden_positions"] == 0:
            raise RuntimeError(f"the {kind} memory mask hides nothing; pick another seed")
        expect_close(want["masked_changed"], want["base"], "reference", atol=1e-6, rtol=0,
                     against="the reference with the original memory")
        got = submission.probe("decoder_memory", **args)
        base = expect_finite(expect_shape(got["base"], tuple(want["base"].shape),
                                          f"decoder output with a {shape} memory_mask"), "decoder output")
        changed = expect_finite(expect_shape(got["masked_changed"], tuple(base.shape), "decoder output"),
                                "decoder output")
        moved = float((changed.double() - base.double()).abs().max())
        if moved > 1e-5:
            cause = diagnose.memory_mask(dict(seed=73, B=3, T=5, S=7, memory_mask=kind, **DECODER))
            fail(f"changing only the memory positions that a {shape} memory_mask hides changed your output "
                 f"(by up to {moved:.3g})" + (f": {cause}" if cause else ""))


@points(2)
def test_cross_attention_matches_reference(submission, reference):
    """With a memory_mask of shape (B, 1, S), (B, T, S) or (T, S) and T != S, is your decoder output the reference's?"""
    for kind in ("padding", "per_query", "shared"):
        args = dict(seed=74, B=2, T=5, S=8, memory_mask=kind, **DECODER)
        expect_close(submission.probe("decoder", **args)["output"], reference.probe("decoder", **args)["output"],
                     f"decoder output with a {kind.replace('_', '-')} memory_mask")
