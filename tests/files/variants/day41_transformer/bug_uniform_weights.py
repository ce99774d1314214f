"""Bug: the student never finished the scores: every query attends uniformly (weights =
1/T_k) to all keys, ignoring Q, K and the mask."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "sdpa", "mha"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1))
    # TODO: scale, mask, softmax -- for now every key gets the same weight
    weights = torch.ones_like(scores) / scores.size(-1)
    output = torch.matmul(weights, V)
    return output, weights
