"""Bonus: the extensions the guide suggests."""
from autograder.judge import expect_close, expect_tensor, points


@points(1)
def test_causal_mask_matches_reference(submission, reference):
    """Does causal_mask(T) put 1 on and below the diagonal and 0 above it?"""
    for T in (1, 6):
        got = expect_tensor(submission.probe("causal", T=T)["mask"], f"causal_mask({T})")
        want = expect_tensor(reference.probe("causal", T=T)["mask"], f"reference causal_mask({T})")
        expect_close(got.float(), want.float(), f"causal_mask({T})", atol=0, rtol=0)
