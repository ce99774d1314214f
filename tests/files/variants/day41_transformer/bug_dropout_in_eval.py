"""Bug: dropout (p=0.1) is applied to the attention weights with F.dropout, whose default
training=True keeps it active in eval mode, so outputs are random and rows do not sum to one."""

EXPECT = {
    "full_marks": False,
    "lose": ["values", "sdpa"],
    "keep": ["positional", "shape"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    weights = F.dropout(weights, p=0.1)
    output = torch.matmul(weights, V)
    return output, weights
