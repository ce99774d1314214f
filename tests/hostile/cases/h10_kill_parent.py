"""os.kill(os.getppid(), SIGKILL), at import and again in every MultiHeadAttention.forward.

Today the parent is the zygote (the fork server of a grading lane). The grader must survive:
this student's tests that never run multi-head attention keep their points, the lane gets a
new zygote for the next student, and nobody else notices. (Guards: never pid 1, never the
process that runs the test suite; in a PID namespace getppid() is 0 and nothing happens.)
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": ["sdpa", "positional", "causal"],
}

SOURCE = '''
import os
import signal


def _kill_parent():
    ppid = os.getppid()
    if ppid > 1 and ppid != @@PROTECT_PID@@:
        try:
            os.kill(ppid, signal.SIGKILL)
        except OSError:
            pass


_kill_parent()
_mha_forward = MultiHeadAttention.forward


def _forward(self, query, key, value, mask=None):
    _kill_parent()
    return _mha_forward(self, query, key, value, mask)


MultiHeadAttention.forward = _forward
'''
