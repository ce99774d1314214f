"""Operating-system isolation for one worker: namespaces, cgroups, a private filesystem view,
an unprivileged identity. Probed once in the zygote; applied in every forked worker.

Levels, each including the ones before it:
  0 process       a separate process with rlimits (CPU, file size, address space), killed by group
  1 unprivileged  runs as an unprivileged uid with no_new_privs
  2 namespaced    its own PID, network, mount and IPC namespaces: no network, no view of other
                  processes, the course's secrets hidden, everything read-only but its scratch
  3 contained     its own memory and pids cgroups: a memory cap the kernel enforces on the whole
                  process tree, and a fork storm stopped at a fixed number of processes

A worker is started through a *keeper*: the zygote forks the keeper, which joins fresh cgroups,
unshares the namespaces and forks the worker as PID 1 of the new PID namespace. Killing the
worker therefore kills everything it started. The keeper waits, notes an OOM kill, removes the
cgroups and exits with an encoded status the trusted side decodes (see decode_keeper_exit).
"""
from __future__ import annotations

import ctypes
import errno
import os
import pwd
import resource
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

LEVELS = ("process", "unprivileged", "namespaced", "contained")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
NAMESPACES = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS

# What a worker sees at the top of the filesystem: the operating system, nothing else. Every other
# entry of "/" (homes, /work, /srv, /opt, a CI checkout under /check, a mounted volume) becomes an
# empty read-only folder, whatever the machine names it: an allowlist, because a list of places
# to hide misses the course wherever nobody thought to look. What the interpreter needs inside
# them is bound back read-only (`expose`, see sandbox/zygote.py).
SYSTEM_TOP = frozenset({"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "sys", "dev"})

# Keeper exit codes beyond a plain exit status (0..127) and a signal (128 + signal).
EXIT_MEMORY = 200
EXIT_SANDBOX = 201   # a layer the probe promised could not be applied: fail closed
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
            layers.append("memory and pids cgroups")
        return f"level {self.level}/{len(LEVELS) - 1} ({self.name}): " + ", ".join(layers) + \
            (f" [{self.notes}]" if self.notes else "")

    def to_dict(self) -> dict:
        return asdict(self)


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


# -- probing ---------------------------------------------------------------------------------

def _own_cgroup(controller: str) -> Path | None:
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


def probe(worker_user: str = "nobody") -> Capabilities:
    """Find out which layers this machine supports. Runs in the zygote, before any worker."""
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
    memory, pids = _own_cgroup("memory"), _own_cgroup("pids")
    cgroups = False
    if root and memory and pids:
        for parent in (memory / "autograder", pids / "autograder"):  # left by a killed keeper
            for stale in (parent.glob("w*") if parent.is_dir() else []):
                try:
                    if not (stale / "cgroup.procs").read_text().strip():
                        stale.rmdir()
                except OSError:
                    pass
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
                        uid, gid, "; ".join(notes))


# -- cgroups -----------------------------------------------------------------------------------

class Cgroups:
    """A memory and a pids cgroup for one worker tree."""

    def __init__(self, caps: Capabilities, name: str, memory_bytes: int, max_pids: int):
        self.folders = [Path(caps.memory_cgroup) / name, Path(caps.pids_cgroup) / name]
        for folder in self.folders:
            folder.parent.mkdir(exist_ok=True)
            folder.mkdir(exist_ok=True)
        mem, pids = self.folders
        (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
        try:  # swap counts too, where the kernel accounts it
            (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        except OSError:
            pass
        (pids / "pids.max").write_text(str(max_pids))

    def join(self) -> None:
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def leave(self) -> None:
        """Back to the cgroups we came from (the keeper forks into ours, then steps out)."""
        for folder in self.folders:
            (folder.parent.parent / "cgroup.procs").write_text(str(os.getpid()))

    def oom_killed(self) -> bool:
        mem = self.folders[0]
        try:
            for line in (mem / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
            return int((mem / "memory.failcnt").read_text()) > 0 and \
                int((mem / "memory.max_usage_in_bytes").read_text()) >= int((mem / "memory.limit_in_bytes").read_text())
        except (OSError, ValueError):
            return False

    def remove(self) -> None:
        """Kill whatever is still inside, then remove the folders."""
        for folder in self.folders:
            for _ in range(100):
                try:
                    procs = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not procs:
                    break
                for p in procs:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                os.sched_yield()
            try:
                folder.rmdir()
            except OSError:
                pass


# -- the worker's view of the filesystem ------------------------------------------------------

def _mountpoints() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        points.append(point)
    return points


def outside_system() -> list[str]:
    """The entries of "/" a worker must not see. Symbolic links are left alone: what they point
    to is hidden, or not, where it really lives."""
    return ["/" + name for name in os.listdir("/")
            if name not in SYSTEM_TOP and not os.path.islink("/" + name)]


def private_filesystem(hide: list[str], expose: list[str], scratch_bytes: int, uid: int, gid: int) -> str:
    """In a fresh mount namespace: hide everything outside the operating system and `hide` (the
    course, wherever it lives; except what `expose` needs), make every mount read-only, give the
    worker one writable tmpfs, and a /proc of its own PID namespace. Returns the scratch path."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    hide = [*outside_system(), *hide]
    hide = sorted({os.path.realpath(h) for h in hide if os.path.lexists(h)}, key=len)
    expose = sorted({os.path.realpath(e) for e in expose if os.path.exists(e)})
    for target in hide:
        if any(target.startswith(h + "/") for h in hide if h != target):
            continue  # already hidden by a parent
        if not os.path.isdir(target):
            mount("/dev/null", target, None, MS_BIND)
            continue
        keep = [e for e in expose if e.startswith(target + "/")]
        fds = {e: os.open(e, os.O_PATH | os.O_DIRECTORY) for e in keep}  # reachable after covering
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        for e, fd in fds.items():
            os.makedirs(e, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", e, None, MS_BIND | MS_REC)
            os.close(fd)
    # World-writable places become empty and root-owned: nowhere to write but the scratch. (Those
    # under /var and /run went with everything outside the operating system.) /tmp, noexec, holds it.
    for target in ("/tmp", "/dev/shm", "/dev/mqueue"):
        if os.path.isdir(target) and not os.path.islink(target):
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")
    scratch = "/tmp/work"
    os.mkdir(scratch)  # before everything turns read-only
    for point in sorted(set(_mountpoints()), key=len):
        if point.startswith(("/proc", "/sys", "/dev")) and point not in ("/dev/shm", "/dev/mqueue"):
            continue
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError as exc:
            if point == "/" or exc.errno not in (errno.EINVAL, errno.EPERM, errno.EACCES, errno.ENOENT):
                raise
    mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={scratch_bytes},mode=0700,uid={uid},gid={gid}")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    return scratch


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


def limit_address_space(extra_bytes: int) -> None:
    """RLIMIT_AS at current use + extra: a 64 GiB allocation fails at once. Set after the fork,
    because torch reserves a lot of address space at import and would not start under it."""
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
    limit = vm + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# -- the keeper ------------------------------------------------------------------------------

def launch(caps: Capabilities, spec: dict, report_fd: int, serve) -> None:
    """In the keeper (a fresh child of the zygote): build the worker's sandbox, fork the worker
    into it, tell the zygote its pid through report_fd, wait, and exit with an encoded status.
    `serve(scratch)` runs in the worker; it never returns."""
    os.setsid()
    cgroups = None
    try:
        if caps.cgroups:
            cgroups = Cgroups(caps, f"w{os.getpid()}", spec["memory_bytes"], spec["max_pids"])
            cgroups.join()
        if caps.namespaces:
            unshare(NAMESPACES)
    except OSError:
        os.write(report_fd, b"0")
        os._exit(EXIT_SANDBOX)
    pid = os.fork()
    if pid == 0:
        os.close(report_fd)
        try:
            os.setsid()
            scratch = spec["scratch"]
            if caps.namespaces:
                scratch = private_filesystem(spec["hide"], spec["expose"], spec["scratch_bytes"],
                                             caps.uid, caps.gid)
            if caps.root:
                if not caps.namespaces:
                    os.chown(scratch, caps.uid, caps.gid)
                drop_privileges(caps.uid, caps.gid)
            limit_address_space(spec["memory_bytes"])
        except BaseException:
            os._exit(EXIT_SANDBOX)
        if caps.namespaces:
            _init_then_serve(serve, scratch)
        serve(scratch)
        os._exit(0)
    os.write(report_fd, str(pid).encode())
    os.close(report_fd)
    if cgroups is not None:
        cgroups.leave()  # so that clearing the cgroups at the end never kills the keeper itself
    _, status = os.waitpid(pid, 0)
    if not caps.namespaces:
        try:  # without a PID namespace, the worker's group is what we can still reach
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    if cgroups is not None:
        if cgroups.oom_killed():
            code = EXIT_MEMORY
        cgroups.remove()
    os._exit(code)


def _init_then_serve(serve, scratch: str) -> None:
    """As PID 1 of the namespace: fork the worker, reap orphans, exit with the worker's status.

    The worker must not be PID 1 itself: the kernel delivers no signal to a namespace's init
    unless it installed a handler, so SIGXFSZ (output cap) and SIGXCPU (CPU cap) would be
    ignored there, and a flood of prints would end as a mere OSError the student can catch.
    """
    pid = os.fork()
    if pid == 0:
        serve(scratch)
        os._exit(0)
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(EXIT_SANDBOX)
        if done == pid:
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def decode_keeper_exit(code: int | None) -> tuple[int | None, int | None, bool, bool]:
    """(exit status, signal, memory exceeded, sandbox failed) from a keeper's exit code."""
    if code is None:
        return None, None, False, False
    if code == EXIT_MEMORY:
        return None, signal.SIGKILL, True, False
    if code == EXIT_SANDBOX:
        return None, None, False, True
    if code > 128:
        return None, code - 128, False, False
    return code, None, False, False
