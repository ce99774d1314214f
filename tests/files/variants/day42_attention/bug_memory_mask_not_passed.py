"""Bug: cross-attention is called without memory_mask, so padded memory positions are attended to."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_decoder_cross_attention_respects_memory_mask", "test_memory_mask_hides_positions",
             "test_cross_attention_matches_reference", "test_decoder_masked_matches_reference"],
    "keep": ["test_causal", "test_decoder_honours_tgt_mask", "test_decoder_matches_reference", "relative", "entropy",
             "test_memory_changes_the_output"],
    "says": {"test_decoder_cross_attention_respects_memory_mask": ["memory_mask does not reach cross_attn"],
             "test_memory_mask_hides_positions": ["memory_mask does not reach cross_attn"]},
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
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, tgt_mask)))
        x = self.norm2(x + self.dropout(self.cross_attn(x, memory, memory)))
        return self.norm3(x + self.dropout(self.feed_forward(x)))
