"""Bug: off-by-one causal mask, torch.tril(..., diagonal=1): every position also sees the next one.
The shape is right and the decoder itself is right; only what uses causal_mask leaks the future."""

EXPECT = {
    "full_marks": False,
    "lose": ["causality"],
    "keep": ["test_shape.py", "test_softmax.py", "test_values.py", "test_gradient.py", "test_cross_attention.py",
             "test_relative_bias.py", "test_entropy.py", "test_integration.py", "test_decoder_honours_tgt_mask"],
    "says": {"test_decoder_with_your_causal_mask_hides_the_future": ["causal_mask(T) is not 1 exactly"]},
}


def causal_mask(T):
    return torch.tril(torch.ones(T, T), diagonal=1)
