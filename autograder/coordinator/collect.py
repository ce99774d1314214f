"""Collect stage: an LMS bulk download (a zip) into submitted/<student_id>/<assignment>/.

File names are matched with COLLECT["pattern"]; the `student` group is a student id, or the
`lms_id` group is looked up in the roster. Names that match nothing are reported, never dropped
silently. Only notebooks are imported, under the assignment's notebook name, each with an
nbgrader timestamp.txt taken from the zip entry's time (the LMS's submission time).
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.coordinator import report
from autograder.assignment import load_assignment
from autograder.config import CourseConfig, CourseError, parse_time
from autograder.coordinator.discover import student_id_problem
from autograder.coordinator.roster import load_roster
from autograder.notebook import mib


@dataclass
class CollectResult:
    imported: dict[str, str] = field(default_factory=dict)        # student id -> file name in the zip
    unmatched: list[str] = field(default_factory=list)            # names the pattern or roster missed
    skipped: list[str] = field(default_factory=list)              # not notebooks, too big, duplicates


def collect(cfg: CourseConfig, zip_path: Path, assignment_id: str, warn=lambda text: None) -> CollectResult:
    """Import the zip; `warn(text)` hears of each submission it replaces, before it is replaced."""
    a = load_assignment(cfg, assignment_id)
    try:
        pattern = re.compile(cfg.collect.pattern)
    except re.error as exc:
        raise CourseError(f"course_config.py: COLLECT['pattern'] is not a valid regular expression: {exc}") from None
    if "student" not in pattern.groupindex and "lms_id" not in pattern.groupindex:
        raise CourseError("course_config.py: COLLECT['pattern'] needs a named group 'student' or 'lms_id'")
    by_lms = {s.lms_id: s.student_id for s in load_roster(cfg).values() if s.lms_id}
    if "student" not in pattern.groupindex and not by_lms:
        raise CourseError(f"{cfg.root / cfg.collect.roster}: needed to map lms_id to student ids, "
                          "but it is missing or empty")
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CourseError(f"{zip_path}: not a readable zip file ({exc})") from None

    result = CollectResult()
    with archive:
        latest: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename).name  # never trust folders inside the zip
            match = pattern.match(name)
            student = None
            if match:
                groups = match.groupdict()
                student = groups.get("student") or by_lms.get(groups.get("lms_id") or "")
            if not match or not student:
                result.unmatched.append(info.filename)
                continue
            problem = student_id_problem(student)
            if problem:
                result.unmatched.append(f"{info.filename} (student id {student!r} is not valid: it {problem})")
                continue
            if not name.endswith(".ipynb"):
                result.skipped.append(f"{info.filename} (not a notebook)")
                continue
            if info.file_size > a.settings.max_notebook_bytes:
                result.skipped.append(f"{info.filename} ({mib(info.file_size)}, over the "
                                      f"{mib(a.settings.max_notebook_bytes)} notebook limit)")
                continue
            if student in latest:  # an LMS keeps resubmissions: the newest one counts
                older = min(latest[student], info, key=lambda i: i.date_time)
                result.skipped.append(f"{older.filename} (an older submission by {student})")
                if older is info:
                    continue
            latest[student] = info
        for student, info in sorted(latest.items()):
            folder = cfg.submitted_dir / student / a.id
            data = archive.read(info)
            stamp = dt.datetime(*info.date_time).strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n"
            _warn_before_replacing(cfg, folder, a.notebook, data, stamp, warn)
            report.atomic_write_bytes(folder / a.notebook, data)
            report.atomic_write_text(folder / "timestamp.txt", stamp)
            result.imported[student] = info.filename
    return result


def _warn_before_replacing(cfg: CourseConfig, folder: Path, notebook: str, data: bytes, stamp: str, warn) -> None:
    """A submission already in submitted/ is about to be replaced: say what changes, and when a
    new submission time is earlier than the one it replaces (an older download imported again?)."""
    where = folder.relative_to(cfg.root)
    old_stamp = folder / "timestamp.txt"
    if old_stamp.is_file():
        before = old_stamp.read_text(errors="replace").strip()
        if before != stamp.strip():
            try:
                older = parse_time(stamp) < parse_time(before)
            except (ValueError, OverflowError):
                older = False
            warn(f"{where}/timestamp.txt: replacing the submission time {before} with {stamp.strip()}"
                 + (" (earlier: is this zip older than the last import?)" if older else "")
                 + "; the late penalty follows the new time")
    old_nb = folder / notebook
    if old_nb.is_file() and old_nb.read_bytes() != data:
        warn(f"{where}/{notebook}: replacing the notebook already there with the one in the zip")
