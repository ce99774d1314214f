"""Independent solution in the style of the lecture's annotated Transformer: a clones() helper,
the four projections in a ModuleList-free loop, comments naming the paper's equations."""
# %% imports_extra
import copy

# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    "Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V   (eq. 1)"
    d_k = Q.size(-1)
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)
    return torch.matmul(p_attn, V), p_attn

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0):
        "Take in model size and number of heads."
        super().__init__()
        assert d_model % num_heads == 0
        # We assume d_v always equals d_k
        self.d_k = d_model // num_heads
        self.h = num_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.attention_weights = None
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, query, key, value, mask=None):
        "MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O   (eq. 4)"
        if mask is not None and mask.dim() == 3:
            # Same mask applied to all h heads.
            mask = mask.unsqueeze(1)
        nbatches = query.size(0)

        # 1) Do all the linear projections in batch from d_model => h x d_k
        query, key, value = [
            lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
            for lin, x in zip((self.w_q, self.w_k, self.w_v), (query, key, value))
        ]

        # 2) Apply attention on all the projected vectors in batch.
        x, self.attention_weights = scaled_dot_product_attention(query, key, value, mask=mask)
        if self.training:
            x = torch.matmul(self.dropout(self.attention_weights), value)
        self.attention_weights = self.attention_weights.detach()

        # 3) "Concat" using a view and apply a final linear.
        x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        del query
        del key
        del value
        return self.w_o(x)

# %% positional_encoding
class PositionalEncoding(nn.Module):
    "Implement the PE function."

    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)

        # Compute the positional encodings once in log space.
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
        pe = pe.unsqueeze(1)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[: x.size(0)].requires_grad_(False)
        return self.dropout(x)

# %% transformer_encoder_layer
def clones(module, N):
    "Produce N identical layers."
    return nn.ModuleList([copy.deepcopy(module) for _ in range(N)])


class TransformerEncoderLayer(nn.Module):
    "Encoder is made up of self-attn and feed forward (defined below)"

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.size = d_model

    def forward(self, x, mask=None):
        "Follow Figure 1 (left) for connections."
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
        return self.norm2(x + self.dropout(self.feed_forward(x)))

# %% simple_transformer
class SimpleTransformer(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.layers = clones(TransformerEncoderLayer(d_model, num_heads, d_ff, dropout), num_layers)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        "Embeddings, then the encoder stack, then a mean-pool classifier."
        if mask is not None and mask.dim() == 2:
            mask = mask.unsqueeze(-2)
        x = self.embedding(x) * math.sqrt(self.d_model)
        x = self.pos_encoding(x.transpose(0, 1)).transpose(0, 1)
        for layer in self.layers:
            x = layer(x, mask)
        if mask is None:
            return self.classifier(x.mean(dim=1))
        lengths = mask.sum(dim=-1).clamp(min=1)
        pooled = torch.matmul(mask.to(x.dtype), x).squeeze(1) / lengths
        return self.classifier(pooled)

# %% causal_mask
def causal_mask(T):
    "Mask out subsequent positions."
    attn_shape = (T, T)
    subsequent_mask = torch.triu(torch.ones(attn_shape), diagonal=1).type(torch.uint8)
    return (subsequent_mask == 0).float()

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    "Draw one attention map to a PNG."
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if weights.dim() != 2:
        raise ValueError("attention map must be 2-D")
    fig = Figure(figsize=(4.5, 4))
    canvas = FigureCanvasAgg(fig)
    ax = fig.gca()
    heat = ax.imshow(weights.detach().cpu().numpy(), vmin=0.0, vmax=1.0)
    fig.colorbar(heat)
    ax.set_xlabel("Key")
    ax.set_ylabel("Query")
    if title:
        ax.set_title(title)
    canvas.print_png(path)
    return path
