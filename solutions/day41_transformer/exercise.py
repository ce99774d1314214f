"""Day 41: run your Transformer from transformer.ipynb and print what it produces.

    python exercise.py             # shape checks + training example
    python exercise.py --no-train  # shape checks only

Exit code 0 when every part works, 1 otherwise.
"""
import argparse
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "transformer.ipynb"
sys.path.insert(0, str(HERE))

from notebook_loader import load_notebook  # noqa: E402


def check_shape(label, actual, expected):
    """Print the shape line; return False (and say what was expected) on a mismatch."""
    print(f"{label}: {actual}")
    if actual != torch.Size(expected):
        print(f"  expected {torch.Size(expected)}")
        return False
    return True


def check_attention(nb):
    Q, K, V = torch.randn(2, 10, 64), torch.randn(2, 10, 64), torch.randn(2, 10, 64)
    output, weights = nb.scaled_dot_product_attention(Q, K, V)
    ok = check_shape("Attention output shape", output.shape, (2, 10, 64))
    return check_shape("Attention weights shape", weights.shape, (2, 10, 10)) and ok


def check_multi_head(nb):
    mha = nb.MultiHeadAttention(d_model=512, num_heads=8)
    x = torch.randn(2, 10, 512)
    return check_shape("Multi-head output shape", mha(x, x, x).shape, (2, 10, 512))


def check_positional_encoding(nb):
    pos_enc = nb.PositionalEncoding(d_model=512)
    return check_shape("Positional encoding output shape", pos_enc(torch.randn(10, 2, 512)).shape, (10, 2, 512))


def check_encoder_layer(nb):
    layer = nb.TransformerEncoderLayer(d_model=512, num_heads=8, d_ff=2048)
    return check_shape("Encoder layer output shape", layer(torch.randn(2, 10, 512)).shape, (2, 10, 512))


def check_model(nb):
    model = nb.SimpleTransformer(vocab_size=1000, d_model=512, num_heads=8, num_layers=2, d_ff=2048, num_classes=2)
    return check_shape("Model output shape", model(torch.randint(0, 1000, (2, 10))).shape, (2, 2))


CHECKS = [
    ("Scaled Dot-Product Attention", check_attention),
    ("Multi-Head Attention", check_multi_head),
    ("Positional Encoding", check_positional_encoding),
    ("Transformer Encoder Layer", check_encoder_layer),
    ("Complete Transformer Model", check_model),
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

    accuracy = train_demo(nb.SimpleTransformer)
    if accuracy < 0.9:
        print("Held-out accuracy is below 90%: check masking, the masked mean and the positional encoding.")
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
        print("\nTraining SimpleTransformer on the synthetic counting task...")
        ok = run("Training example", train, nb) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
