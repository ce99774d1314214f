"""Bug: Day 41's multi-head attention applies a mask only when it is 2-D, so (B, 1, S) and (B, T, S)
memory masks (and a (B, T, T) target mask) are silently ignored. The decoder passes every mask."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_decoder_cross_attention_respects_memory_mask", "test_memory_mask_hides_positions",
             "test_decoder_batched_tgt_mask_matches_reference", "test_mha_weights_match_reference"],
    "keep": ["test_decoder_honours_tgt_mask", "test_decoder_matches_reference", "test_causal_mask", "relative",
             "entropy"],
    "says": {"test_decoder_cross_attention_respects_memory_mask": ["with a (T, S) mask it does not"]},
    "never_says": {"test_decoder_cross_attention_respects_memory_mask": ["does not reach"],
                   "test_memory_mask_hides_positions": ["does not reach"]},
}


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        self.num_heads, self.d_k = num_heads, d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        B, T_q, _ = query.shape
        T_k = key.size(1)
        q = self.w_q(query).view(B, T_q, self.num_heads, self.d_k).transpose(1, 2)
        k = self.w_k(key).view(B, T_k, self.num_heads, self.d_k).transpose(1, 2)
        v = self.w_v(value).view(B, T_k, self.num_heads, self.d_k).transpose(1, 2)
        out, weights = scaled_dot_product_attention(q, k, v, mask if mask is not None and mask.dim() == 2 else None)
        self.attention_weights = weights.detach()
        return self.w_o(out.transpose(1, 2).contiguous().view(B, T_q, self.num_heads * self.d_k))
