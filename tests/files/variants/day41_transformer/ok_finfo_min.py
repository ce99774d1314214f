"""Correct alternative: masked scores are filled with torch.finfo(dtype).min instead of -1e9
(fully masked rows still give uniform weights, no NaN)."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(K.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights
