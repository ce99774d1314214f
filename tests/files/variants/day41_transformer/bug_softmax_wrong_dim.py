"""Bug: softmax is taken over dim=-2 (the query axis), so the weights of each query row do
not sum to one."""

EXPECT = {
    "full_marks": False,
    "lose": ["softmax", "values", "sdpa", "mha"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-2)
    output = torch.matmul(weights, V)
    return output, weights
