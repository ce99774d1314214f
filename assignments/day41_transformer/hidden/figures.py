"""Pictures for the Day 41 feedback pages: drawn in the trusted lane (see autograder/figures.py).

The inputs are fixed, small and the same for every student; they are shown to students and are
not those of any hidden test.
"""
_MHA = {"seed": 0, "d_model": 16, "num_heads": 2, "B": 1, "T_q": 6, "T_k": 6, "cross": False}

FIGURES = [
    {"title": f"Attention weights, head {h + 1} (query × key)", "probe": "mha", "args": _MHA,
     "key": "weights", "index": [0, h], "kind": "heatmap", "what": "MultiHeadAttention.attention_weights",
     "xlabel": "key position", "ylabel": "query position",
     "caption": "Self-attention of MultiHeadAttention(16, 2) on 6 random tokens; each row sums to 1."}
    for h in range(2)
] + [
    {"title": "Positional encoding (position × dimension)", "probe": "positional",
     "args": {"seed": 0, "d_model": 16, "T": 32, "B": 1}, "key": "from_zeros", "index": [None, 0],
     "kind": "heatmap", "what": "PositionalEncoding(16) applied to zeros", "cmap": "RdBu_r", "symmetric": True,
     "xlabel": "dimension", "ylabel": "position",
     "caption": "PositionalEncoding(16) added to zeros for 32 positions: the table itself."},
]
