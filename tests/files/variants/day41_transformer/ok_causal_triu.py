"""Correct alternative: causal_mask built as 1 - triu(ones, diagonal=1) instead of tril."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


def causal_mask(T):
    return 1 - torch.triu(torch.ones(T, T), diagonal=1)
