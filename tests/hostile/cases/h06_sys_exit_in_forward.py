"""sys.exit(0) inside MultiHeadAttention.forward.

SystemExit must not take the worker (or anything else) down silently: the tests that run
multi-head attention fail (ERROR, or CRASHED), every other test keeps its points.
"""

EXPECT = {
    "attacked": ["mha", "encoder", "model"],
    "statuses": ["ERROR", "CRASHED"],
    "keep": ["sdpa", "positional", "causal"],
}

SOURCE = '''
import sys


def _exiting_forward(self, query, key, value, mask=None):
    sys.exit(0)


MultiHeadAttention.forward = _exiting_forward
'''
