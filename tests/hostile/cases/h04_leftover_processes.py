"""Fifty `sleep 600` started at import and left behind: 20 plain children, 15 in a session of
their own (out of reach of a process-group kill), 15 double-forked and setsid'd (orphaned at
once). All ignore SIGHUP, SIGINT and SIGTERM (SIG_IGN survives exec).

The notebook is otherwise correct: full marks, and no process may remain after grading.
Each sleep carries HOSTILE_CASE in its environment so the runner can tell whose it is.
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": ["*"],
}

SOURCE = '''
import os
import signal
import subprocess

_env = dict(os.environ, HOSTILE_CASE="@@CASE@@")


def _deaf():
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


_kids = []
try:
    for _ in range(20):
        _kids.append(subprocess.Popen(["sleep", "600"], env=_env, preexec_fn=_deaf))
    for _ in range(15):
        _kids.append(subprocess.Popen(["sleep", "600"], env=_env, preexec_fn=_deaf, start_new_session=True))
    for _ in range(15):
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    _deaf()
                    os.execvpe("sleep", ["sleep", "600"], _env)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
except OSError:
    pass  # a process limit: fine, keep what we have
'''
