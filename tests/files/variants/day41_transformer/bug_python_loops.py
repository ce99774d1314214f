"""Slow but correct: attention is computed with Python for-loops over every (batch*head)
slice and every query position; values and gradients match, but it is far slower."""

EXPECT = {
    "full_marks": False,
    "lose": ["speed"],
    "keep": ["values", "shape", "positional"],
}


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
    for n in range(Qf.size(0)):          # every batch element / head
        out_rows, w_rows = [], []
        for i in range(T_q):             # every query position
            scores = Kf[n] @ Qf[n, i] / math.sqrt(d_k)   # (T_k,)
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
