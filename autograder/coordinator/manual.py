"""What is graded by hand: written answers and rubric items, entered in nbgrader's formgrader.

Runs in the coordinator. The cells come from the instructor's source notebook (authoring/markers:
`<!-- ANSWER name (3 points) -->` and `<!-- TASK name (4 points) -->` cells, their mark schemes);
the scores and comments from nbgrader's gradebook, where formgrader (or any client of nbgrader's
API) writes them and where the grade run only ever adds empty rows (gradebook.Recorder). A cell
whose `manual_score` is still empty is *pending*: counted nowhere as zero without saying so.

The gradebook is read here with sqlite3, read-only, from nbgrader's tables, as gradebook.students
does: the run that finds nothing changed must see a manual grade entered since the last run
without paying for nbgrader's imports.

Reusable comments live in `hidden/rubric.toml`: a `#tag` written in formgrader's comment box is
shown to the student as that item's text (see docs/authoring.md, "Written answers").
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import Assignment
from autograder.authoring.markers import ManualItem, manual_items, prepare
from autograder.config import CourseConfig, CourseError

RUBRIC = "rubric.toml"
_TAG = re.compile(r"(?<![\w&])#([A-Za-z_][\w\-]*)")


@dataclass(frozen=True)
class RubricItem:
    tag: str
    text: str
    points: float | None = None              # guidance for the grader (e.g. -1), never applied by itself
    cells: tuple[str, ...] = ()              # the grade ids it is meant for; () = any


@dataclass
class ManualGrade:
    """One manually graded cell of one submission, as the gradebook holds it."""
    item: ManualItem
    score: float | None = None               # None: not graded yet (pending); 0 for an answer left blank
    comment: str = ""                        # the instructor's comment, rubric tags taken out
    rubric: list[RubricItem] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.score is None


@dataclass
class ManualPart:
    """A submission's manual part: every manually graded cell, graded or pending."""
    grades: list[ManualGrade]

    @property
    def score(self) -> float:
        return sum(g.score for g in self.grades if g.score is not None)

    @property
    def max_score(self) -> float:
        return sum(g.item.points for g in self.grades)

    @property
    def pending(self) -> int:
        return sum(1 for g in self.grades if g.pending)

    def status(self) -> str:
        """'' (nothing graded by hand), 'graded', or 'pending: 3 of 5 to grade'."""
        if not self.grades:
            return ""
        return f"pending: {self.pending} of {len(self.grades)} to grade" if self.pending else "graded"


def items(a: Assignment) -> list[ManualItem]:
    """The assignment's cells graded by hand, from its source notebook (markers written as metadata)."""
    path = a.reference_notebook
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path}: cannot be read ({exc})") from None
    return manual_items(prepare(nb, str(path))[0])


def load_rubric(a: Assignment) -> dict[str, RubricItem]:
    """hidden/rubric.toml: `[tag]` tables with `text`, optional `points` and `cells`."""
    path = a.hidden / RUBRIC
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path}: not valid TOML ({exc})") from None
    rubric = {}
    for tag, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise CourseError(f"{path}: [{tag}] needs text = \"...\" (the comment the student reads)")
        unknown = set(entry) - {"text", "points", "cells"}
        if unknown:
            raise CourseError(f"{path}: [{tag}] has unknown key(s) {', '.join(sorted(unknown))} "
                              "(known: text, points, cells)")
        if not _TAG.fullmatch("#" + tag):
            raise CourseError(f"{path}: [{tag}]: a tag is letters, digits, _ and -, starting with a letter")
        points = entry.get("points")
        if points is not None and not isinstance(points, (int, float)):
            raise CourseError(f"{path}: [{tag}] points = {points!r} is not a number")
        rubric[tag] = RubricItem(tag, entry["text"].strip(), float(points) if points is not None else None,
                                 tuple(entry.get("cells") or ()))
    return rubric


def split_comment(text: str, rubric: dict[str, RubricItem]) -> tuple[str, list[RubricItem]]:
    """(the comment without the rubric tags it names, the rubric items chosen, in order)."""
    chosen = []
    for tag in _TAG.findall(text or ""):
        if tag in rubric and rubric[tag] not in chosen:
            chosen.append(rubric[tag])
    rest = _TAG.sub(lambda m: "" if m.group(1) in rubric else m.group(0), text or "")
    return re.sub(r"[ \t]+\n", "\n", re.sub(r"[ \t]{2,}", " ", rest)).strip(), chosen


_QUERY = """
SELECT sa.student_id, bc.name, g.manual_score, g.auto_score, c.manual_comment, c.auto_comment
FROM submitted_assignment sa
JOIN assignment a ON a.id = sa.assignment_id
JOIN submitted_notebook sn ON sn.assignment_id = sa.id
JOIN notebook n ON n.id = sn.notebook_id
JOIN base_cell bc ON bc.notebook_id = n.id
LEFT JOIN grade g ON g.notebook_id = sn.id AND g.cell_id = bc.id
LEFT JOIN comment c ON c.notebook_id = sn.id AND c.cell_id = bc.id
WHERE a.name = ? AND n.name = ?
"""


def read(cfg: CourseConfig, a: Assignment, students, manual: list[ManualItem] | None = None,
         rubric: dict[str, RubricItem] | None = None, answered: dict | None = None) -> dict[str, ManualPart]:
    """Each student's manual part, from the gradebook: a cell without a row yet is pending, unless
    `answered` ({student: {grade id: bool}}, this run's reading of the notebooks) says the student
    left it blank: then it is 0, "No response.", as the gradebook will say once this run commits."""
    manual = items(a) if manual is None else manual
    rubric = load_rubric(a) if rubric is None else rubric
    entered: dict[tuple[str, str], tuple] = {}
    path = cfg.root / cfg.nbgrader.gradebook
    if manual and path.is_file():
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
                # an answer is two of nbgrader's cells of one name: the grade cell holds the grade, the
                # solution cell the comment (a task cell holds both)
                for student, cell, manual_score, auto_score, comment, auto_comment in db.execute(
                        _QUERY, (a.id, Path(a.notebook).stem)):
                    score, said = entered.get((student, cell), (None, None))
                    if manual_score is not None or auto_score is not None:
                        # the instructor's score decides; else the run's 0 for an answer left blank
                        score = auto_score if manual_score is None else manual_score
                    if comment or (auto_comment and not said):  # the instructor's words first
                        said = comment or auto_comment
                    entered[(student, cell)] = (score, said)
        except sqlite3.Error as exc:
            raise CourseError(f"{path}: the gradebook cannot be read ({exc}); restore it, or move it away "
                              "to start a new one") from None
    parts = {}
    for student in students:
        grades = []
        for item in manual:
            blank = answered is not None and item.kind == "answer" and not answered.get(student, {}).get(item.grade_id)
            score, comment = entered.get((student, item.grade_id), (None, None))
            if blank and score is None:
                score, comment = 0.0, comment or "No response."
            text, chosen = split_comment(comment or "", rubric)
            grades.append(ManualGrade(item, None if score is None else float(score), text, chosen))
        parts[student] = ManualPart(grades)
    return parts


def digest(parts: dict[str, ManualPart]) -> str:
    """What the outputs show of the manual parts: a run whose digest differs rewrites them."""
    flat = sorted((s, g.item.grade_id, g.item.points, g.score, g.comment, [r.tag for r in g.rubric])
                  for s, part in parts.items() for g in part.grades)
    return hashlib.sha256(json.dumps(flat).encode()).hexdigest()


def progress(parts: dict[str, ManualPart]) -> tuple[int, int]:
    """(cells still to grade, cells graded by hand in all) over the class."""
    cells = [g for part in parts.values() for g in part.grades]
    return sum(1 for g in cells if g.pending), len(cells)
