"""Bug: distances beyond max_distance wrap around the table (% (2D + 1)) instead of being clipped.
Right within max_distance, wrong beyond it, and no index ever out of range."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_relative_bias_is_clipped", "test_relative_bias_matches_reference"],
    "keep": ["test_relative_bias_looks_up_distance", "test_relative_bias_shapes", "decoder", "causality", "entropy"],
    "says": {"test_relative_bias_is_clipped": ["within max_distance the lookup is right", "clipped to"]},
}


class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, max_distance):
        super().__init__()
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, num_heads)

    def forward(self, T_q, T_k):
        distance = torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]
        rows = (distance + self.max_distance) % (2 * self.max_distance + 1)
        return self.bias(rows).permute(2, 0, 1)
