"""Bug: the attention weights are .detach()ed before multiplying V, so forward values are
right but no gradient flows back into Q and K (w_q / w_k never learn)."""

EXPECT = {
    "full_marks": False,
    "lose": ["gradient"],
    "keep": ["values", "shape", "positional", "speed"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    output = torch.matmul(weights.detach(), V)
    return output, weights
