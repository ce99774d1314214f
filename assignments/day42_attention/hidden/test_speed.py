"""Speed: forward passes timed by the judge on inputs it draws at call time, against the reference
in the same run, interleaved; credited only for outputs the judge verified (judge/timing.py).

The relative bias and the entropy are a handful of cheap tensor ops, so correct vectorised
alternatives (one-hot matmuls, torch.where) can be several times slower than the reference
without being wrong. Their tests allow LOOP_FACTOR, which only element-by-element Python loops
exceed; the decoder layer is judged with the course's speed_factor.
"""
from autograder.judge import compare_speed, expect_speed, points

DECODER = dict(d_model=64, num_heads=4, d_ff=128, B=8, T=64, S=64)
BIAS = dict(num_heads=8, max_distance=16, T=96)
ENTROPY = dict(B=8, heads=8, T=64)
LOOP_FACTOR = 25.0


@points(2)
def test_decoder_speed(submission, reference, settings):
    """Is your decoder layer's forward pass within the allowed factor of the reference's speed?"""
    result = compare_speed(submission, reference, "time_forward", settings.speed_factor, settings,
                           what="decoder", **DECODER)
    expect_speed(result, settings.speed_factor, "TransformerDecoderLayer forward")


@points(1)
def test_relative_bias_speed(submission, reference, settings):
    """Is your relative position bias for 96 x 96 positions vectorised (no Python loop over pairs of positions)?"""
    factor = max(settings.speed_factor, LOOP_FACTOR)
    result = compare_speed(submission, reference, "time_forward", factor, settings, what="relative_bias", **BIAS)
    expect_speed(result, factor, "RelativePositionBias forward")


@points(1)
def test_entropy_speed(submission, reference, settings):
    """Is your attention_entropy on a (8, 8, 64, 64) batch vectorised (no Python loop over rows or weights)?"""
    factor = max(settings.speed_factor, LOOP_FACTOR)
    result = compare_speed(submission, reference, "time_forward", factor, settings, what="entropy", **ENTROPY)
    expect_speed(result, factor, "attention_entropy")
