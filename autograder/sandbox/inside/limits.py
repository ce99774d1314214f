"""Process limits a forked worker applies to itself before it touches student code."""
from __future__ import annotations

import os
import resource
import signal
import tempfile

from autograder.sandbox.protocol import WorkerSpec


def apply(spec: WorkerSpec) -> None:
    """Lock the current (forked, not yet student-tainted) process down as `spec` says."""
    scratch = spec.scratch
    os.chdir(scratch)
    # The scratch is the one writable place: temporary files (tempfile, TMPDIR) go there too.
    os.environ["TMPDIR"] = tempfile.tempdir = scratch

    # Output goes to a capped file: past the cap the kernel sends SIGXFSZ and the worker dies,
    # which the judge reports as OUTPUT_LIMIT, and the reports never carry the flood.
    out = os.open(os.path.join(scratch, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(devnull)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)

    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, spec.max_output_bytes)
    _limit(resource.RLIMIT_CPU, spec.cpu_s)


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    value = int(value)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))
