"""Independent solution: heads folded into the batch for torch.bmm, small helper methods, a
separate dropout per sublayer, mask handled with torch.where."""
# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    """Compute softmax(Q K^T / sqrt(d_k)) V.

    Returns (output, weights).
    """
    scale = 1.0 / math.sqrt(K.size(-1))
    s = torch.matmul(Q, K.transpose(-1, -2)) * scale
    if mask is not None:
        s = torch.where(mask.bool(), s, torch.full_like(s, -1e9))
    p = F.softmax(s, dim=-1)
    out = torch.matmul(p, V)
    return out, p

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    """h attention heads, computed in parallel and mixed by w_o."""

    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        assert d_model % num_heads == 0
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.d_model = d_model
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)
        self.attention_weights = None

    def _to_heads(self, t):
        # (B, T, D) -> (B*H, T, Dh)
        b, length, _ = t.size()
        t = t.view(b, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        return t.reshape(b * self.num_heads, length, self.head_dim)

    def _from_heads(self, t, b):
        # (B*H, T, Dh) -> (B, T, D)
        _, length, _ = t.size()
        t = t.view(b, self.num_heads, length, self.head_dim).permute(0, 2, 1, 3)
        return t.reshape(b, length, self.d_model)

    def forward(self, query, key, value, mask=None):
        b, tq, tk = query.size(0), query.size(1), key.size(1)
        qh = self._to_heads(self.w_q(query))
        kh = self._to_heads(self.w_k(key))
        vh = self._to_heads(self.w_v(value))
        scores = torch.bmm(qh, kh.transpose(1, 2)) / math.sqrt(self.head_dim)
        if mask is not None:
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            full = torch.broadcast_to(mask, (b, self.num_heads, tq, tk))
            scores = scores.masked_fill(full.reshape(b * self.num_heads, tq, tk) == 0, -1e9)
        probs = torch.softmax(scores, dim=2)
        self.attention_weights = probs.view(b, self.num_heads, tq, tk).detach()
        ctx = torch.bmm(self.attn_drop(probs), vh)
        return self.w_o(self._from_heads(ctx, b))

# %% positional_encoding
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        freqs = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
        t = torch.arange(0, max_len, dtype=torch.float32).unsqueeze(-1)
        args = t * freqs
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(args)
        pe[:, 1::2] = torch.cos(args)[:, : d_model // 2]
        self.register_buffer("pe", pe.unsqueeze(1))

    def forward(self, x):
        seq_len = x.size(0)
        x = x + self.pe[:seq_len]
        return self.dropout(x)

# %% transformer_encoder_layer
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.feed_forward = nn.Sequential()
        self.feed_forward.add_module("fc1", nn.Linear(d_model, d_ff))
        self.feed_forward.add_module("act", nn.ReLU())
        self.feed_forward.add_module("drop", nn.Dropout(dropout))
        self.feed_forward.add_module("fc2", nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        residual = x
        x = self.self_attn(x, x, x, mask=mask)
        x = self.norm1(residual + self.dropout1(x))
        residual = x
        x = self.feed_forward(x)
        x = self.norm2(residual + self.dropout2(x))
        return x

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len=max_len, dropout=dropout)
        blocks = []
        for _ in range(num_layers):
            blocks.append(TransformerEncoderLayer(d_model, num_heads, d_ff, dropout))
        self.layers = nn.ModuleList(blocks)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        batch, length = x.size()
        emb = self.embedding(x) * (self.d_model ** 0.5)
        emb = self.pos_encoding(emb.transpose(0, 1))
        h = emb.transpose(0, 1)
        attn_mask = None
        if mask is not None:
            attn_mask = mask.view(batch, 1, length)
        for block in self.layers:
            h = block(h, attn_mask)
        if attn_mask is None:
            pooled = h.sum(dim=1) / length
        else:
            w = attn_mask.transpose(1, 2).to(h.dtype)
            pooled = torch.bmm(w.transpose(1, 2), h).squeeze(1) / w.sum(dim=1).clamp(min=1)
        return self.classifier(pooled)

# %% causal_mask
def causal_mask(T):
    """(T, T) mask with 1 on and below the diagonal."""
    m = torch.ones(T, T)
    return m.tril()

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg as Canvas

    data = weights.detach().to("cpu")
    if data.ndim != 2:
        raise ValueError("weights must be 2-D, got " + str(tuple(data.shape)))
    figure = Figure()
    Canvas(figure)
    axes = figure.subplots()
    mappable = axes.pcolormesh(data.numpy())
    axes.invert_yaxis()
    figure.colorbar(mappable, ax=axes)
    axes.set_xlabel("keys")
    axes.set_ylabel("queries")
    if title is not None:
        axes.set_title(title)
    figure.savefig(path, dpi=100)
    return path
