"""Correct alternative: positional encoding computed literally from the formula,
pos / 10000 ** (2i / d_model), with torch.pow instead of the exp(-log(10000) ...) trick.
(float32 rounding differs from the reference: ~4e-6 for pos < 50, up to ~5e-4 near pos 5000.)"""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)   # (max_len, 1)
        two_i = torch.arange(0, d_model, 2, dtype=torch.float32)         # 0, 2, 4, ...
        angles = pos / torch.pow(10000.0, two_i / d_model)             # (max_len, d_model/2)
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(angles)
        pe[:, 0, 1::2] = torch.cos(angles[:, : d_model // 2])  # odd d_model: one fewer cos
        self.register_buffer("pe", pe)

    def forward(self, x):
        T = x.shape[0]
        return self.dropout(x + self.pe[:T, :, :])
