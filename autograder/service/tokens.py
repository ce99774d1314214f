"""`python -m autograder tokens` (make tokens): a sign-in token per rostered student, and one for
instructors, in grades/tokens.csv (mode 0600) for a mail merge; the database keeps only hashes.

Running it again keeps the tokens already issued (a mailed link keeps working) and issues tokens
for students new to the roster; --rotate reissues (every token, or --student's)."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from autograder.config import CourseConfig, CourseError
from autograder.coordinator.roster import load_roster
from autograder.service.auth import INSTRUCTOR, digest, new_token
from autograder.service.db import Database, Token

COLUMNS = ("student_id", "name", "role", "token", "link")


@dataclass(frozen=True)
class Issued:
    path: Path
    new: list[str]        # subjects given a new token
    kept: list[str]
    lost: list[str]       # have a token whose text is no longer in tokens.csv: reissue with --rotate
    removed: list[str]    # no longer on the roster: their tokens stop working


def tokens_file(cfg: CourseConfig) -> Path:
    return cfg.root / "grades" / "tokens.csv"


def base_url(cfg: CourseConfig) -> str:
    return (cfg.service.public_url or f"http://{cfg.service.host}:{cfg.service.port}").rstrip("/")


def _previous(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["student_id"]: row["token"] for row in csv.DictReader(f) if row.get("student_id") and row.get("token")}


def issue(cfg: CourseConfig, rotate: bool = False, only: str | None = None) -> Issued:
    roster = load_roster(cfg)
    if not roster:
        raise CourseError(f"{cfg.root / cfg.collect.roster}: no roster, or no students in it; tokens are made "
                          "for the students it lists")
    if only and only not in roster and only != INSTRUCTOR:
        raise CourseError(f"{cfg.root / cfg.collect.roster}: no student {only!r}")
    wanted = {sid: (s.name, "student") for sid, s in roster.items()}
    wanted[INSTRUCTOR] = ("Instructor", INSTRUCTOR)
    path = tokens_file(cfg)
    previous = _previous(path)
    db = Database(cfg.service_db_url)
    new, kept, lost, removed, rows = [], [], [], [], []
    try:
        with db.session.begin() as s:
            have: dict[tuple[str, str], list[Token]] = {}
            for t in s.scalars(select(Token)):
                have.setdefault((t.subject, t.role), []).append(t)
            for (subject, role), tokens in have.items():
                if wanted.get(subject, (None, None))[1] != role:
                    s.execute(delete(Token).where(Token.subject == subject, Token.role == role))
                    removed.append(subject)
            for subject, (name, role) in sorted(wanted.items()):
                current = have.get((subject, role), [])
                text = previous.get(subject)
                fresh = rotate and (only is None or only == subject)
                if current and not fresh:
                    if text and any(t.digest == digest(text) for t in current):
                        kept.append(subject)
                        rows.append((subject, name, role, text))
                    else:
                        lost.append(subject)
                    continue
                s.execute(delete(Token).where(Token.subject == subject, Token.role == role))
                text = new_token()
                s.add(Token(digest=digest(text), subject=subject, role=role, name=name))
                new.append(subject)
                rows.append((subject, name, role, text))
            _write_private(path, rows, base_url(cfg))
    finally:
        db.close()
    return Issued(path, new, kept, lost, removed)


def _write_private(path: Path, rows: list[tuple[str, str, str, str]], base: str) -> None:
    """tokens.csv, readable by its owner only from the moment it exists (no window at 0644)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for subject, name, role, text in rows:
        w.writerow([subject, name, role, text, f"{base}/signin?token={text}"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
