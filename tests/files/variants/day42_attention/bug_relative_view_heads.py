"""Bug: the lookup's (T_q, T_k, h) result is turned into (h, T_q, T_k) with .view instead of
.permute, which mixes heads and positions. Distances, clipping and the table are all right."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_relative_bias_matches_reference", "test_relative_bias_looks_up_distance",
             "test_relative_bias_is_clipped"],
    "keep": ["test_relative_bias_shapes", "test_relative_bias_gradients_reach_the_table", "decoder", "causality",
             "cross_attention", "entropy"],
    "says": {"test_relative_bias_is_clipped": [".permute(2, 0, 1)"],
             "test_relative_bias_looks_up_distance": [".permute(2, 0, 1)"]},
    "never_says": {"test_relative_bias_is_clipped": ["clipped to"]},
}


class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, max_distance):
        super().__init__()
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, num_heads)

    def forward(self, T_q, T_k):
        distance = (torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]).clamp(-self.max_distance,
                                                                                    self.max_distance)
        return self.bias(distance + self.max_distance).view(self.num_heads, T_q, T_k)
