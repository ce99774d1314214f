"""At import, SIGKILL the worker's grandparent and parent: the grading lane (a trusted process)
and its zygote, read from /proc/<pid>/stat.

A lane that dies breaks the whole process pool; every submission still in flight or queued is
retried, and one that was in flight twice is CRASHED. The attacker may lose its own points, but
the other students' reports must be exactly what they are without it. Graded in a class of its
own (isolated), so that the damage it does is not blamed on other cases.
(Guards: never pid 1, never the process that runs the test suite.)
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": [],
    "isolated": True,
}

SOURCE = '''
import os
import signal


def _parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


try:
    _parent = os.getppid()
    _chain = [_parent_of(_parent), _parent] if _parent > 1 else []
except (OSError, ValueError, IndexError):
    _chain = []
for _pid in _chain:  # the lane first, then the zygote
    if _pid > 1 and _pid != @@PROTECT_PID@@:
        try:
            os.kill(_pid, signal.SIGKILL)
        except OSError:
            pass
'''
