"""Fifty-five `sleep 600` started at import and left behind: from a short-lived shell, 20 in
sessions of their own and 20 double-forked (orphans from the start, out of reach of a
process-group kill); then 10 plain children of the worker and 5 double-forked, setsid'd ones
from Python. All ignore SIGHUP, SIGINT and SIGTERM (SIG_IGN survives exec).

The notebook is otherwise correct: full marks, and no process may remain after grading.
Each sleep carries HOSTILE_CASE and the run's token in its environment, so the runner can tell
whose it is.
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

_env = dict(os.environ, HOSTILE_CASE="@@CASE@@", HOSTILE_RUN_TOKEN="@@TOKEN@@")
_SHELL = """
trap '' HUP INT TERM
for i in $(seq 20); do setsid sleep 600 & done
for i in $(seq 20); do ( sleep 600 & ) ; done
"""


def _deaf():
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


_kids = []
try:
    subprocess.run(["sh", "-c", _SHELL], env=_env, timeout=5)  # the shell exits at once
    for _ in range(10):
        _kids.append(subprocess.Popen(["sleep", "600"], env=_env, preexec_fn=_deaf))
    for _ in range(5):
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
except (OSError, subprocess.SubprocessError):
    pass  # a process limit: fine, keep what we have
'''
