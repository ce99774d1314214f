"""Bug: the mask argument is accepted but never applied to the scores."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "sdpa"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    # TODO: masking
    weights = F.softmax(scores, dim=-1)
    output = torch.matmul(weights, V)
    return output, weights
