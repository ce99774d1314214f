"""Training demo for Day 42: reverse a short sequence with a one-layer Transformer decoder.

Task: the source is a random sequence of SEQ_LEN tokens drawn from 1..VOCAB_SIZE-1; the target
is the same sequence reversed. The model is

    memory = embedding(source) + source positions                      (B, S, d_model)
    x      = embedding(BOS, y_0, ..., y_{T-2}) + target positions      (B, T, d_model)
    logits = output(decoder_layer(x, memory, tgt_mask=causal_mask(T))) (B, T, vocab)

trained with teacher forcing (the target shifted right by one, BOS first) and evaluated by
greedy decoding on held-out sequences: one token at a time, each prediction fed back in.
Reversing needs cross-attention (target position t must read source position S-1-t) and a
causal mask (with the future visible, teacher forcing lets the model copy the next input
token instead of learning the task, and greedy decoding then fails).

Used by the notebook's training cell and by `python exercise.py`; you do not need to change
anything here.
"""
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

BOS = 0
VOCAB_SIZE = 10
SEQ_LEN = 8


def make_batch(n, seq_len=SEQ_LEN, vocab_size=VOCAB_SIZE, generator=None):
    """Return (src, tgt_in, tgt_out), each (n, seq_len): source, decoder input (BOS + target[:-1]), target."""
    src = torch.randint(1, vocab_size, (n, seq_len), generator=generator)
    tgt_out = src.flip(1)  # the task: reverse the sequence
    tgt_in = torch.cat([torch.full((n, 1), BOS), tgt_out[:, :-1]], dim=1)
    return src, tgt_in, tgt_out


class ReverseModel(nn.Module):
    """Token and position embeddings, one decoder layer (yours), and a linear output layer."""

    def __init__(self, decoder_layer_cls, vocab_size=VOCAB_SIZE, d_model=32, num_heads=4, d_ff=64,
                 max_len=SEQ_LEN, dropout=0.0):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.src_position = nn.Embedding(max_len, d_model)  # learned positions of the source
        self.tgt_position = nn.Embedding(max_len, d_model)  # and of the target
        self.decoder = decoder_layer_cls(d_model, num_heads, d_ff, dropout)
        self.output = nn.Linear(d_model, vocab_size)

    def embed(self, tokens, position):
        positions = torch.arange(tokens.size(1), device=tokens.device)
        return self.embedding(tokens) * math.sqrt(self.d_model) + position(positions)

    def forward(self, src, tgt_in, tgt_mask):
        memory = self.embed(src, self.src_position)  # (B, S, d_model)
        x = self.embed(tgt_in, self.tgt_position)  # (B, T, d_model)
        return self.output(self.decoder(x, memory, tgt_mask))  # (B, T, vocab_size)


@torch.no_grad()
def greedy_decode(model, src, causal_mask):
    """Decode one token at a time: each step sees only BOS and the model's own earlier outputs."""
    model.eval()
    tokens = torch.full((src.size(0), 1), BOS)
    for _ in range(src.size(1)):
        logits = model(src, tokens, causal_mask(tokens.size(1)))
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens[:, 1:]


@dataclass
class DemoResult:
    accuracy: float  # held-out tokens right, greedy decoding
    sequence_accuracy: float  # held-out sequences entirely right
    seconds: float
    model: ReverseModel
    src: torch.Tensor  # one held-out source (S,)
    prediction: torch.Tensor  # its greedy decoding (T,)
    self_weights: torch.Tensor  # (h, T, T): the decoder's self-attention on that example
    cross_weights: torch.Tensor  # (h, T, S): its cross-attention over the source


def train_demo(decoder_layer_cls, causal_mask, seed=0, steps=400, batch_size=64, n_test=500, lr=3e-3,
               num_threads=1, verbose=True):
    """Train a ReverseModel built on `decoder_layer_cls` (your TransformerDecoderLayer), masking
    with `causal_mask` (yours); return a DemoResult with the held-out greedy-decoding accuracy.

    The model is tiny, so one CPU thread is as fast as several and is not slowed down by
    other busy processes; the previous thread count is restored afterwards.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        return _train(decoder_layer_cls, causal_mask, seed, steps, batch_size, n_test, lr, verbose)
    finally:
        torch.set_num_threads(previous_threads)


def _train(decoder_layer_cls, causal_mask, seed, steps, batch_size, n_test, lr, verbose):
    start = time.perf_counter()  # everything counts: data, model, training, evaluation
    torch.manual_seed(seed)
    train_gen = torch.Generator().manual_seed(seed)
    test_src, test_tgt_in, test_tgt_out = make_batch(n_test, generator=torch.Generator().manual_seed(seed + 1))

    model = ReverseModel(decoder_layer_cls)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    mask = causal_mask(SEQ_LEN)

    model.train()
    for step in range(1, steps + 1):
        src, tgt_in, tgt_out = make_batch(batch_size, generator=train_gen)  # fresh sequences every step
        logits = model(src, tgt_in, mask)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), tgt_out.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if verbose and step % 100 == 0:
            print(f"step {step}/{steps}: loss {loss.item():.3f}")

    prediction = greedy_decode(model, test_src, causal_mask)
    correct = prediction == test_tgt_out
    accuracy = correct.float().mean().item()
    sequence_accuracy = correct.all(dim=1).float().mean().item()

    with torch.no_grad():  # the attention maps of the first held-out example
        model(test_src[:1], test_tgt_in[:1], mask)
    self_weights = model.decoder.self_attn.attention_weights[0]
    cross_weights = model.decoder.cross_attn.attention_weights[0]
    seconds = time.perf_counter() - start
    if verbose:
        print(f"Held-out accuracy (greedy decoding): {100 * accuracy:.1f}% of tokens, "
              f"{100 * sequence_accuracy:.1f}% of whole sequences")
        print(f"Training time: {seconds:.1f}s")
    return DemoResult(accuracy, sequence_accuracy, seconds, model, test_src[0], prediction[0],
                      self_weights, cross_weights)
