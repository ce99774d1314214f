"""Correct alternative: multi-head attention folds the heads into the batch dimension
(B*h, T, d_k) and uses torch.bmm for both matrix products."""

EXPECT = {
    "full_marks": True,
    "lose": [],
    "keep": [],
}


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        assert d_model % num_heads == 0
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def _fold(self, x):
        # (B, T, d_model) -> (B*h, T, d_k)
        B, T, _ = x.shape
        x = x.view(B, T, self.num_heads, self.d_k).transpose(1, 2)
        return x.reshape(B * self.num_heads, T, self.d_k)

    def forward(self, query, key, value, mask=None):
        B, T_q, _ = query.shape
        T_k = key.size(1)
        q = self._fold(self.w_q(query))
        k = self._fold(self.w_k(key))
        v = self._fold(self.w_v(value))

        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.d_k)  # (B*h, T_q, T_k)
        if mask is not None:
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            mask = mask.expand(B, self.num_heads, T_q, T_k).reshape(B * self.num_heads, T_q, T_k)
            scores = scores.masked_fill(mask == 0, -1e9)
        attn = F.softmax(scores, dim=-1)
        self.attention_weights = attn.view(B, self.num_heads, T_q, T_k)

        out = torch.bmm(self.dropout(attn), v)  # (B*h, T_q, d_k)
        out = out.view(B, self.num_heads, T_q, self.d_k).transpose(1, 2).reshape(B, T_q, self.d_model)
        return self.w_o(out)
