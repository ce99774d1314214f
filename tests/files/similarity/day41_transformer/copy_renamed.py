"""Planted copy of ind_einsum.py: every name the student chose is renamed (find and replace), the
comments and messages are reworded, the structure is untouched."""
# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    # attention = softmax(QK^T/sqrt(d)) V
    head_size = Q.shape[-1]
    energies = torch.einsum("...id,...jd->...ij", Q, K) * head_size ** -0.5
    if mask is not None:
        energies = energies.masked_fill(mask == 0, -1e9)  # masked -> tiny weight
    probs = energies.softmax(dim=-1)
    return torch.einsum("...ij,...jd->...id", probs, V), probs

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError("d_model must be a multiple of num_heads")
        self.n_heads = num_heads
        self.d_head = d_model // num_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.attn_dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        bsz, len_q, width = query.shape
        len_k = key.shape[1]
        # split into heads -> (batch, time, heads, head size)
        q = self.w_q(query).reshape(bsz, len_q, self.n_heads, self.d_head)
        k = self.w_k(key).reshape(bsz, len_k, self.n_heads, self.d_head)
        v = self.w_v(value).reshape(bsz, len_k, self.n_heads, self.d_head)
        energies = torch.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(self.d_head)
        if mask is not None:
            if mask.ndim == 3:
                mask = mask[:, None]
            energies = energies.masked_fill(mask == 0, -1e9)
        probs = energies.softmax(-1)
        self.attention_weights = probs.detach()
        mixed = torch.einsum("nhqk,nkhd->nqhd", self.attn_dropout(probs), v)
        return self.w_o(mixed.reshape(bsz, len_q, width))

# %% positional_encoding
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        positions = torch.arange(max_len).float()[:, None]
        even_dims = torch.arange(0, d_model, 2).float()
        phase = positions / torch.pow(10000.0, even_dims / d_model)
        block = torch.zeros(max_len, 1, d_model)
        block[:, 0, 0::2] = phase.sin()
        block[:, 0, 1::2] = phase.cos()[:, : d_model // 2]
        self.register_buffer("pe", block)

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
        att_out = self.self_attn(x, x, x, mask)
        x = self.norm1(x + self.dropout(att_out))
        ff_out = self.feed_forward(x)
        return self.norm2(x + self.dropout(ff_out))

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.emb_mult = math.sqrt(d_model)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(TransformerEncoderLayer(d_model, num_heads, d_ff, dropout)
                                    for _ in range(num_layers))
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        if mask is not None and mask.ndim == 2:
            mask = mask[:, None, :]
        hidden = self.embedding(x) * self.emb_mult
        hidden = self.pos_encoding(hidden.permute(1, 0, 2)).permute(1, 0, 2)
        for block in self.layers:
            hidden = block(hidden, mask)
        if mask is None:
            return self.classifier(hidden.mean(1))
        not_pad = mask.squeeze(1).unsqueeze(-1).float()
        total = (hidden * not_pad).sum(1)
        return self.classifier(total / not_pad.sum(1).clamp_min(1.0))

# %% causal_mask
def causal_mask(T):
    idx = torch.arange(T)
    # lower triangle = allowed
    return (idx[None, :] <= idx[:, None]).float()

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mat = weights.detach().cpu()
    assert mat.dim() == 2, "2D weights only"
    figure, axis = plt.subplots(figsize=(4, 4))
    artist = axis.imshow(mat.numpy(), cmap="magma", aspect="auto")
    figure.colorbar(artist)
    axis.set(xlabel="key", ylabel="query", title=title or "")
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path
