"""Bug: the mask convention is inverted: positions where mask == 1 are blocked and the
padding positions are the ones attended to."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "sdpa"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 1, -1e9)
    weights = F.softmax(scores, dim=-1)
    output = torch.matmul(weights, V)
    return output, weights
