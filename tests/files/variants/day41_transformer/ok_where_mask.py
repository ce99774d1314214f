"""Correct alternative: the mask is applied with torch.where on a boolean mask and the
attention weights are computed with Tensor.softmax / @."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    scale = 1.0 / math.sqrt(Q.shape[-1])
    scores = (Q @ K.transpose(-1, -2)) * scale
    if mask is not None:
        keep = mask != 0
        scores = torch.where(keep, scores, torch.full_like(scores, -1e9))
    attn = scores.softmax(dim=-1)
    return attn @ V, attn
