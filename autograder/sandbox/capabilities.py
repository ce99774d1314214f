"""Which isolation layers this machine offers, probed once; shared by both halves of the sandbox.

It runs in the zygote (which builds every worker's sandbox from the answer) and in the
coordinator (which prints the level and refuses to grade below `min_isolation`). It only asks
the operating system; it never sees a submission.

Levels, each including the ones before it:
  0 process       a separate process with rlimits (CPU, file size, address space), killed by group
  1 unprivileged  runs as an unprivileged uid with no_new_privs
  2 namespaced    its own PID, network, mount and IPC namespaces: no network, no view of other
                  processes, the course's secrets hidden, everything read-only but its scratch
  3 contained     its own memory and pids cgroups: a memory cap the kernel enforces on the whole
                  process tree, and a fork storm stopped at a fixed number of processes
"""
from __future__ import annotations

import ctypes
import os
import pwd
import time
from dataclasses import asdict, dataclass
from pathlib import Path

LEVELS = ("process", "unprivileged", "namespaced", "contained")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Capabilities:
    level: int
    root: bool
    namespaces: bool
    cgroups: bool
    memory_cgroup: str      # parent folders for our per-worker cgroups ("" when unavailable)
    pids_cgroup: str
    uid: int
    gid: int
    notes: str = ""
    cpu_cgroup: str = ""    # parent folder of per-worker cpuacct cgroups: CPU time the judge reads ("" = none)

    @property
    def name(self) -> str:
        return LEVELS[self.level]

    def describe(self) -> str:
        layers = ["separate process", "rlimits"]
        if self.level >= 1:
            layers.append(f"uid {self.uid} with no_new_privs")
        if self.level >= 2:
            layers.append("pid+net+mount+ipc namespaces, secrets hidden, read-only but scratch")
        if self.level >= 3:
            layers.append("memory and pids cgroups" + (", CPU time by cgroup" if self.cpu_cgroup else ""))
        return f"level {self.level}/{len(LEVELS) - 1} ({self.name}): " + ", ".join(layers) + \
            (f" [{self.notes}]" if self.notes else "")

    def to_dict(self) -> dict:
        return asdict(self)


# -- the system calls both halves need ---------------------------------------------------------

def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


# -- probing ---------------------------------------------------------------------------------

def own_cgroup(controller: str) -> Path | None:
    """The folder of the cgroup (v1) this process is in, for `controller`, if writable."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                folder = Path(f"/sys/fs/cgroup/{controller}") / path.lstrip("/")
                return folder if folder.is_dir() and os.access(folder, os.W_OK) else None
    except OSError:
        return None
    return None


def _try_in_child(fn) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _remove_stale(parent: Path, min_age_s: float = 120.0) -> None:
    """Cgroups a killed keeper left behind, once they are empty. A young one may belong to a keeper
    of another lane that has made it and not joined it yet: it is left alone."""
    for stale in (parent.glob("w*") if parent.is_dir() else []):
        try:
            if time.time() - stale.stat().st_mtime > min_age_s and not (stale / "cgroup.procs").read_text().strip():
                stale.rmdir()
        except OSError:
            pass


def probe(worker_user: str = "nobody") -> Capabilities:
    """Find out which layers this machine supports."""
    notes = []
    root = os.geteuid() == 0
    try:
        entry = pwd.getpwnam(worker_user)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = gid = 65534
    namespaces = root and _try_in_child(lambda: (unshare(NAMESPACES), mount(None, "/", None, MS_REC | MS_PRIVATE)))
    if root and not namespaces:
        notes.append("unshare refused: no namespaces")
    memory, pids, cpu = own_cgroup("memory"), own_cgroup("pids"), own_cgroup("cpuacct")
    cgroups = False
    if root and memory and pids:
        for parent in (memory / "autograder", pids / "autograder", *([cpu / "autograder"] if cpu else [])):
            _remove_stale(parent)
        test = memory / f"autograder-probe-{os.getpid()}"
        try:
            test.mkdir()
            test.rmdir()
            cgroups = True
        except OSError as exc:
            notes.append(f"cgroups not writable ({exc.strerror})")
    elif root:
        notes.append("no writable memory and pids cgroups (v1)")
    if not root:
        notes.append("not root: cannot drop to another uid, unshare or use cgroups")
    level = 0
    if root:
        level = 1
        if namespaces:
            level = 2
            if cgroups:
                level = 3
    return Capabilities(level, root, namespaces, cgroups,
                        str(memory / "autograder") if cgroups else "", str(pids / "autograder") if cgroups else "",
                        uid, gid, "; ".join(notes), str(cpu / "autograder") if cgroups and cpu else "")
