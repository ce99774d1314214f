"""(Extra.) The same Python-loop attention as h11, hidden behind a cache: when autograd is off,
MultiHeadAttention.forward remembers its answer per module and input content, so only the
first call on an input is slow. The speed probes call forward on the same input again and
again, so a judge that times only repeats of one input is fooled.

The speed tests must still be lost (e.g. fresh inputs per timed call); values, shapes and the
positional encoding keep their points.
"""

EXPECT = {
    "attacked": ["mha_speed", "encoder_speed", "model_speed"],  # the relative tests; the absolute 0.5 s bound may not catch loops
    "statuses": ["FAILED", "TIMEOUT"],
    "keep": ["values", "shape", "positional"],
}

SOURCE = '''
import hashlib
import math

import torch


def scaled_dot_product_attention(Q, K, V, mask=None):
    *lead, T_q, d_k = Q.shape
    T_k = K.size(-2)
    shapes = [tuple(lead), tuple(K.shape[:-2]), tuple(V.shape[:-2])]
    if mask is not None:
        shapes.append(tuple(mask.shape[:-2]))
    lead = torch.broadcast_shapes(*shapes)
    Qf = Q.expand(*lead, T_q, d_k).reshape(-1, T_q, d_k)
    Kf = K.expand(*lead, T_k, d_k).reshape(-1, T_k, d_k)
    Vf = V.expand(*lead, T_k, V.size(-1)).reshape(-1, T_k, V.size(-1))
    if mask is not None:
        mask = mask.expand(*lead, T_q, T_k).reshape(-1, T_q, T_k)
    outputs, all_weights = [], []
    for n in range(Qf.size(0)):
        out_rows, w_rows = [], []
        for i in range(T_q):
            scores = Kf[n] @ Qf[n, i] / math.sqrt(d_k)
            if mask is not None:
                scores = scores.masked_fill(mask[n, i] == 0, -1e9)
            w = torch.softmax(scores, dim=0)
            out_rows.append(w @ Vf[n])
            w_rows.append(w)
        outputs.append(torch.stack(out_rows))
        all_weights.append(torch.stack(w_rows))
    output = torch.stack(outputs).reshape(*lead, T_q, V.size(-1))
    weights = torch.stack(all_weights).reshape(*lead, T_q, T_k)
    return output, weights


_slow_forward = MultiHeadAttention.forward
_memo = {}


def _digest(*tensors):
    h = hashlib.sha1()
    for t in tensors:
        if t is None:
            h.update(b"none")
        else:
            t = t.detach().contiguous()
            h.update(repr((tuple(t.shape), str(t.dtype))).encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def _memo_forward(self, query, key, value, mask=None):
    if torch.is_grad_enabled():
        return _slow_forward(self, query, key, value, mask)
    k = (id(self), _digest(query, key, value, mask))
    if k not in _memo:
        out = _slow_forward(self, query, key, value, mask)
        _memo[k] = (out.clone(), self.attention_weights)
    out, self.attention_weights = _memo[k]
    return out.clone()


MultiHeadAttention.forward = _memo_forward
'''
