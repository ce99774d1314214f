"""The class roster (optional): roster.csv with student_id, lms_id, name, sis_id, section."""
from __future__ import annotations

import csv
from dataclasses import dataclass

from autograder.config import CourseConfig, CourseError

COLUMNS = ("student_id", "lms_id", "name", "sis_id", "section")


@dataclass(frozen=True)
class Student:
    student_id: str
    lms_id: str = ""
    name: str = ""
    sis_id: str = ""
    section: str = ""


def load_roster(cfg: CourseConfig) -> dict[str, Student]:
    """student_id -> Student; empty when the course has no roster file."""
    path = cfg.root / cfg.collect.roster
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("student_id", "lms_id") if c not in (reader.fieldnames or [])]
        if missing:
            raise CourseError(f"{path}: needs the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")
        rows = [Student(**{c: (row.get(c) or "").strip() for c in COLUMNS}) for row in reader]
    return {s.student_id: s for s in rows if s.student_id}
