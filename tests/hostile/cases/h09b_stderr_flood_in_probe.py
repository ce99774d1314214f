"""100 MB written to stderr, but only inside causal_mask (the bonus), so only the probe that
calls it floods: that test is OUTPUT_LIMIT, the worker is replaced, and every other test
keeps its points. The report stays small.
"""

EXPECT = {
    "attacked": ["causal"],
    "statuses": ["OUTPUT_LIMIT"],
    "keep": ["sdpa", "mha", "encoder", "model", "positional"],
    "max_report_bytes": 1_000_000,
}

SOURCE = '''
import sys

_honest_causal_mask = causal_mask


def causal_mask(T):
    block = "y" * (1 << 20)
    for _ in range(100):
        sys.stderr.write(block)
    sys.stderr.flush()
    return _honest_causal_mask(T)
'''
