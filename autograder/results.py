"""The records of grading, shared by every trusted process: a submission, its outcomes, its result.

Serialized in one place (to_dict / from_dict): results travel from a lane to the coordinator as JSON.
"""
from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import asdict, dataclass, field


class Status(str, enum.Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"              # the student's answer was checked and is wrong
    ERROR = "ERROR"                # the student's code raised (NotImplementedError included)
    TIMEOUT = "TIMEOUT"            # a probe or the notebook ran past its time limit
    CRASHED = "CRASHED"            # the worker died (os._exit, a signal, too many deaths)
    MEMORY = "MEMORY"              # the worker ran past its memory limit
    OUTPUT_LIMIT = "OUTPUT_LIMIT"  # the worker printed or wrote past its output cap
    FORBIDDEN = "FORBIDDEN"        # the worker tried something the sandbox denies
    LOAD_ERROR = "LOAD_ERROR"      # the notebook could not be read at all
    GRADER_ERROR = "GRADER_ERROR"  # a hidden test itself broke: the instructor must look


@dataclass(frozen=True)
class Submission:
    """One submission, the same record from discovery through its lane to its report."""
    student_id: str
    assignment_id: str
    notebook: str                   # the file name as submitted
    data: bytes = field(repr=False)  # the bytes fingerprinted are the bytes graded: read once
    fingerprint: str = ""           # what the incremental regrade compares
    submitted_at: dt.datetime | None = None


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False    # a result, not a test class, wherever a test module imports it
    name: str           # "test_softmax.py::test_sdpa_weights_sum_to_one"
    family: str         # "softmax": the hidden test file, without test_
    score: float
    max_score: float
    status: Status
    output: str         # what the student reads; never hidden inputs or reference values
    description: str = ""  # the test's docstring: the question it asks
    visibility: str = "visible"
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        return d


@dataclass(frozen=True)
class LoadIssue:
    """A notebook cell that raised or timed out while the worker loaded the submission."""
    cell: int            # 1-based position in the notebook, as a student counts cells
    status: str          # "error" or "timeout"
    message: str


@dataclass
class SubmissionResult:
    student_id: str
    assignment_id: str
    notebook: str
    tests: list[TestOutcome] = field(default_factory=list)
    load_issues: list[LoadIssue] = field(default_factory=list)
    load_error: str | None = None       # the notebook could not be read at all
    isolation: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    pytest_report: dict | None = None
    fingerprint: str = ""               # what the incremental regrade compares
    # Pictures for the feedback page, drawn in the lane (autograder/figures.py):
    # {"title", "png_b64", "note", "caption", "alt"}, all text; "note" says why the student's side is missing.
    figures: list[dict] = field(default_factory=list)
    submitted_at: str = ""              # ISO time, from timestamp.txt or the file's mtime
    late_by_s: float = 0.0
    penalty: float = 0.0                # points taken off by the late policy
    # Source that reaches into the grader (judge/source.py): {"kind", "what", "cell", "label", "line", "code"}.
    flags: list[dict] = field(default_factory=list)

    @property
    def raw_score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def score(self) -> float:
        return round(max(0.0, self.raw_score - self.penalty), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    def family_scores(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            got, most = out.get(t.family, (0.0, 0.0))
            out[t.family] = (round(got + t.score, 4), round(most + t.max_score, 4))
        return out

    def to_dict(self) -> dict:
        return {
            "student_id": self.student_id,
            "assignment_id": self.assignment_id,
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "raw_score": self.raw_score,
            "penalty": self.penalty,
            "submitted_at": self.submitted_at,
            "late_by_s": self.late_by_s,
            "tests": [t.to_dict() for t in self.tests],
            "load_error": self.load_error,
            "load_issues": [asdict(i) for i in self.load_issues],
            "isolation": self.isolation,
            "timings": self.timings,
            "fingerprint": self.fingerprint,
            "figures": self.figures,
            "flags": self.flags,
            "pytest_json_report": self.pytest_report,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        tests = [TestOutcome(**{**t, "status": Status(t["status"])}) for t in d["tests"]]
        return cls(student_id=d["student_id"], assignment_id=d["assignment_id"],
                   notebook=d["notebook"], tests=tests,
                   load_issues=[LoadIssue(**i) for i in d.get("load_issues", [])],
                   load_error=d.get("load_error"), isolation=d.get("isolation", ""),
                   timings=d.get("timings", {}), pytest_report=d.get("pytest_json_report"),
                   fingerprint=d.get("fingerprint", ""), submitted_at=d.get("submitted_at", ""),
                   late_by_s=d.get("late_by_s", 0.0), penalty=d.get("penalty", 0.0),
                   figures=_figures(d.get("figures")), flags=list(d.get("flags") or []))


FIGURE_KEYS = ("title", "png_b64", "note", "caption", "alt")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _figures(raw) -> list[dict]:
    """Figures as they travel and as reports keep them: a list of dicts of text; anything else is dropped."""
    if not isinstance(raw, list):
        return []
    out = []
    for f in raw:
        if isinstance(f, dict):
            f = {k: f[k] for k in FIGURE_KEYS if isinstance(f.get(k), str)}
            if not _BASE64.fullmatch(f.get("png_b64", "")):
                f.pop("png_b64")
            out.append(f)
    return out
