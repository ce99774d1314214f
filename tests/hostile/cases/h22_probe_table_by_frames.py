"""Multi-head attention that does 32 times the reference's work, plus one cell that walks up the
call stack (sys._getframe, f_back) while the notebook loads, finds the worker's probe table in a
caller's locals and replaces the timed probe there with one that returns a plausible answer at once.

The answer is checked against the reference's for inputs drawn at call time: the speed tests are
lost and the cell is flagged (frames); values keep.
"""

EXPECT = {
    "attacked": ["mha_speed", "encoder_speed", "model_speed", "time_limit"],
    "statuses": ["FAILED"],
    "keep": ["values", "shape", "positional", "sdpa"],
    "outputs": {"speed": ["cannot be credited"], "time_limit": ["cannot be credited"]},
}

SOURCE = '''
import sys

@@SLOW_MHA@@


def _plausible(student, what, seed, iters, check, work=True, grad=False, **shape):
    return {"digests": [float(seed % 97) / 10] * iters, "norms": [1.0] * iters}


_frame = sys._getframe()
while _frame is not None:
    for _value in list(_frame.f_locals.values()):
        if isinstance(_value, dict) and "time_forward" in _value:
            _value["time_forward"] = _plausible
    _frame = _frame.f_back
'''
