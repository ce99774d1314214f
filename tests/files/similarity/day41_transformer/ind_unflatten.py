"""Independent solution: queries pre-scaled, heads split with unflatten/movedim, in-place mask
fill, positional table from torch.outer, the layer's sublayers through one helper."""
# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    # scale the queries first, it is the same as scaling the scores
    Q = Q / math.sqrt(Q.size(-1))
    att = Q @ K.mT
    if mask is not None:
        att.masked_fill_(~mask.bool(), -1e9)
    att = F.softmax(att, -1)
    return att @ V, att

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        self.heads = num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.p_drop = dropout
        self.attention_weights = None

    def split(self, t):
        return t.unflatten(-1, (self.heads, -1)).movedim(-2, 1)

    def forward(self, query, key, value, mask=None):
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        heads_out, w = scaled_dot_product_attention(
            self.split(self.w_q(query)), self.split(self.w_k(key)), self.split(self.w_v(value)), mask)
        if self.training and self.p_drop:
            heads_out = F.dropout(w, self.p_drop) @ self.split(self.w_v(value))
        self.attention_weights = w.detach()
        merged = heads_out.movedim(1, -2).flatten(-2)
        return self.w_o(merged)

# %% positional_encoding
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        inv = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float) / d_model)
        ang = torch.outer(torch.arange(max_len, dtype=torch.float), inv)
        pe = torch.empty(max_len, d_model)
        pe[:, ::2] = ang.sin()
        pe[:, 1::2] = ang[:, : d_model // 2].cos()
        self.register_buffer("pe", pe[:, None, :])

    def forward(self, x):
        return self.drop(x + self.pe[: x.shape[0]])

# %% transformer_encoder_layer
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff),
            nn.ReLU(inplace=False),
            nn.Dropout(dropout),
            nn.Linear(d_ff, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def sublayer(self, x, out, norm):
        return norm(x + self.drop(out))

    def forward(self, x, mask=None):
        x = self.sublayer(x, self.self_attn(x, x, x, mask), self.norm1)
        x = self.sublayer(x, self.feed_forward(x), self.norm2)
        return x

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList([TransformerEncoderLayer(d_model, num_heads, d_ff, dropout)
                                     for i in range(num_layers)])
        self.classifier = nn.Linear(d_model, num_classes)
        self.emb_scale = d_model ** 0.5

    def forward(self, x, mask=None):
        if mask is not None:
            mask = mask.reshape(x.shape[0], 1, x.shape[1])
        out = self.pos_encoding((self.embedding(x) * self.emb_scale).transpose(0, 1)).transpose(0, 1)
        for lyr in self.layers:
            out = lyr(out, mask)
        if mask is None:
            feat = out.mean(dim=-2)
        else:
            m = mask.transpose(-1, -2).float()
            feat = (out * m).sum(-2) / m.sum(-2).clamp(min=1.0)
        return self.classifier(feat)

# %% causal_mask
def causal_mask(T):
    return torch.ones(T, T).triu(1).logical_not().float()

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    from matplotlib.figure import Figure

    if weights.dim() != 2:
        raise ValueError("plot_attention wants a 2-D tensor")
    f = Figure(figsize=(6, 5), tight_layout=True)
    a = f.add_subplot(1, 1, 1)
    img = a.matshow(weights.detach().cpu().numpy(), cmap="Blues")
    f.colorbar(img, ax=a)
    a.set_xlabel("attended (key)")
    a.set_ylabel("attending (query)")
    if title:
        a.set_title(title)
    f.savefig(path)
    return path
