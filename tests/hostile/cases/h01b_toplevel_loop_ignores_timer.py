"""An endless top-level loop that defeats the per-cell timer: it ignores SIGALRM, cancels the
interval timer and swallows every BaseException (the loader's CellTimeout included).

Only the limit on the whole load can stop it. The grader then treats the notebook as one that
cannot load: every test is a TIMEOUT (loading is deterministic, it is not retried), and the
class goes on.
"""

EXPECT = {
    "attacked": ["*"],
    "statuses": ["TIMEOUT"],
    "keep": [],
}

SOURCE = '''
import signal

signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.setitimer(signal.ITIMER_REAL, 0)
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
'''
