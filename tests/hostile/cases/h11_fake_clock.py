"""Attention written with Python loops over every (batch, head) slice and every query position
(tests/files/variants/bug_python_loops.py), plus a frozen clock in the worker: time.perf_counter,
perf_counter_ns, monotonic, monotonic_ns, time, time_ns and process_time return constants.

The judge times probes from its own process, so the speed tests are still lost; values, shapes
and the positional encoding keep their points.
"""

EXPECT = {
    "attacked": ["mha_speed", "encoder_speed", "model_speed"],  # the relative tests; the absolute 0.5 s bound may not catch loops
    "statuses": ["FAILED", "TIMEOUT"],
    "keep": ["values", "shape", "positional"],
}

SOURCE = '''
import math
import time

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


time.perf_counter = lambda: 1.0
time.perf_counter_ns = lambda: 1_000_000_000
time.monotonic = lambda: 1.0
time.monotonic_ns = lambda: 1_000_000_000
time.time = lambda: 1_700_000_000.0
time.time_ns = lambda: 1_700_000_000_000_000_000
time.process_time = lambda: 0.0
'''
