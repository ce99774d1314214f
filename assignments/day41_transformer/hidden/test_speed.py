"""Speed: forward passes timed by the judge on inputs it draws at call time, against the reference
in the same run, interleaved; credited only for outputs the judge verified (judge/timing.py)."""
from autograder.judge import compare_speed, expect_speed, fail, note, points, time_forward_once

MHA = dict(d_model=64, num_heads=4, B=8, T=64)
ENCODER = dict(d_model=64, num_heads=4, d_ff=128, B=8, T=64)
MODEL = dict(vocab_size=100, d_model=64, num_heads=4, num_layers=2, d_ff=128, B=8, T=64)
GUIDE_MODEL = dict(vocab_size=1000, d_model=128, num_heads=8, num_layers=2, d_ff=512, B=32, T=50)


@points(2)
def test_mha_speed(submission, reference, settings):
    """Is your multi-head attention forward pass within the allowed factor of the reference's speed?"""
    result = compare_speed(submission, reference, "time_forward", settings.speed_factor, settings, what="mha", **MHA)
    expect_speed(result, settings.speed_factor, "MultiHeadAttention forward")


@points(1)
def test_encoder_speed(submission, reference, settings):
    """Is your encoder layer's forward pass within the allowed factor of the reference's speed?"""
    result = compare_speed(submission, reference, "time_forward", settings.speed_factor, settings,
                           what="encoder", **ENCODER)
    expect_speed(result, settings.speed_factor, "TransformerEncoderLayer forward")


@points(1)
def test_model_speed(submission, reference, settings):
    """Is your model's forward pass within the allowed factor of the reference's speed?"""
    result = compare_speed(submission, reference, "time_forward", settings.speed_factor, settings,
                           what="model", **MODEL)
    expect_speed(result, settings.speed_factor, "SimpleTransformer forward")


@points(1)
def test_model_forward_under_time_limit(submission, reference, settings):
    """Does one forward pass of a guide-sized model (batch 32, length 50) take less than the guide's limit?"""
    # The fastest of a few passes: load on a shared machine only ever makes a pass slower.
    seconds, problem = time_forward_once(submission, reference, "time_forward", settings.forward_time_limit_s,
                                         what="model", **GUIDE_MODEL)
    if problem:
        fail(f"one forward pass: the timed call cannot be credited: {problem}")
    if seconds > settings.forward_time_limit_s:
        fail(f"one forward pass took {seconds:.2f} s; the limit is {settings.forward_time_limit_s:g} s")
    note(f"one forward pass took {seconds:.2f} s (limit {settings.forward_time_limit_s:g} s)")
