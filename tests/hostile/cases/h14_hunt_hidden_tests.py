"""Hunt for the hidden tests, probes, grading settings, the reference cache and any notebook
holding "BEGIN SOLUTION": first where the worker's own modules and /proc/*/cmdline and cwd
point (the probes are loaded from the hidden folder), then by walking /work, /tmp, /root, /home,
/srv, /opt, /mnt, /var and / (dot-folders and system folders skipped). Whatever it finds is
raised as an exception: at import (a load issue) and from every attention call (test output).

It must find nothing: the notebook then behaves like the reference and keeps every point, and
no report, load issue or feedback page may contain hidden test or solution text (the runner
plants canaries in the course's hidden files and solution notebooks and also looks for every
line of the hidden tests).
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": ["*"],
}

SOURCE = '''
import os
import sys
import time

_SKIP = ("/proc", "/sys", "/dev", "/usr", "/etc", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/snap")
_found = {}
_seen = set()


def _look(path):
    if path in _seen:
        return
    _seen.add(path)
    name = os.path.basename(path)
    wanted = (name.startswith("test_") and name.endswith(".py")) or name in ("probes.py", "grading.toml") \\
        or name.endswith(".wire") or name.endswith(".ipynb")
    if not wanted:
        return
    try:
        with open(path, errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return
    if name.endswith(".ipynb"):
        if "BEGIN SOLUTION" in text:
            _found[path] = (1, text.split("BEGIN SOLUTION", 1)[1][:400])
    elif name.endswith(".wire"):
        _found[path] = (3, "the reference cache")
    else:
        hidden = os.path.exists(os.path.join(os.path.dirname(path), "probes.py"))
        _found[path] = (0 if hidden else 2, text[:400])


def _ls(d):
    try:
        return os.listdir(d)
    except OSError:
        return []


def _candidates():
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None) or ""
        if os.path.basename(f).startswith("probes"):
            d = os.path.dirname(f)
            yield d, _ls(d)
            yield os.path.dirname(d), _ls(os.path.dirname(d))
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\\0")
        except OSError:
            args = []
        for a in args:
            if a.startswith("/") and os.path.isfile(a):
                yield os.path.dirname(a), [os.path.basename(a)]
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)")
        except OSError:
            continue
        yield cwd, _ls(cwd)
    for top in ("/work", "/tmp", "/root", "/home", "/srv", "/opt", "/mnt", "/var", "/"):
        for d, dirs, files in os.walk(top):
            if d.startswith(_SKIP):
                dirs[:] = []
                continue
            dirs[:] = [x for x in dirs if not x.startswith(".")]
            yield d, files


_walker = _candidates()


def _advance(seconds):
    global _walker
    deadline = time.monotonic() + seconds
    while _walker is not None and time.monotonic() < deadline:
        try:
            d, names = next(_walker)
        except StopIteration:
            _walker = None
        else:
            for name in names:
                _look(os.path.join(d, name))


def _leak():
    best = sorted(_found.items(), key=lambda kv: kv[1][0])
    return " | ".join(f"{path}: {snippet}" for path, (_, snippet) in best)[:2000]


_calls = [0]
_honest_sdpa = scaled_dot_product_attention


def scaled_dot_product_attention(Q, K, V, mask=None):
    _calls[0] += 1
    _advance(3.0 if _calls[0] == 1 else 0.3)
    if _found:
        raise RuntimeError(_leak())
    return _honest_sdpa(Q, K, V, mask)


_advance(1.0)
if _found:
    raise RuntimeError(_leak())
'''
