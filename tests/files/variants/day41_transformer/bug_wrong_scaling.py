"""Bug: the scores are divided by d_k instead of sqrt(d_k)."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "sdpa", "mha", "encoder"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / d_k
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    output = torch.matmul(weights, V)
    return output, weights
