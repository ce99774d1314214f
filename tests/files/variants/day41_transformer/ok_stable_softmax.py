"""Correct alternative: the student writes their own numerically stable softmax
(subtract the row max, exponentiate, normalise) instead of calling F.softmax.
(Five elementwise ops instead of one fused kernel: ~1.2-2x the reference time on CPU,
up to ~3-4x for small masked inputs, since torch.exp is slow on underflowing -1e9 entries.)"""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


def my_softmax(x, dim=-1):
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = my_softmax(scores, dim=-1)
    return weights @ V, weights
