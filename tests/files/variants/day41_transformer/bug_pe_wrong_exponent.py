"""Bug: the frequency exponent uses i instead of 2i, i.e. pos / 10000^(i/d_model) for the
pair (2i, 2i+1), so the wavelengths are wrong."""

EXPECT = {
    "full_marks": False,
    "lose": ["positional"],
    "keep": ["sdpa", "mha", "encoder", "shape"],
}


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        i = torch.arange(0, (d_model + 1) // 2, dtype=torch.float)  # pair index i
        div_term = torch.pow(10000.0, i / d_model)
        pe[:, 0::2] = torch.sin(position / div_term)
        pe[:, 1::2] = torch.cos(position / div_term[: d_model // 2])
        self.register_buffer("pe", pe.unsqueeze(1))

    def forward(self, x):
        x = x + self.pe[: x.size(0)]
        return self.dropout(x)
