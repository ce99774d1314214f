"""Bug: the distance is taken as i - j (query minus key) instead of j - i, so every bias is the one
of the mirrored distance. Shapes, clipping and gradients reaching the table are all fine."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_relative_bias_matches_reference", "test_relative_bias_looks_up_distance",
             "test_relative_bias_is_clipped", "test_relative_bias_gradients_match_reference"],
    "keep": ["test_relative_bias_shapes", "test_relative_bias_gradients_reach_the_table",
             "test_relative_bias_depends_only_on_distance", "test_relative_bias_speed",
             "decoder", "causality", "cross_attention", "entropy"],
    "says": {"test_relative_bias_is_clipped": ["i - j"]},
    "never_says": {"test_relative_bias_is_clipped": ["clipped to"]},
}


class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, max_distance):
        super().__init__()
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, num_heads)

    def forward(self, T_q, T_k):
        i = torch.arange(T_q)[:, None]
        j = torch.arange(T_k)[None, :]
        idx = (i - j).clamp(-self.max_distance, self.max_distance) + self.max_distance
        return self.bias(idx).permute(2, 0, 1)
