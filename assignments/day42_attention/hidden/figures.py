"""Pictures for the Day 42 feedback pages: drawn in the trusted lane (see autograder/figures.py).

The inputs are fixed, small and the same for every student; they are shown to students and are
not those of any hidden test.
"""
_DECODER = {"seed": 0, "d_model": 16, "num_heads": 2, "d_ff": 32, "B": 1, "T": 6, "S": 5, "tgt_mask": "causal"}

FIGURES = [
    {"title": "Decoder masked self-attention, head 1 (target × target)", "probe": "decoder", "args": _DECODER,
     "key": "self_weights", "index": [0, 0], "kind": "heatmap", "what": "self_attn.attention_weights",
     "xlabel": "key position", "ylabel": "query position",
     "caption": "TransformerDecoderLayer(16, 2, 32) with a causal target mask on 6 random target tokens: "
                "everything above the diagonal should be 0."},
    {"title": "Decoder cross-attention, head 1 (target × source)", "probe": "decoder", "args": _DECODER,
     "key": "cross_weights", "index": [0, 0], "kind": "heatmap", "what": "cross_attn.attention_weights",
     "xlabel": "source (memory) position", "ylabel": "target position"},
    {"title": "Relative position bias, head 1 (query × key)", "probe": "relative_bias",
     "args": {"seed": 3, "num_heads": 2, "max_distance": 3, "T_q": 10, "T_k": 10}, "key": "output",
     "index": [0], "kind": "heatmap", "what": "RelativePositionBias(2, 3)(10, 10)", "cmap": "RdBu_r", "symmetric": True,
     "xlabel": "key position", "ylabel": "query position",
     "caption": "RelativePositionBias(2, max_distance=3) with a seeded table: constant along each diagonal, "
                "and constant beyond distance 3."},
]
