"""Independent solution: numbered steps, the positional table built in numpy, an explicit mask
broadcast in multi-head attention, torch.triu for the causal mask."""
# %% scaled_dot_product_attention
def scaled_dot_product_attention(Q, K, V, mask=None):
    """Compute softmax(Q K^T / sqrt(d_k)) V.

    Args:
        Q: queries (..., T_q, d_k)
        K: keys    (..., T_k, d_k)
        V: values  (..., T_k, d_v)
        mask: optional, broadcastable to (..., T_q, T_k); where mask == 0 there is no attention.

    Returns:
        (output, weights): output (..., T_q, d_v), weights (..., T_q, T_k) with rows summing to 1.
    """
    # step 1: similarity of every query with every key
    key_dim = K.shape[-1]
    sim = torch.matmul(Q, torch.transpose(K, -2, -1))
    sim = sim / key_dim ** 0.5
    # step 2: hide what the mask forbids
    if mask is not None:
        sim = sim.masked_fill(mask.eq(0), -1.0e9)
    # step 3: normalise and mix the values
    alpha = torch.nn.functional.softmax(sim, dim=sim.dim() - 1)
    result = torch.matmul(alpha, V)
    return result, alpha

# %% multi_head_attention
class MultiHeadAttention(nn.Module):
    """h attention heads of width d_k = d_model // h, computed in parallel and mixed by w_o."""

    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        # YOUR CODE HERE
        self.n_heads = num_heads
        self.size_per_head = d_model // num_heads
        assert self.n_heads * self.size_per_head == d_model
        self.w_q = nn.Linear(d_model, d_model, bias=True)
        self.w_k = nn.Linear(d_model, d_model, bias=True)
        self.w_v = nn.Linear(d_model, d_model, bias=True)
        self.w_o = nn.Linear(d_model, d_model, bias=True)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        # YOUR CODE HERE
        batch_size = query.shape[0]
        # step 1: linear projections, then (batch, heads, time, size_per_head)
        Qh = self.w_q(query).view(batch_size, -1, self.n_heads, self.size_per_head).permute(0, 2, 1, 3)
        Kh = self.w_k(key).view(batch_size, -1, self.n_heads, self.size_per_head).permute(0, 2, 1, 3)
        Vh = self.w_v(value).view(batch_size, -1, self.n_heads, self.size_per_head).permute(0, 2, 1, 3)
        # step 2: one mask for every head
        if mask is not None:
            while mask.dim() < 4:
                mask = mask.unsqueeze(-3)
        context, alpha = scaled_dot_product_attention(Qh, Kh, Vh, mask)
        self.attention_weights = alpha.detach()
        if self.training:
            context = torch.matmul(self.dropout(alpha), Vh)
        # step 3: put the heads side by side again
        context = context.permute(0, 2, 1, 3).reshape(batch_size, -1, self.n_heads * self.size_per_head)
        return self.w_o(context)

# %% positional_encoding
class PositionalEncoding(nn.Module):
    """Adds fixed sinusoidal position information to sequence-first input."""

    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        import numpy as np

        self.dropout = nn.Dropout(dropout)
        positions = np.arange(max_len)[:, np.newaxis]
        dims = np.arange(d_model)[np.newaxis, :]
        rates = 1 / np.power(10000, (2 * (dims // 2)) / np.float32(d_model))
        angle = positions * rates
        angle[:, 0::2] = np.sin(angle[:, 0::2])
        angle[:, 1::2] = np.cos(angle[:, 1::2])
        self.register_buffer("pe", torch.tensor(angle, dtype=torch.float32).unsqueeze(1))

    def forward(self, x):
        T = x.size(0)
        return self.dropout(x + self.pe[:T])

# %% transformer_encoder_layer
class TransformerEncoderLayer(nn.Module):
    """Post-norm encoder layer."""

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        # step 1: attention sublayer
        attended = self.self_attn(x, x, x, mask)
        x = self.norm1(x + self.residual_dropout(attended))
        # step 2: position-wise feed forward
        transformed = self.feed_forward(x)
        x = self.norm2(x + self.residual_dropout(transformed))
        return x

# %% simple_transformer
class SimpleTransformer(nn.Module):
    """Encoder-only Transformer for sequence classification."""

    def __init__(self, vocab_size, d_model, num_heads, num_layers, d_ff, num_classes, max_len=5000, dropout=0.1):
        super().__init__()
        self.model_dim = d_model
        self.embedding = nn.Embedding(num_embeddings=vocab_size, embedding_dim=d_model)
        self.pos_encoding = PositionalEncoding(d_model=d_model, max_len=max_len, dropout=dropout)
        self.layers = nn.ModuleList()
        for layer_index in range(num_layers):
            self.layers.append(TransformerEncoderLayer(d_model, num_heads, d_ff, dropout))
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, x, mask=None):
        # step 1: token embeddings scaled by sqrt(d_model)
        embedded = self.embedding(x) * math.sqrt(self.model_dim)
        # step 2: positions (the encoding is sequence-first)
        encoded = self.pos_encoding(embedded.permute(1, 0, 2)).permute(1, 0, 2)
        # step 3: the encoder stack
        if mask is not None and mask.dim() == 2:
            mask = mask.unsqueeze(1)
        for encoder_layer in self.layers:
            encoded = encoder_layer(encoded, mask)
        # step 4: average over real tokens, classify
        if mask is not None:
            real = mask.squeeze(1).unsqueeze(2).type_as(encoded)
            average = torch.sum(encoded * real, dim=1) / torch.clamp(torch.sum(real, dim=1), min=1.0)
        else:
            average = torch.mean(encoded, dim=1)
        return self.classifier(average)

# %% causal_mask
def causal_mask(T):
    """(T, T) mask with 1 on and below the diagonal: position t attends to positions <= t."""
    upper = torch.triu(torch.ones(T, T), diagonal=1)
    return 1.0 - upper

# %% plot_attention
def plot_attention(weights, path="attention.png", title=None):
    """Save a heatmap of a 2-D attention-weight tensor (T_q, T_k) as a PNG at `path`; return `path`."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    if len(weights.shape) != 2:
        raise ValueError(f"weights should be (T_q, T_k), not {tuple(weights.shape)}")
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
