"""Day 42: run your attention code from attention.ipynb and print what it produces.

    python exercise.py             # shape checks + training example
    python exercise.py --no-train  # shape checks only

Exit code 0 when every part works, 1 otherwise.
"""
import argparse
import math
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "attention.ipynb"
sys.path.insert(0, str(HERE))

from notebook_loader import load_notebook  # noqa: E402


def check_shape(label, actual, expected):
    """Print the shape line; return False (and say what was expected) on a mismatch."""
    print(f"{label}: {actual}")
    if actual != torch.Size(expected):
        print(f"  expected {torch.Size(expected)}")
        return False
    return True


def check_day41(nb):
    mha = nb.MultiHeadAttention(d_model=512, num_heads=8)
    q, kv = torch.randn(2, 10, 512), torch.randn(2, 15, 512)
    ok = check_shape("Multi-head cross-attention output shape", mha(q, kv, kv).shape, (2, 10, 512))
    return check_shape("Multi-head attention weights shape", mha.attention_weights.shape, (2, 8, 10, 15)) and ok


def check_causal_mask(nb):
    mask = nb.causal_mask(5)
    ok = check_shape("Causal mask shape", mask.shape, (5, 5))
    print(mask)
    if ok and not torch.equal(mask.float(), torch.tril(torch.ones(5, 5))):
        print("  expected 1 on and below the diagonal, 0 above it")
        return False
    return ok


def check_decoder_layer(nb):
    layer = nb.TransformerDecoderLayer(d_model=512, num_heads=8, d_ff=2048)
    x, memory = torch.randn(2, 10, 512), torch.randn(2, 15, 512)
    out = layer(x, memory, tgt_mask=nb.causal_mask(10))
    ok = check_shape("Decoder layer output shape", out.shape, (2, 10, 512))
    ok = check_shape("Self-attention weights shape", layer.self_attn.attention_weights.shape, (2, 8, 10, 10)) and ok
    return check_shape("Cross-attention weights shape", layer.cross_attn.attention_weights.shape, (2, 8, 10, 15)) and ok


def check_relative_bias(nb):
    rpb = nb.RelativePositionBias(num_heads=8, max_distance=4)
    return check_shape("Relative position bias shape", rpb(10, 15).shape, (8, 10, 15))


def check_entropy(nb):
    uniform = torch.full((2, 8, 10, 10), 0.1)  # (B, h, T_q, T_k)
    entropy = nb.attention_entropy(uniform)
    ok = check_shape("Entropy per head shape", entropy.shape, (8,))
    print(f"Entropy of uniform weights over 10 keys: {entropy.mean().item():.4f} (log 10 = {math.log(10):.4f})")
    if ok and abs(entropy.mean().item() - math.log(10)) > 1e-4:
        print("  expected log(10): -sum(w * log(w)) over the keys, natural log, averaged over the queries")
        return False
    return ok


CHECKS = [
    ("Day 41 Multi-Head Attention", check_day41),
    ("Causal Mask", check_causal_mask),
    ("Transformer Decoder Layer", check_decoder_layer),
    ("Relative Position Bias", check_relative_bias),
    ("Attention Entropy", check_entropy),
]


def run(name, fn, *args):
    """Run one part; report failures in one line instead of a traceback."""
    try:
        return fn(*args) is not False
    except NotImplementedError:
        print(f"{name}: not implemented yet (NotImplementedError in your notebook)")
    except Exception as e:
        print(f"{name}: failed ({type(e).__name__}: {e})")
    return False


def train(nb):
    from training import train_demo

    demo = train_demo(nb.TransformerDecoderLayer, nb.causal_mask)
    if demo.accuracy < 0.9:
        print("Held-out accuracy is below 90%: check the causal mask, that tgt_mask reaches self_attn "
              "and that cross_attn reads the memory.")
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-train", action="store_true", help="skip the training example")
    args = parser.parse_args(argv)

    try:
        nb = load_notebook(NOTEBOOK)
    except (OSError, ValueError) as e:
        print(f"Could not load your notebook: {e}")
        return 1
    for index, error in nb.__load_errors__:
        print(f"Warning: cell {index} of {NOTEBOOK.name} raised {error}")

    torch.manual_seed(0)
    ok = True
    for i, (name, fn) in enumerate(CHECKS):
        print(("\n" if i else "") + f"Testing {name}...")
        ok = run(name, fn, nb) and ok

    if not args.no_train:
        print("\nTraining a one-layer decoder to reverse sequences...")
        ok = run("Training example", train, nb) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
