"""Training demo for Day 41: a synthetic sequence-classification task.

Task: given a random token sequence (variable length, right-padded with PAD),
predict 1 if token A occurs more often than token B, else 0. Ties are dropped,
so every label is well defined.

Used by the notebook's training cell and by `python exercise.py`; you do not
need to change anything here.
"""
import time

import torch
import torch.nn.functional as F

PAD, TOKEN_A, TOKEN_B = 0, 1, 2
VOCAB_SIZE = 8
SEQ_LEN = 20


def make_dataset(n, seq_len=SEQ_LEN, vocab_size=VOCAB_SIZE, seed=0):
    """Return (x, mask, y): tokens (n, seq_len), padding mask (n, seq_len) with 1 = real token, labels (n,)."""
    g = torch.Generator().manual_seed(seed)
    m = 3 * n  # oversample, then drop ties
    x = torch.randint(1, vocab_size, (m, seq_len), generator=g)  # real tokens are 1..vocab_size-1
    lengths = torch.randint(seq_len // 2, seq_len + 1, (m,), generator=g)
    mask = torch.arange(seq_len) < lengths[:, None]  # (m, seq_len)
    x = x.masked_fill(~mask, PAD)
    diff = (x == TOKEN_A).sum(1) - (x == TOKEN_B).sum(1)
    keep = (diff != 0).nonzero().squeeze(1)[:n]
    assert len(keep) == n, "not enough non-tied sequences; increase oversampling"
    return x[keep], mask[keep].long(), (diff[keep] > 0).long()


@torch.no_grad()
def accuracy(model, x, mask, y):
    """Fraction of sequences classified correctly (model in eval mode)."""
    model.eval()
    return (model(x, mask).argmax(-1) == y).float().mean().item()


def train_demo(model_cls, seed=0, n_train=2000, n_test=500, epochs=4, batch_size=50, lr=3e-3,
               num_threads=1, verbose=True):
    """Train `model_cls` (your SimpleTransformer) on the counting task; return held-out accuracy in [0, 1].

    The model is tiny, so one CPU thread is as fast as several and is not slowed down by
    other busy processes; the previous thread count is restored afterwards.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        return _train(model_cls, seed, n_train, n_test, epochs, batch_size, lr, verbose)
    finally:
        torch.set_num_threads(previous_threads)


def _train(model_cls, seed, n_train, n_test, epochs, batch_size, lr, verbose):
    start = time.perf_counter()  # everything counts: data, model, training, evaluation
    torch.manual_seed(seed)
    x, mask, y = make_dataset(n_train + n_test, seed=seed)
    # held-out split: the last n_test sequences are never trained on
    x_tr, m_tr, y_tr = x[:n_train], mask[:n_train], y[:n_train]
    x_te, m_te, y_te = x[n_train:], mask[n_train:], y[n_train:]

    model = model_cls(vocab_size=VOCAB_SIZE, d_model=32, num_heads=4, num_layers=2, d_ff=64,
                      num_classes=2, max_len=SEQ_LEN, dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n_train)
        for i in range(0, n_train, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(x_tr[idx], m_tr[idx]), y_tr[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.3f}")

    acc = accuracy(model, x_te, m_te, y_te)
    if verbose:
        print(f"Held-out accuracy: {100 * acc:.1f}%")
        print(f"Training time: {time.perf_counter() - start:.1f}s")
    return acc
