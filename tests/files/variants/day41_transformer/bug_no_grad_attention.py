"""Bug: the scores and softmax are computed inside torch.no_grad() ("they are just weights"),
so values are right but Q and K receive no gradient."""

EXPECT = {
    "full_marks": False,
    "lose": ["gradient"],
    "keep": ["values", "shape", "positional", "speed"],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    with torch.no_grad():
        scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        weights = F.softmax(scores, dim=-1)
    output = torch.matmul(weights, V)
    return output, weights
