"""A slow multi-head attention (32 times the work) plus a cell that searches every dict the garbage
collector knows for the probe table (any dict with a "time_forward" entry: the worker's table and
probekit's) and replaces the timed probe with one that runs the forward pass once, on one fixed
input, and repeats its digest: cheap, and right for that one input.

The judge's inputs change with every call and round: the speed tests are lost, the cell is
flagged (gc); values keep.
"""

EXPECT = {
    "attacked": ["mha_speed", "encoder_speed", "model_speed"],
    "statuses": ["FAILED"],
    "keep": ["values", "shape", "positional", "sdpa"],
    "outputs": {"speed": ["cannot be credited"]},
}

SOURCE = '''
import gc

@@SLOW_MHA@@
gc.unfreeze()  # the zygote froze what it loaded: bring the probe tables back into view
_tables = [o for o in gc.get_objects() if isinstance(o, dict) and "time_forward" in o]
_real = _tables[0]["time_forward"] if _tables else None


def _once(student, what, seed, iters, check, work=True, grad=False, **shape):
    one = _real(student, what, 12345, 1, check, work, grad, **shape)
    return {"digests": one["digests"] * iters, "norms": one["norms"] * iters}


for _table in _tables:
    _table["time_forward"] = _once
'''
