"""Speed, measured by the judge's clock around worker calls, against the reference in the same run."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def compare_speed(submission, reference, name: str, repeats: int = 5, confirm_above: float | None = None,
                  **args) -> tuple[float, Timing, Timing]:
    """Interleaved timing: (ratio of medians, student's timing, reference's timing).

    Both run the same probe with the same arguments, alternately, after one warm-up each, so
    machine noise hits both sides alike. The clock is ours; the student's code cannot touch it.
    A submission already 20x slower on the first pair is not timed again: the verdict is clear,
    and a slow submission should not cost the whole class its grading time. A ratio above
    `confirm_above` is measured once more and the better of the two counts: a burst of load on a
    shared machine must not cost a student points.
    """
    submission.timed(name, **args)
    reference.timed(name, **args)
    best = None
    for _ in range(2 if confirm_above is not None else 1):
        mine, theirs = Timing(), Timing()
        for i in range(repeats):
            mine.seconds.append(submission.timed(name, **args))
            theirs.seconds.append(reference.timed(name, **args))
            if i == 0 and mine.seconds[0] > 20 * theirs.seconds[0]:
                return mine.median / max(theirs.median, 1e-9), mine, theirs
        ratio = mine.median / max(theirs.median, 1e-9)
        if best is None or ratio < best[0]:
            best = (ratio, mine, theirs)
        if confirm_above is None or ratio <= confirm_above:
            break
    return best
