"""Bug: the entropy in bits (torch.log2) instead of nats. 0 for one-hot weights either way, but
uniform weights give log2(T_k) instead of log(T_k) and every other value is 1/ln 2 too large."""

EXPECT = {
    "full_marks": False,
    "lose": ["test_entropy_of_uniform_weights_is_log_T", "test_entropy_matches_reference"],
    "keep": ["test_entropy_of_one_hot_weights_is_zero", "test_entropy_shapes", "test_entropy_speed",
             "decoder", "relative", "causality", "cross_attention", "integration"],
}


def attention_entropy(weights):
    plogp = torch.where(weights > 0, weights * torch.log2(weights.clamp_min(1e-30)), torch.zeros_like(weights))
    h = weights.shape[-3]
    return (-plogp.sum(-1)).mean(-1).reshape(-1, h).mean(0)
