"""Speed-test fidelity: multi-head attentions doing k times the reference's work (k = 2, 4, 8, 16)
timed exactly as a hidden speed test times them (autograder/judge/timing.compare_speed, the
course's settings); the measured ratio must be k within 15%."""
from __future__ import annotations

import statistics
import time

from autograder.assignment import load_assignment
from autograder.config import CourseConfig
from autograder.judge import timing
from autograder.judge.handles import SandboxedCode
from autograder.judge.lane import Lane
from autograder.judge.source import analyse
from autograder.notebook import read_notebook
from bench.recipes import K_TIMES_THE_WORK

ASSIGNMENT = "day41_transformer"
MHA = dict(what="mha", d_model=64, num_heads=4, B=8, T=64)   # the shape of Day 41's test_mha_speed
KS = (2, 4, 8, 16)
TOLERANCE = 0.15


def measure(cfg: CourseConfig, ks=KS, runs: int = 3) -> dict:
    """{"runs": [{k, ratio, low, high, pairs, error}], "worst_error", "within"}: `runs` timings of each k."""
    a = load_assignment(cfg, ASSIGNMENT)
    lane = Lane(a)
    rows = []
    started = time.perf_counter()
    try:
        cells = lane._cells(read_notebook(a.reference_notebook, a.settings.max_notebook_bytes), a.notebook)
        factor = a.settings.speed_factor
        for k in ks:
            for _ in range(runs):
                variant = cells + [{"number": len(cells) + 1, "source": K_TIMES_THE_WORK.format(k=k), "label": ""}]
                code = SandboxedCode(lane.zygote, variant, lane._spec("fidelity"), a.settings)
                code.source = analyse(variant, a.rules)
                try:
                    result = timing.compare_speed(code, lane.reference, "time_forward", factor, a.settings, **MHA)
                finally:
                    code.close()
                rows.append({"k": k, "ratio": round(result.ratio, 3), "low": round(min(result.ratios), 3),
                             "high": round(max(result.ratios), 3), "pairs": len(result.ratios),
                             "error": round(result.ratio / k - 1, 3), "problem": result.problem})
                print(f"  k={k:>2}: measured {result.describe()}", flush=True)
    finally:
        lane.close()
    worst = max(abs(r["error"]) for r in rows)
    return {"runs": rows, "per_k": {k: statistics.median(r["ratio"] for r in rows if r["k"] == k) for k in ks},
            "worst_error": worst, "within": worst <= TOLERANCE, "tolerance": TOLERANCE,
            "seconds": round(time.perf_counter() - started, 1)}
