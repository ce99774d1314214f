"""Bug: the relative distance is not clipped: row (j - i) + max_distance. Fine while every |j - i|
<= max_distance; beyond that the row is out of the table's range and the lookup raises IndexError."""

EXPECT = {
    "full_marks": False,
    "lose": ["relative_bias_is_clipped", "relative_bias_matches_reference", "relative_bias_gradients"],
    "keep": ["test_relative_bias_looks_up_distance", "test_relative_bias_depends_only_on_distance",
             "decoder", "causality", "cross_attention", "entropy", "integration"],
}


class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, max_distance):
        super().__init__()
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, num_heads)

    def forward(self, T_q, T_k):
        distance = torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]
        return self.bias(distance + self.max_distance).permute(2, 0, 1)
