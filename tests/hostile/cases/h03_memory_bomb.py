"""MultiHeadAttention.forward grabs 64 GiB: first as one block (torch.empty(...).fill_(1)),
then, should that be refused up front, as 128 blocks of 512 MiB with every page touched.

The worker must be stopped by its memory limit (MEMORY) without the grader or the machine
noticing. Tests that never call multi-head attention and run before the crash budget is spent
keep their points.

Never run this without a memory limit: the runner only grades it when the preflight worker sees
one (an RLIMIT or a cgroup limit below half the machine's memory), or with HOSTILE_UNSAFE=1.
"""

EXPECT = {
    "attacked": ["mha", "encoder", "model"],
    # MEMORY as a rule; on a loaded machine touching 2 GiB of pages can outlast a test's short
    # time limit, and TIMEOUT costs the same points (what matters: 0, and the grader unharmed)
    "statuses": ["MEMORY", "TIMEOUT"],
    "keep": ["causal", "test_sdpa_grad"],
    "requires": ["memory_limited"],
}

SOURCE = '''
import torch

_mha_forward = MultiHeadAttention.forward


def _hungry_forward(self, query, key, value, mask=None):
    hoard = []
    try:
        hoard.append(torch.empty(64 * 2**30, dtype=torch.uint8).fill_(1))
    except RuntimeError:
        pass  # refused up front: take it in pieces instead
    for _ in range(128):
        hoard.append(torch.ones(512 * 2**20, dtype=torch.uint8))
    return _mha_forward(self, query, key, value, mask)


MultiHeadAttention.forward = _hungry_forward
'''
