"""Speed, measured by the judge's clock around worker calls, against the reference in the same run.

A timed probe (probekit.timed_calls) runs a forward pass on inputs drawn from a seed the judge
picks at call time, and returns a digest of every output. Here:

1. the iterations per call are calibrated once per lane from the reference, so that its compute
   lasts about `speed_call_s`;
2. pairs are interleaved: the submission's call, the reference's call on the same seed (with as
   many rounds as it takes to last about as long as the submission's), and the reference's empty
   calls (the same inputs drawn and digested, nothing computed), whose time (the median of the
   empty calls of that size so far) is subtracted: a ratio then compares the work of one round
   alone, not the round trip. Each side runs one
   untimed round first, so neither is timed with caches the other just evicted. The
   seconds are the worker tree's CPU time where the sandbox has a cpuacct cgroup (other load on
   the machine does not move them), else wall-clock time (handles.timed_answer);
3. pairs stop as soon as the verdict is clear (the middle half of the pairs well under or well
   over the factor, and the pairs steady: their middle half close to their median) and go on, up to
   `speed_max_pairs`, only near it or while the machine's speed shifts; the ratio is the median
   pair's. A submission about as fast as the reference (every pair under a third of the factor,
   their median under a quarter) stops after `speed_far_pairs`: no pair that far from the factor
   is a coin toss;
4. every call's digests are compared with the reference's for the same seed. An answer that is
   not the reference's (a bug, or no work at all) is checked once more in a fresh worker, with
   autograd on: the submission's own forward must give the same digests, and they must change
   with the inputs. Code flagged for reaching into the grader gets no such second chance.
"""
from __future__ import annotations

import contextlib
import json
import math
import secrets
import statistics
from dataclasses import dataclass, field

CLEAR = 1.25           # a pair this far from the factor (either way) is clear
STEADY = 0.045         # ... and n pairs whose middle half lies within STEADY * sqrt(n) of their median
                       # are steady enough to stop (the median's own spread then is about 5%); on
                       # a machine whose speed shifts mid-test they go on
FAR_UNDER = 3.0        # pairs all under factor / FAR_UNDER, and their median under factor / FAR_UNDER_MEDIAN,
FAR_UNDER_MEDIAN = 4.0  # end after settings.speed_far_pairs: at 2 pairs all under 5/3 alone, a
                        # k = 2 submission was once cut short at 1.31 (about 1 test in 16 at this
                        # host's noise, by estimate)
FIRST_PAIR_OVER = 8.0  # a first pair this many factors over ends the timing: clearly too slow
                       # (at 4, a k = 16 submission with one noisy pair was measured on that pair alone)
TOLERANCE = 2e-4       # digests agree within this fraction of the output's norm
MAX_ITERS = 256
CALIBRATED = 0.7       # the reference's calibration ends once its measured compute is this share of speed_call_s


@dataclass
class SpeedResult:
    ratios: list[float] = field(default_factory=list)  # per pair: submission's work / reference's
    iters: int = 1
    problem: str = ""                                   # why the timed work could not be credited

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else math.inf

    def describe(self) -> str:
        lo, hi = min(self.ratios), max(self.ratios)
        spread = f"{lo:.2f}x to {hi:.2f}x" if len(self.ratios) > 1 else "one pair"
        return f"{self.ratio:.2f}x the reference's time ({spread} over {len(self.ratios)} timed pairs)"


def _seed() -> int:
    return secrets.randbits(62)


@dataclass(frozen=True)
class Calibration:
    iters: int          # per timed call, so that the reference computes for about call_s
    per_iter_s: float   # the reference's compute per iteration
    empty_s: float      # the reference's empty call of one iteration


def calibrate(reference, probe: str, call_s: float, **args) -> Calibration:
    """Once per lane and test: more iterations until the measured compute is about `call_s`, then
    scaled to it. (Scaled from one iteration, whose compute is about as long as the call's round
    trip, the per-iteration time came out anywhere from 1x to 2x: half the compute asked for, and
    a ratio that the round trip's noise moved.)"""
    key = json.dumps([probe, args], sort_keys=True)
    if key not in reference.calibration:
        reference.timed(probe, seed=_seed(), iters=1, check=_seed(), **args)  # builds and warms the module
        iters = 1
        while True:
            work, empty, one = [], [], []
            for _ in range(3):
                call = dict(args, seed=_seed(), iters=iters, check=_seed())
                work.append(reference.timed(probe, **call))
                empty.append(reference.timed(probe, work=False, **call))
                one.append(reference.timed(probe, work=False, **dict(call, iters=1)))
            compute = statistics.median(work) - statistics.median(empty)
            if compute >= call_s * CALIBRATED or iters >= MAX_ITERS:
                break
            # toward call_s in one step when the estimate is sound, never more than 8 times
            iters = min(MAX_ITERS, iters * 8, max(iters * 2, math.ceil(iters * call_s / max(compute, 1e-6))))
        per_iter = max(compute, 1e-6) / iters
        reference.calibration[key] = Calibration(max(1, min(MAX_ITERS, round(call_s / per_iter))), per_iter,
                                                 statistics.median(one))
    return reference.calibration[key]


def _current_cpu() -> int | None:
    """The CPU this process runs on now (field 39 of /proc/self/stat), None where unknown."""
    try:
        with open("/proc/self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def same_cpu(*handles):
    """Both sides' workers on one CPU while their calls are timed. On a shared host one virtual
    CPU can run slower than the other for seconds at a time (other guests on its core); with the
    two workers wherever the scheduler put them, a whole test's pairs then leaned one way: errors
    up to 38% (4 rounds of 3 runs per k), against at most 10% with both on one CPU, alternating in
    the same hour. The CPU this lane runs on now is the one chosen: lanes running at the same time
    run on different CPUs, so their timed workers do too."""
    cpu = _current_cpu()
    pinned = []
    try:
        for h in handles if cpu is not None else ():
            pinned.append(h)
            h.pin({cpu})
        yield
    finally:
        for h in pinned:
            h.pin(None)


def _agree(got, want, rounds: int | None = None) -> bool:
    """Are the submission's digests the reference's (its first `rounds`, when it ran more)? The
    reference answers one norm and the same number of digests (projections) for each round."""
    if not isinstance(got, dict) or not isinstance(want, dict):
        return False
    a, b, norms = got.get("digests"), want.get("digests"), want.get("norms")
    if not (isinstance(a, list) and isinstance(b, list) and isinstance(norms, list) and norms):
        return False
    per_round = len(b) // len(norms)
    if per_round < 1:
        return False
    b, norms = b[:per_round * (rounds or len(norms))], norms[:rounds or len(norms)]
    if not len(a) == len(b) == per_round * len(norms):
        return False
    return all(type(x) is float and math.isfinite(x)
               and abs(x - y) <= TOLERANCE * norms[i // per_round] + 1e-6 for i, (x, y) in enumerate(zip(a, b)))


def _what(probe, args: dict) -> tuple[str, dict]:
    """A probe's name and arguments: a timed probe of the assignment's, or a generic.timed(...) call."""
    if isinstance(probe, str):
        return probe, args
    return probe.probe, {**probe.args, **args}


def compare_speed(submission, reference, probe, factor: float, settings, **args) -> SpeedResult:
    """Time `probe` (a timed probe's name, or generic.timed(...)) on the submission and on the
    reference, interleaved (see the module's doc)."""
    probe, args = _what(probe, args)
    cal = calibrate(reference, probe, settings.speed_call_s, **args)
    n = cal.iters
    result = SpeedResult(iters=n)
    mismatched = []
    empties: dict[int, list[float]] = {}  # iterations -> the reference's empty calls of that size
    with same_cpu(submission, reference):
        for pair in range(max(settings.speed_repeats, settings.speed_max_pairs)):
            # The reference's calls last about as long as the submission's (from the second pair on),
            # so that what a call costs beyond its rounds weighs alike on both sides. The lowest ratio
            # so far sizes them: one pair slowed by a burst of load must not make them long.
            estimate = min(result.ratios) if result.ratios else 1.0
            n_ref = n if estimate < 1.5 else min(n * 64, round(n * estimate))
            call = dict(args, seed=_seed(), iters=n, check=_seed())
            submission.timed(probe, **dict(call, iters=1, seed=_seed()))  # warm (first: builds its module)
            mine, got = submission.timed_answer(probe, **call)
            empty = reference.timed(probe, work=False, **call)
            reference.timed(probe, **dict(call, iters=1, seed=_seed()))  # warm: the other side just ran
            theirs, want = reference.timed_answer(probe, **dict(call, iters=n_ref))
            # The empty calls of the same size measured so far, by their median: what a call costs beyond
            # its work hardly changes from pair to pair, and one noisy empty call must not move a ratio.
            empty = _typical(empties, n, empty)
            empty_ref = empty if n_ref == n else _typical(
                empties, n_ref, reference.timed(probe, work=False, **dict(call, iters=n_ref)))
            # What the calls cost beyond the work is taken off both sides, but never more than half of
            # a side's time: for a cheap call, one noisy empty measurement must not make a side's time
            # near zero and its ratio absurd.
            mine, theirs = max(mine - empty, mine / 2), max(theirs - empty_ref, theirs / 2)
            if not _agree(got, want, n):
                mismatched.append((call, got))
            result.ratios.append((mine / n) / (max(theirs, 1e-9) / n_ref))
            if _enough(result.ratios, factor, settings):
                break
    if mismatched:
        result.problem = _recheck(submission, probe, mismatched)
    return result


def _enough(ratios: list[float], factor: float, settings) -> bool:
    """Is the verdict clear after these pairs (see the module's doc, 3)?"""
    n, median = len(ratios), statistics.median(ratios)
    if n == 1 and ratios[0] > FIRST_PAIR_OVER * factor:
        return True
    # Far under: one pair over a third of the factor is allowed from the third pair on (a burst of
    # load on one side; without it a class of honest submissions took the steady rule's 11 to 21
    # pairs about one speed test in eight), while the median under a quarter keeps a submission
    # twice as slow as the reference from being cut short at a low first few pairs.
    over = sum(r >= factor / FAR_UNDER for r in ratios)
    if n >= settings.speed_far_pairs and median < factor / FAR_UNDER_MEDIAN and over <= (n >= 3):
        return True
    if n < settings.speed_repeats or not _steady(ratios):
        return False
    low, high = _middle_half(ratios)
    return high < factor / CLEAR or low > factor * CLEAR


def _middle_half(ratios: list[float]) -> tuple[float, float]:
    ordered = sorted(ratios)
    quarter = len(ordered) // 4
    return ordered[quarter], ordered[-1 - quarter]


def _steady(ratios: list[float]) -> bool:
    """Is the median of these pairs precise: their middle half within STEADY * sqrt(n) of it? (The
    median of n pairs spreads as 1/sqrt(n) of one pair's spread, so more pairs may be less alike.
    On a shared machine a burst of load can slow one side for several pairs in a row; five pairs
    then measured k = 2 as 1.6, and eleven within 20% of each other measured it as 2.3.) Only pairs
    beyond the far-under rule are held to it, so an ordinary class pays nothing."""
    low, high = _middle_half(ratios)
    return high - low <= STEADY * math.sqrt(len(ratios)) * statistics.median(ratios)


def _typical(seen: dict[int, list[float]], iters: int, measured: float) -> float:
    """The median of the empty calls of `iters` iterations, this one included."""
    seen.setdefault(iters, []).append(measured)
    return statistics.median(seen[iters])


def _recheck(submission, probe: str, mismatched: list) -> str:
    """"" when answers that are not the reference's are the submission's own work; else why not."""
    why = submission.unverifiable_reason()
    if why:
        return f"its answers are not the reference's, and {why}"
    digests = [tuple(got.get("digests") or ()) if isinstance(got, dict) else () for _, got in mismatched]
    if len(digests) > 1 and len(set(digests)) == 1:
        return "its output did not change with its input (no forward pass was computed)"
    call, got = mismatched[0]
    again = submission.recheck(probe, **dict(call, grad=True))
    if not isinstance(again, dict) or again.get("digests") is None or again.get("digests") != got.get("digests"):
        return ("the outputs of the timed calls are not what the same code computes for the same inputs "
                "in a fresh run (the timed calls did not do the forward pass)")
    return ""


def time_forward_once(submission, reference, probe, limit_s: float, **args) -> tuple[float, str]:
    """(the fastest timed single call, problem): the guide's absolute bound, in wall time. The first
    call builds the module and then computes one pass: when even that is within the limit, so is
    the pass, and it counts. Otherwise a second is timed, and a third only when the second is over
    the limit (load on a shared machine only ever makes a pass slower). Every call's answer is
    checked against the reference's for its seed."""
    probe, args = _what(probe, args)
    calls = []
    for _ in range(3):
        call = dict(args, seed=_seed(), iters=1, check=_seed())
        seconds, got = submission.wall_timed_answer(probe, **call)
        calls.append((seconds, call, got))
        if seconds <= limit_s or (len(calls) >= 2 and seconds >= 3 * limit_s):
            break
    seconds = min(c[0] for c in calls[1:] or calls)
    # Every call's answer is checked, not only the counted one's: a wrong output whose one digest
    # agreed by chance must not pass on that call alone.
    mismatched = [(call, got) for _, call, got in calls
                  if not _agree(got, reference.timed_answer(probe, **call)[1])]
    return seconds, (_recheck(submission, probe, mismatched) if mismatched else "")
