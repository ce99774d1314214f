"""The late policy: when a submission arrived, and what that costs."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from autograder.config import LatePolicy, parse_time

DAY = 86400.0


def submission_time(folder: Path, notebook: Path) -> dt.datetime:
    """nbgrader's timestamp.txt in the submission folder, else the notebook's modification time."""
    stamp = folder / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        try:
            return parse_time(stamp.read_text()[:100])
        except (ValueError, OverflowError):
            pass  # unreadable: fall back rather than fail the student
    return dt.datetime.fromtimestamp(notebook.stat().st_mtime, dt.timezone.utc)


def started_days(policy: LatePolicy, late_by_s: float) -> int:
    """Days late, each started day counted whole, after the grace period; 0 when on time."""
    return max(0, math.ceil((late_by_s - policy.grace_minutes * 60) / DAY))


def penalty(policy: LatePolicy, raw_score: float, late_by_s: float) -> float:
    """Points taken off `raw_score` for a submission `late_by_s` seconds after the due date."""
    days = started_days(policy, late_by_s)
    if not days or policy.kind == "none":
        return 0.0
    if policy.kind == "zero":
        return raw_score
    percent = min(policy.cap_percent, policy.percent_per_day * days)
    return round(raw_score * percent / 100, 4)


def describe(policy: LatePolicy, late_by_s: float, points: float) -> str:
    """For the feedback page: how late, and what it cost."""
    days = started_days(policy, late_by_s)
    if not days:
        return "on time"
    hours = late_by_s / 3600
    when = f"{hours:.1f} hours late" if hours < 48 else f"{late_by_s / DAY:.1f} days late"
    return f"{when} ({days} started day{'s' if days > 1 else ''}): -{points:g} points"
