"""Speed: forward passes timed by the judge, against the reference in the same run, interleaved."""
from autograder.judge import compare_speed, expect_speed, points

DECODER = dict(d_model=64, num_heads=4, d_ff=128, B=8, T=64, S=64)
BIAS = dict(num_heads=8, max_distance=16, T=128)
ENTROPY = dict(B=8, heads=8, T=128)


@points(2)
def test_decoder_speed(submission, reference, settings):
    """Is your decoder layer's forward pass within the allowed factor of the reference's speed?"""
    ratio, _, _ = compare_speed(submission, reference, "time_forward", settings.speed_repeats, what="decoder",
                                **DECODER)
    expect_speed(ratio, settings.speed_factor, "TransformerDecoderLayer forward")


@points(1)
def test_relative_bias_speed(submission, reference, settings):
    """Is your relative position bias (128 x 128 positions) within the allowed factor of the reference's speed?"""
    ratio, _, _ = compare_speed(submission, reference, "time_forward", settings.speed_repeats, what="relative_bias",
                                iters=20, **BIAS)
    expect_speed(ratio, settings.speed_factor, "RelativePositionBias forward")


@points(1)
def test_entropy_speed(submission, reference, settings):
    """Is your attention_entropy on a (8, 8, 128, 128) batch within the allowed factor of the reference's speed?"""
    ratio, _, _ = compare_speed(submission, reference, "time_forward", settings.speed_repeats, what="entropy",
                                iters=5, **ENTROPY)
    expect_speed(ratio, settings.speed_factor, "attention_entropy")
