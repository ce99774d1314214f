"""Correct alternative: encoder layer written with a small residual helper, and the
classifier model uses permute plus a masked_fill-based masked mean; same math as the spec."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def _residual(self, x, sublayer_out, norm):
        return norm(x + self.dropout(sublayer_out))

    def forward(self, x, mask=None):
        x = self._residual(x, self.self_attn(x, x, x, mask=mask), self.norm1)
        return self._residual(x, self.feed_forward(x), self.norm2)


class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes,
                 max_len=5000, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, num_heads, d_ff, dropout) for _ in range(num_layers)
        )
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        B, T = x.shape
        if mask is not None and mask.dim() == 2:
            mask = mask[:, None, :]                      # (B, T) -> (B, 1, T)
        h = self.embedding(x) * self.d_model ** 0.5
        h = self.pos_encoding(h.permute(1, 0, 2)).permute(1, 0, 2)
        for layer in self.layers:
            h = layer(h, mask)
        if mask is None:
            pooled = h.mean(1)
        else:
            valid = mask.reshape(B, T, 1) != 0
            pooled = h.masked_fill(~valid, 0.0).sum(1) / valid.sum(1).clamp(min=1)
        return self.classifier(pooled)
