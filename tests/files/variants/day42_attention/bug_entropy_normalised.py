"""Bug: the entropy is normalised by log(T_k) (a score in [0, 1]), which divides by log(1) = 0 when
there is one key: NaN there, with no weight exactly 0. The message must not blame 0 * log 0."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_entropy_of_uniform_weights_is_log_T", "test_entropy_matches_reference"],
    "keep": ["test_entropy_of_one_hot_weights_is_zero", "test_entropy_shapes", "decoder", "relative", "causality"],
    "says": {"test_entropy_of_uniform_weights_is_log_T": ["does not come from 0 * log 0"]},
    "never_says": {"test_entropy_of_uniform_weights_is_log_T": ["torch.xlogy", "must add 0"]},
}


def attention_entropy(weights):
    h, T_k = weights.shape[-3], weights.shape[-1]
    row = -torch.xlogy(weights, weights).sum(-1) / math.log(T_k)
    return row.mean(-1).reshape(-1, h).mean(0)
