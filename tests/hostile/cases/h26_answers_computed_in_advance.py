"""A slow multi-head attention (32 times the work) behind a table of answers computed while the
notebook loads, for the inputs a judge with predictable seeds would time (seeds 1000 to 1199 of
the grader's own recipe, the scheme of an earlier version), looked up by the input's bytes.

The judge draws every timed input's seed at call time, so no answer in the table is ever used:
the speed tests are lost; values keep.
"""

EXPECT = {
    "attacked": ["mha_speed", "encoder_speed", "model_speed"],
    "statuses": ["FAILED"],
    "keep": ["values", "shape", "positional", "sdpa"],
    "outputs": {"mha_speed": ["x the reference's time"]},
}

SOURCE = '''
import torch

_mha_once = MultiHeadAttention.forward
_answers = {}


def _thirty_two_times(self, query, key, value, mask=None):
    for _ in range(31):
        _mha_once(self, query, key, value, mask)
    return _mha_once(self, query, key, value, mask)


def _from_the_table(self, query, key, value, mask=None):
    found = _answers.get(query.detach().numpy().tobytes()) if not torch.is_grad_enabled() else None
    return found.clone() if found is not None else _thirty_two_times(self, query, key, value, mask)


_mha = MultiHeadAttention(64, 4).eval()
with torch.no_grad():
    for _seed in range(1000, 1200):
        _x = torch.randn(8, 64, 64, generator=torch.Generator().manual_seed(_seed))
        _answers[_x.numpy().tobytes()] = _mha_once(_mha, _x, _x, _x)
MultiHeadAttention.forward = _from_the_table
'''
