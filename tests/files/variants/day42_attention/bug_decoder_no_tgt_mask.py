"""Bug: self-attention is called without tgt_mask, so every target position sees the later ones."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_decoder_self_attention_is_causal", "test_decoder_honours_tgt_mask",
             "test_decoder_with_your_causal_mask_hides_the_future", "test_decoder_gradients_do_not_reach_the_past"],
    "keep": ["test_causal_mask", "test_decoder_matches_reference", "relative", "entropy", "test_memory"],
    "says": {"test_decoder_honours_tgt_mask": ["tgt_mask does not reach self_attn"],
             "test_decoder_self_attention_is_causal": ["tgt_mask does not reach self_attn"],
             "test_decoder_gradients_do_not_reach_the_past": ["tgt_mask does not reach self_attn"]},
}


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x)))
        x = self.norm2(x + self.dropout(self.cross_attn(x, memory, memory, memory_mask)))
        return self.norm3(x + self.dropout(self.feed_forward(x)))
