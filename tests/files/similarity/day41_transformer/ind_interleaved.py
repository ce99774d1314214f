"""Independent solution: compact view(B, -1, h, d) reshapes, the positional table interleaved
with torch.stack, masked mean pooling through masked_fill, tril_ for the causal mask."""
# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    d = Q.size(-1)
    w = (Q @ K.transpose(-2, -1)).div(d ** 0.5)
    if mask is not None:
        w = w.masked_fill(mask == 0, float(-1e9))
    w = torch.softmax(w, dim=-1)
    return w @ V, w

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        assert not d_model % num_heads, f"{d_model} % {num_heads} != 0"
        self.nh, self.hd = num_heads, d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.do = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        B = query.size(0)
        proj = lambda lin, t: lin(t).view(B, -1, self.nh, self.hd).transpose(1, 2)
        q, k, v = proj(self.w_q, query), proj(self.w_k, key), proj(self.w_v, value)
        m = mask.unsqueeze(1) if mask is not None and mask.dim() == 3 else mask
        y, a = scaled_dot_product_attention(q, k, v, m)
        self.attention_weights = a.detach()
        if self.training:
            y = self.do(a) @ v
        y = y.transpose(1, 2).reshape(B, -1, self.nh * self.hd)
        return self.w_o(y)

# %% positional_encoding
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        half = (d_model + 1) // 2
        k = torch.arange(half, dtype=torch.float)
        omega = torch.exp(k * (-2.0 * math.log(10000.0) / d_model))
        p = torch.arange(max_len, dtype=torch.float).unsqueeze(1) * omega
        pe = torch.stack([p.sin(), p.cos()], dim=-1).flatten(1)[:, :d_model]
        self.register_buffer("pe", pe.unsqueeze(1).contiguous())

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0), :, :])

# %% transformer_encoder_layer
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        layers = [nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)]
        self.feed_forward = nn.Sequential(*layers)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        y = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
        return self.norm2(y + self.dropout(self.feed_forward(y)))

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.d = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList([TransformerEncoderLayer(d_model, num_heads, d_ff, dropout)
                                     for _ in range(num_layers)])
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        B, T = x.shape
        pad = None if mask is None else mask.view(B, 1, T)
        e = self.embedding(x) * math.sqrt(self.d)
        e = self.pos_encoding(e.transpose(0, 1)).transpose(0, 1)
        for layer in self.layers:
            e = layer(e, pad)
        if pad is None:
            return self.classifier(e.mean(1))
        valid = pad.view(B, T, 1) != 0
        n = valid.sum(1).clamp(min=1)
        return self.classifier(e.masked_fill(~valid, 0.0).sum(1) / n)

# %% causal_mask
def causal_mask(T):
    return torch.ones(T, T).tril_()

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    arr = weights.detach().cpu().numpy()
    if arr.ndim != 2:
        raise ValueError("expected 2-D attention weights")
    plt.figure()
    plt.imshow(arr, cmap="hot")
    plt.colorbar(label="weight")
    plt.xlabel("key")
    plt.ylabel("query")
    plt.title(title if title else "attention")
    plt.savefig(path)
    plt.close()
    return path
