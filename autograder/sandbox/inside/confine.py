"""Confinement, in the keeper: cgroups, namespaces, a private filesystem view, an unprivileged
identity, then the worker forked into all of it.

A worker is started through a *keeper*: the zygote forks the keeper, which joins fresh cgroups,
unshares the namespaces and forks the worker as PID 1 of the new PID namespace. Killing the
worker therefore kills everything it started. The keeper waits, notes an OOM kill, removes the
cgroups and exits with an encoded status the trusted side decodes (sandbox/protocol.py).
"""
from __future__ import annotations

import errno
import os
import resource
import signal
from pathlib import Path

from autograder.sandbox.capabilities import (MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY,
                                             MS_REC, MS_REMOUNT, NAMESPACES, Capabilities, mount, prctl, unshare)
from autograder.sandbox.protocol import EXIT_MEMORY, EXIT_SANDBOX, WorkerSpec

PR_SET_NO_NEW_PRIVS = 38
# What a worker sees at the top of the filesystem: the operating system, nothing else. Every other
# entry of "/" (homes, /work, /srv, /opt, a CI checkout under /check, a mounted volume) becomes an
# empty read-only folder, whatever the machine names it: an allowlist, because a list of places
# to hide misses the course wherever nobody thought to look. What the interpreter needs inside
# them is bound back read-only (`expose`, see inside/zygote.py).
SYSTEM_TOP = frozenset({"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "sys", "dev"})


# -- cgroups -----------------------------------------------------------------------------------

class Cgroups:
    """A memory and a pids cgroup for one worker tree, and a cpuacct one where the machine has it
    (the judge reads the tree's CPU time there: sandbox/host/launcher.Worker.cpu_seconds)."""

    def __init__(self, caps: Capabilities, name: str, memory_bytes: int, max_pids: int):
        self.folders = [Path(caps.memory_cgroup) / name, Path(caps.pids_cgroup) / name]
        if caps.cpu_cgroup:
            self.folders.append(Path(caps.cpu_cgroup) / name)
        for folder in self.folders:
            folder.parent.mkdir(exist_ok=True)
            folder.mkdir(exist_ok=True)
        mem, pids = self.folders[:2]
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


def _cover(target: str, expose: list[str], flags: int) -> None:
    """An empty tmpfs over `target`, with the `expose` paths below it bound back in place."""
    keep = [e for e in expose if e.startswith(target + "/")]
    fds = {e: os.open(e, os.O_PATH | os.O_DIRECTORY) for e in keep}  # reachable after covering
    mount("tmpfs", target, "tmpfs", flags, "size=64k,mode=0755")
    for e, fd in fds.items():
        os.makedirs(e, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", e, None, MS_BIND | MS_REC)
        os.close(fd)


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
        _cover(target, expose, MS_NOSUID | MS_NODEV)
    # World-writable places become empty and root-owned: nowhere to write but the scratch. (Those
    # under /var and /run went with everything outside the operating system.) /tmp, noexec, holds
    # it; what the worker needs from there (a checkout and its .venv cloned into /tmp) comes back.
    for target in ("/tmp", "/dev/shm", "/dev/mqueue"):
        if os.path.isdir(target) and not os.path.islink(target):
            _cover(target, expose, MS_NOSUID | MS_NODEV | MS_NOEXEC)
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
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def limit_address_space(extra_bytes: int) -> None:
    """RLIMIT_AS at current use + extra: a 64 GiB allocation fails at once. Set after the fork,
    because torch reserves a lot of address space at import and would not start under it."""
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
    limit = vm + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# -- the keeper ------------------------------------------------------------------------------

def launch(caps: Capabilities, spec: WorkerSpec, report_fd: int, serve) -> None:
    """In the keeper (a fresh child of the zygote): build the worker's sandbox, fork the worker
    into it, tell the zygote its pid through report_fd, wait, and exit with an encoded status.
    `serve(scratch)` runs in the worker; it never returns."""
    os.setsid()
    cgroups = None
    try:
        if caps.cgroups:
            cgroups = Cgroups(caps, f"w{os.getpid()}", spec.memory_bytes, spec.max_pids)
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
            scratch = spec.scratch
            if caps.namespaces:
                scratch = private_filesystem(list(spec.hide), list(spec.expose), spec.scratch_bytes,
                                             caps.uid, caps.gid)
            if caps.root:
                if not caps.namespaces:
                    os.chown(scratch, caps.uid, caps.gid)
                drop_privileges(caps.uid, caps.gid)
            limit_address_space(spec.memory_bytes)
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
