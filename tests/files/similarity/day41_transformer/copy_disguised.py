"""Planted copy of ind_numpy_table.py with every disguise at once: names renamed, cells and
methods moved, comments and docstrings dropped or reworded, lines rewrapped, one bug added
(attention weights over the wrong axis in scaled_dot_product_attention) and a scratch cell."""
# %% causal_mask
def causal_mask(T):
    above = torch.triu(torch.ones(T, T), diagonal=1)
    return 1.0 - above

# %% transformer_encoder_layer
class TransformerEncoderLayer(nn.Module):
    def forward(self, x, mask=None):
        a = self.self_attn(x, x, x, mask)
        x = self.norm1(x + self.drop_res(a))
        b = self.feed_forward(x)
        x = self.norm2(x + self.drop_res(b))
        return x

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(d_ff, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.drop_res = nn.Dropout(dropout)

# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    dim = K.shape[-1]
    raw = torch.matmul(Q, torch.transpose(K, -2, -1))
    raw = raw / dim ** 0.5
    if mask is not None:
        raw = raw.masked_fill(mask.eq(0), -1.0e9)
    probs = torch.nn.functional.softmax(raw, dim=raw.dim() - 2)
    out = torch.matmul(probs, V)
    return out, probs

# %% positional_encoding
class PositionalEncoding(nn.Module):
    def forward(self, x):
        L = x.size(0)
        return self.dropout(x + self.pe[:L])

    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        import numpy as np

        self.dropout = nn.Dropout(dropout)
        p = np.arange(max_len)[:, np.newaxis]
        j = np.arange(d_model)[np.newaxis, :]
        r = 1 / np.power(10000, (2 * (j // 2)) / np.float32(d_model))
        ang = p * r
        ang[:, 0::2] = np.sin(ang[:, 0::2])
        ang[:, 1::2] = np.cos(ang[:, 1::2])
        self.register_buffer("pe", torch.tensor(ang, dtype=torch.float32).unsqueeze(1))

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    def forward(self, query, key, value, mask=None):
        bs = query.shape[0]
        q = self.w_q(query).view(bs, -1, self.heads, self.width).permute(0, 2, 1, 3)
        k = self.w_k(key).view(bs, -1, self.heads, self.width).permute(0, 2, 1, 3)
        v = self.w_v(value).view(bs, -1, self.heads, self.width).permute(0, 2, 1, 3)
        if mask is not None:
            while mask.dim() < 4:
                mask = mask.unsqueeze(-3)
        ctx, att = scaled_dot_product_attention(q, k, v, mask)
        self.attention_weights = att.detach()
        if self.training:
            ctx = torch.matmul(self.dropout(att), v)
        ctx = ctx.permute(0, 2, 1, 3).reshape(
            bs, -1, self.heads * self.width
        )
        return self.w_o(ctx)

    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        self.heads = num_heads
        self.width = d_model // num_heads
        assert self.heads * self.width == d_model
        self.w_q = nn.Linear(d_model, d_model, bias=True)
        self.w_k = nn.Linear(d_model, d_model, bias=True)
        self.w_v = nn.Linear(d_model, d_model, bias=True)
        self.w_o = nn.Linear(d_model, d_model, bias=True)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.dm = d_model
        self.embedding = nn.Embedding(num_embeddings=vocab_size, embedding_dim=d_model)
        self.pos_encoding = PositionalEncoding(d_model=d_model, max_len=max_len, dropout=dropout)
        self.layers = nn.ModuleList()
        for n in range(num_layers):
            self.layers.append(TransformerEncoderLayer(d_model, num_heads, d_ff, dropout))
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        e = self.embedding(x) * math.sqrt(self.dm)
        h = self.pos_encoding(e.permute(1, 0, 2)).permute(1, 0, 2)
        if mask is not None and mask.dim() == 2:
            mask = mask.unsqueeze(1)
        for lay in self.layers:
            h = lay(h, mask)
        if mask is not None:
            keep = mask.squeeze(1).unsqueeze(2).type_as(h)
            avg = torch.sum(h * keep, dim=1) / torch.clamp(torch.sum(keep, dim=1), min=1.0)
        else:
            avg = torch.mean(h, dim=1)
        return self.classifier(avg)

# %% scratch
out, w = scaled_dot_product_attention(torch.randn(1, 3, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 4))
print(out.shape, w.sum(-1))

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    if len(weights.shape) != 2:
        raise ValueError(f"bad shape {tuple(weights.shape)}")
    pyplot.figure(figsize=(5, 5))
    pyplot.imshow(weights.detach().cpu().numpy(), cmap="viridis", interpolation="nearest")
    pyplot.colorbar()
    pyplot.xlabel("key position")
    pyplot.ylabel("query position")
    if title is not None:
        pyplot.title(title)
    pyplot.savefig(path)
    pyplot.close()
    return path
