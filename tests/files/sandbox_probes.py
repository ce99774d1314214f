"""Probes that report what a sandboxed worker can see and do (for tests/test_sandbox.py)."""
import os
import sys
import socket
import time

from autograder.sandbox.inside.probekit import probe


def _can_read(path):
    try:
        if os.path.isdir(path):
            return len(os.listdir(path)) > 0
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False


def _can_write(folder):
    try:
        with open(os.path.join(folder, f"probe-{os.getpid()}"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False


@probe
def facts(student, read=(), write=(), port=0):
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    out = {"uid": os.getuid(), "pid": os.getpid(), "cwd": os.getcwd(), "env": sorted(os.environ),
           "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")), "path": list(sys.path),
           "no_new_privs": status.get("NoNewPrivs", "").strip(),
           "visible_pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
           "readable": {p: _can_read(p) for p in read}, "writable": {p: _can_write(p) for p in write}}
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"leak")
        out["connected"] = True
    except OSError as exc:
        out["connected"] = False
        out["connect_error"] = type(exc).__name__
    return out


@probe
def fork_storm(student, n=300):
    """Start n sleeping children; report how many the sandbox allowed."""
    started = 0
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        started += 1
    return {"started": started}


@probe
def leave_children(student, n=5):
    """Start n children in their own sessions (escaping the process group) and return."""
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            time.sleep(600)
            os._exit(0)
        pids.append(pid)
    return {"pids": pids}


@probe
def allocate(student, gib=64):
    import torch

    return {"n": int(torch.empty(gib << 30, dtype=torch.uint8).fill_(1).sum())}


@probe
def touch_pages(student, mib=4096):
    """Touch memory page by page past the limit, dodging the address-space cap with many small
    allocations: only the cgroup can stop this."""
    blocks = []
    for _ in range(mib):
        blocks.append(bytearray(1 << 20))
    return {"n": len(blocks)}


@probe
def flood(student, mb=100):
    """Print `mb` megabytes, catching the errors a capped file would raise."""
    line = "x" * 1023
    for _ in range(mb * 1024):
        try:
            print(line)
        except OSError:
            pass
    return {"survived": True}


@probe
def files_outside_system(student, skip=()):
    """Every file a worker can reach outside the operating system's folders, not walking into
    `skip` (the interpreter and packages bound back on purpose) or its own scratch."""
    system = ("/proc", "/sys", "/dev", "/usr", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin")
    skip = (*skip, os.getcwd())
    found = []
    for top, dirs, files in os.walk("/"):
        if top.startswith(system) or any(top == s or top.startswith(s.rstrip("/") + "/") for s in skip):
            dirs[:] = []
            continue
        # A hidden file is /dev/null bound over it: only regular files hold anything.
        found += [p for p in (os.path.join(top, f) for f in files) if os.path.isfile(p)]
    return {"top": sorted(os.listdir("/")), "found": found}
