"""Independent solution: einsum everywhere, heads kept as their own axis, pyplot for the bonus plot."""
# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    """Compute softmax(Q K^T / sqrt(d_k)) V."""
    dk = Q.shape[-1]
    logits = torch.einsum("...id,...jd->...ij", Q, K) * dk ** -0.5
    if mask is not None:
        logits = logits.masked_fill(mask == 0, -1e9)   # big negative, not -inf (no NaN rows)
    attn = logits.softmax(dim=-1)
    return torch.einsum("...ij,...jd->...id", attn, V), attn

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError("num_heads has to divide d_model")
        self.h = num_heads
        self.dh = d_model // num_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.drop = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        n, tq, dm = query.shape
        tk = key.shape[1]
        # heads stay a separate axis: (n, t, h, dh)
        q = self.w_q(query).reshape(n, tq, self.h, self.dh)
        k = self.w_k(key).reshape(n, tk, self.h, self.dh)
        v = self.w_v(value).reshape(n, tk, self.h, self.dh)
        logits = torch.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(self.dh)
        if mask is not None:
            if mask.ndim == 3:
                mask = mask[:, None]
            logits = logits.masked_fill(mask == 0, -1e9)
        attn = logits.softmax(-1)
        self.attention_weights = attn.detach()
        ctx = torch.einsum("nhqk,nkhd->nqhd", self.drop(attn), v)
        return self.w_o(ctx.reshape(n, tq, dm))

# %% positional_encoding
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pos = torch.arange(max_len).float()[:, None]
        i2 = torch.arange(0, d_model, 2).float()
        theta = pos / torch.pow(10000.0, i2 / d_model)
        table = torch.zeros(max_len, 1, d_model)
        table[:, 0, 0::2] = theta.sin()
        table[:, 0, 1::2] = theta.cos()[:, : d_model // 2]
        self.register_buffer("pe", table)

    def forward(self, x):
        return self.dropout(x + self.pe[: len(x)])

# %% transformer_encoder_layer
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_ff, d_model))
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        a = self.self_attn(x, x, x, mask)
        x = self.norm1(x + self.dropout(a))
        f = self.feed_forward(x)
        return self.norm2(x + self.dropout(f))

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.scale = math.sqrt(d_model)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(TransformerEncoderLayer(d_model, num_heads, d_ff, dropout)
                                    for _ in range(num_layers))
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        if mask is not None and mask.ndim == 2:
            mask = mask[:, None, :]
        z = self.embedding(x) * self.scale
        z = self.pos_encoding(z.permute(1, 0, 2)).permute(1, 0, 2)
        for enc in self.layers:
            z = enc(z, mask)
        if mask is None:
            return self.classifier(z.mean(1))
        keep = mask.squeeze(1).unsqueeze(-1).float()
        summed = (z * keep).sum(1)
        return self.classifier(summed / keep.sum(1).clamp_min(1.0))

# %% causal_mask
def causal_mask(T):
    i = torch.arange(T)
    return (i[None, :] <= i[:, None]).float()

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = weights.detach().cpu()
    assert w.dim() == 2, "need a (T_q, T_k) matrix"
    fig, ax = plt.subplots(figsize=(4, 4))
    im = ax.imshow(w.numpy(), cmap="magma", aspect="auto")
    fig.colorbar(im)
    ax.set(xlabel="key", ylabel="query", title=title or "")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
