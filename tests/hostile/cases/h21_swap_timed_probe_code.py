"""Multi-head attention that does 32 times the reference's work, plus one cell that finds the timed
probe through the garbage collector and replaces its __code__ with a function that does nothing
and answers at once (the attack that once scored 58/58 with every speed test PASSED).

The judge draws each timed call's inputs at call time and checks the outputs' digests against the
reference's: the speed tests are lost, the cell is flagged (code swap, gc), and values keep.
"""

EXPECT = {
    "attacked": ["mha_speed", "encoder_speed", "model_speed", "time_limit"],
    "statuses": ["FAILED"],
    "keep": ["values", "shape", "positional", "sdpa"],
    "outputs": {"speed": ["cannot be credited"], "time_limit": ["cannot be credited"]},
}

SOURCE = '''
import gc

@@SLOW_MHA@@


def _answer_at_once(student, what, seed, iters, check, work=True, grad=False, **shape):
    return {"digests": [0.0] * iters, "norms": [1.0] * iters}


gc.unfreeze()  # the zygote froze what it loaded: bring the probes back into view
for _obj in gc.get_objects():
    if callable(_obj) and getattr(_obj, "__name__", "") == "time_forward" and hasattr(_obj, "__code__"):
        _obj.__code__ = _answer_at_once.__code__
'''
