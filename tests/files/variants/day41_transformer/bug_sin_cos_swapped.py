"""Bug: sin and cos are swapped (cos on even feature indices, sin on odd ones)."""

EXPECT = {
    "full_marks": False,
    "lose": ["positional"],
    "keep": ["sdpa", "mha", "encoder", "shape"],
}


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1).float()
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        angles = position * div_term
        pe[:, 0, 0::2] = torch.cos(angles)
        pe[:, 0, 1::2] = torch.sin(angles[:, : d_model // 2])
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[: x.size(0)]
        return self.dropout(x)
