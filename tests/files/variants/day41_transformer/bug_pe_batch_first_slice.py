"""Bug: the student treats x as batch-first (B, T, d) in forward: slices pe[:x.size(1)] and
transposes it to (1, T, d), so on (T, B, d) input batch element b gets pe[b] at every step."""

EXPECT = {
    "full_marks": False,
    "lose": ["positional"],
    "keep": ["sdpa", "mha", "encoder"],
}


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe.unsqueeze(1))  # (max_len, 1, d_model)

    def forward(self, x):
        # x: (batch, seq_len, d_model)
        seq_len = x.size(1)
        x = x + self.pe[:seq_len].transpose(0, 1)  # (1, seq_len, d_model)
        return self.dropout(x)
