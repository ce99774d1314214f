"""Bug: -sum(w * log(w)) without the 0 * log 0 = 0 rule: NaN as soon as a weight is exactly 0."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_entropy_of_one_hot_weights_is_zero", "test_entropy_of_causal_weights",
             "test_entropy_averages_over_queries_and_batch"],
    "keep": ["test_entropy_matches_reference", "test_entropy_of_uniform_weights_is_log_T", "test_entropy_shapes",
             "decoder", "relative", "causality"],
    "says": {"test_entropy_of_one_hot_weights_is_zero": ["finite once no weight is exactly 0", "torch.xlogy"]},
}


def attention_entropy(weights):
    h = weights.shape[-3]
    row = -(weights * torch.log(weights)).sum(-1)
    return row.mean(-1).reshape(-1, h).mean(0)
