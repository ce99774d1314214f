"""Bug: masked scores are filled with float('-inf'); correct for partially masked rows but a
fully masked row becomes NaN after the softmax."""

EXPECT = {
    "full_marks": False,
    "lose": ["sdpa"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = F.softmax(scores, dim=-1)
    output = torch.matmul(weights, V)
    return output, weights
