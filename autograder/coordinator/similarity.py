"""The similarity check (make similarity): code that submissions share beyond the release.

Findings are evidence for the instructor, never a grade change: nothing here reads or writes a
score, a report or the gradebook. The stage:
1. each submission's code cells, by the grader's own rule (notebook.code_cells), made canonical
   (canonical.py): chosen names, comments, layout and the order of cells and functions stop counting;
2. copydetect's winnowing fingerprints those tokens; fingerprints of the release's own code (its
   notebook and scripts) are dropped, and so are those found in most of the class (everyone's
   idiom, as MOSS does);
3. every pair gets copydetect's measure, the share of each side's fingerprinted code that the
   other contains (counted for all pairs at once: `overlaps`); pairs rank by the larger share (a
   copy of half a notebook is a copy), less when the match is short;
4. grades/<id>/similarity.html (ranked, matches side by side) and similarity.csv; submissions of
   earlier terms (SIMILARITY["archive"]) are compared with this term's, not with each other.

The same input gives the same bytes: copydetect hashes k-grams with Python's hash(), which is
salted per process for text, so it is given tuples of integers (each token's stable blake2b),
whose hash is not.
"""
from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from copydetect.utils import get_document_fingerprints, get_token_coverage

from autograder.assignment import Assignment, load_assignment
from autograder.config import CourseConfig, CourseError, SimilaritySettings
from autograder.coordinator import canonical, dashboard, report, similarity_report
from autograder.coordinator.discover import Listed, read_submissions
from autograder.notebook import NotebookError, code_cells

HTML = "similarity.html"
CSV = "similarity.csv"
ARCHIVE_PREFIX = "archive/"
COMMON_FLOOR = 4          # a fingerprint is everyone's idiom only when more submissions than this share it
CSV_HEADER = ["rank", "student_a", "student_b", "similarity", "a_in_b", "b_in_a", "matched_tokens", "flagged"]


@dataclass
class Code:
    """One submission as the check sees it."""
    student: str
    archived: bool
    cells: list[dict]                   # [{number, source, label}] as the grader runs them
    canon: canonical.Canonical
    fingerprints: dict                  # fingerprint -> token positions, boilerplate and idiom left out
    keys: frozenset = frozenset()       # the same fingerprints, as a set
    coverage: int = 0                   # tokens covered by those fingerprints


@dataclass(frozen=True)
class Pair:
    a: Code
    b: Code
    a_in_b: float                       # share of a's fingerprinted code found in b
    b_in_a: float
    tokens: int                         # matched tokens, the fewer of the two sides'
    similarity: float                   # the larger share, less when fewer than min_match_tokens match


@dataclass(frozen=True)
class Release:
    """The release's code, left out: its contract, every fingerprint of its code, its canonical lines."""
    contract: canonical.Contract
    fingerprints: frozenset
    lines: frozenset


@dataclass
class Findings:
    assignment_id: str
    settings: SimilaritySettings
    release: Release
    pairs: list[Pair]                   # ranked, the most similar first
    compared: list[Code]
    nothing_own: list[str]              # submissions with no code beyond the release and the idioms
    skipped: list[tuple[str, str]]      # (student, why) for notebooks that could not be read

    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.similarity >= self.settings.threshold]


def run(cfg: CourseConfig, assignment_id: str | None = None, quiet: bool = False) -> dict[str, Findings]:
    """make similarity: check one assignment (default: every one with hidden tests), and link the
    report from its class dashboard when grading has written one."""
    ids = [assignment_id] if assignment_id else [
        aid for aid in cfg.assignments() if any((cfg.source_dir / aid / "hidden").glob("test_*.py"))]
    if not ids:
        raise CourseError(f"{cfg.source_dir}: no assignment with hidden tests to compare")
    found = {}
    for aid in ids:
        found[aid] = check(cfg, aid, quiet)
        _relink_dashboard(cfg, aid)
    return found


def check(cfg: CourseConfig, assignment_id: str, quiet: bool = False) -> Findings:
    """Compare every submission of an assignment (and the archive's); write similarity.html and .csv."""
    a = load_assignment(cfg, assignment_id)
    settings = cfg.similarity
    release = release_code(cfg, a, settings)
    codes, skipped = [], []
    for root, archived in _sources(cfg, settings):
        for f in read_submissions(cfg, a, root):
            try:
                if f.data is None:
                    raise NotebookError(f.problem)
                codes.append(_code(f, a, release.contract, archived))
            except NotebookError as exc:
                skipped.append((_label(f.student, archived), str(exc)))
    findings = compare(codes, release, settings, assignment_id)
    findings.skipped = sorted(skipped)
    out = cfg.root / "grades" / a.id
    report.atomic_write_text(out / CSV, to_csv(findings))
    report.atomic_write_text(out / HTML, similarity_report.render(findings, out))
    if not quiet:
        current, flagged = sum(not c.archived for c in codes), len(findings.flagged())
        print(f"similarity {a.id}: {current} submissions and {len(codes) - current} from the archive compared, "
              f"{flagged} pair{'s' if flagged != 1 else ''} at or above {settings.threshold:g}; "
              f"see {(out / HTML).relative_to(cfg.root)}")
        for who, why in findings.skipped:
            print(f"warning: {who}: not compared: {why}", file=sys.stderr)
    return findings


def release_code(cfg: CourseConfig, a: Assignment, settings: SimilaritySettings) -> Release:
    """The release's code: its notebook's cells (by the same cell rule) and its scripts, with every
    k-gram fingerprinted (no winnowing: all of it is left out)."""
    folder = cfg.release_dir / a.id
    notebook = folder / a.notebook
    if not notebook.is_file():
        raise CourseError(f"{notebook}: not found; run make release first (the release's code is left "
                          "out of the comparison)")
    cells = [(c["number"], c["source"]) for c in code_cells(notebook.read_bytes(), notebook.name, a.settings.skip_tags,
                                                            a.settings.max_notebook_bytes, a.settings.max_code_cells)]
    fixed = canonical.contract(cells)
    docs = [canonical.canonical(cells, fixed)]
    for script in sorted(folder.rglob("*.py")):
        docs.append(canonical.canonical([(0, script.read_text(errors="replace"))], fixed))
    boilerplate = set()
    for doc in docs:
        boilerplate |= _fingerprints(doc, settings.noise_tokens, 1).keys()
    return Release(fixed, frozenset(boilerplate), frozenset(line.text for doc in docs for line in doc.lines))


def compare(codes: list[Code], release: Release, settings: SimilaritySettings, assignment_id: str = "") -> Findings:
    """Rank every pair of `codes` (this term's with each other and with the archive's)."""
    k = settings.noise_tokens
    window = settings.guarantee_tokens - k + 1
    for c in codes:
        c.fingerprints = {h: pos for h, pos in _fingerprints(c.canon, k, window).items()
                          if h not in release.fingerprints}
    holders = holders_of(codes)
    common = max(COMMON_FLOOR, settings.common_share * len(codes))
    idiom = {h for h, held in holders.items() if len(held) > common}
    for c in codes:
        c.fingerprints = {h: pos for h, pos in c.fingerprints.items() if h not in idiom}
        c.keys = frozenset(c.fingerprints)
        c.coverage = int(get_token_coverage(c.fingerprints, k, len(c.canon.tokens))) if c.fingerprints else 0
    for h in idiom:
        del holders[h]
    overlap = overlaps(codes, holders, k)
    coverage = np.array([max(1, c.coverage) for c in codes], dtype=np.float64)
    share = overlap / coverage[:, None]                       # share[i, j]: of i's code, found in j
    matched = np.minimum(overlap, overlap.T)
    estimate = np.maximum(share, share.T) * np.minimum(1.0, matched / max(1, settings.min_match_tokens))
    archived = np.array([c.archived for c in codes], dtype=bool)
    estimate[np.ix_(archived, archived)] = 0.0                # earlier terms were compared in their own term
    pairs = [Pair(codes[i], codes[j], min(1.0, share[i, j]), min(1.0, share[j, i]), int(matched[i, j]),
                  round(float(estimate[i, j]), 6))
             for i, j in zip(*np.nonzero(np.triu(estimate >= settings.min_similarity, 1))) if matched[i, j] > 0]
    pairs.sort(key=lambda p: (-p.similarity, -p.tokens, p.a.student, p.b.student))
    nothing = sorted(c.student for c in codes if not c.coverage)
    return Findings(assignment_id, settings, release, pairs, codes, nothing, [])


def to_csv(findings: Findings) -> str:
    """similarity.csv: the listed pairs (at or above min_similarity), in rank order."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for rank, p in enumerate(findings.pairs, 1):
        w.writerow([rank, p.a.student, p.b.student, f"{p.similarity:.3f}", f"{p.a_in_b:.3f}", f"{p.b_in_a:.3f}",
                    p.tokens, "yes" if p.similarity >= findings.settings.threshold else "no"])
    return buf.getvalue()


def _relink_dashboard(cfg: CourseConfig, assignment_id: str) -> None:
    """Rewrite summary.html from the reports on disk, now with the similar pairs (grades unchanged)."""
    out = cfg.root / "grades" / assignment_id
    if not (out / dashboard.SUMMARY).is_file():
        return
    results = sorted(report.previous_reports(out).values(), key=lambda r: r.student_id)
    if results:
        isolation = Counter(r.isolation for r in results).most_common(1)[0][0]
        # every report lists every hidden test with its points (verdict.every_test): any one is the template
        dashboard.write_summary(out, assignment_id, results, results[0], isolation, similar=top_pairs(cfg, out),
                                not_graded=report.not_graded_rows(out),
                                manual=_manual_progress(cfg, assignment_id, results))


def _manual_progress(cfg: CourseConfig, assignment_id: str, results) -> tuple[int, int]:
    """What the dashboard says of grading by hand, read again from the gradebook."""
    from autograder.assignment import load_assignment
    from autograder.coordinator import manual

    try:
        a = load_assignment(cfg, assignment_id)
        return manual.progress(manual.read(cfg, a, [r.student_id for r in results]))
    except CourseError:
        return 0, 0


def top_pairs(cfg: CourseConfig, out: Path) -> dict | None:
    """For the class dashboard: the first rows of grades/<id>/similarity.csv (those shown side by
    side in the report) and the number flagged, or None when the check has not been run."""
    n = min(dashboard.SIMILAR_ROWS, cfg.similarity.top)
    path = Path(out) / CSV
    if not path.is_file() or not (Path(out) / HTML).is_file():
        return None
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if set(CSV_HEADER) <= set(r)]
    return {"report": HTML, "rows": rows[:n], "listed": len(rows),
            "flagged": sum(1 for r in rows if r["flagged"] == "yes")}


# -- one submission ----------------------------------------------------------------------------

def _sources(cfg: CourseConfig, settings: SimilaritySettings) -> list[tuple[Path, bool]]:
    roots = [(cfg.submitted_dir, False)]
    if settings.archive:
        archive = (cfg.root / settings.archive).resolve()
        if not archive.is_dir():
            raise CourseError(f"course_config.py: SIMILARITY['archive'] = {settings.archive!r}: {archive} is not "
                              "a folder (earlier terms' submissions, as <archive>/<student>/<assignment>/)")
        roots.append((archive, True))
    return roots


def _label(student: str, archived: bool) -> str:
    return ARCHIVE_PREFIX + student if archived else student


def _code(f: Listed, a: Assignment, fixed: canonical.Contract, archived: bool) -> Code:
    cells = code_cells(f.data, f.notebook, a.settings.skip_tags, a.settings.max_notebook_bytes,
                       a.settings.max_code_cells)
    canon = canonical.canonical([(c["number"], c["source"]) for c in cells], fixed)
    return Code(_label(f.student, archived), archived, cells, canon, {})


_token_ids: dict[str, int] = {}


def _token_id(token: str) -> int:
    """A token's stable 64-bit number (the same in every process, unlike hash() of a str)."""
    found = _token_ids.get(token)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little", signed=True)
        _token_ids[token] = found
    return found


def _fingerprints(canon: canonical.Canonical, k: int, window: int) -> dict:
    """copydetect's winnowed fingerprints of the canonical tokens: {hash: [token positions]}."""
    doc = tuple(_token_id(t) for t in canon.tokens)
    if len(doc) < k:
        return {}
    _, positions = get_document_fingerprints(doc, k, window)
    return {int(h): [int(p) for p in pos] for h, pos in positions.items()}


# -- pairs -------------------------------------------------------------------------------------

def holders_of(codes: list[Code]) -> dict:
    """fingerprint -> the indices in `codes` of the submissions that have it."""
    holders: dict = {}
    for i, c in enumerate(codes):
        for h in c.fingerprints:
            holders.setdefault(h, []).append(i)
    return holders


def overlaps(codes: list[Code], holders: dict, k: int) -> np.ndarray:
    """overlap[i, j]: how many of i's tokens lie under the fingerprints it shares with j, which is
    copydetect's token overlap (the length of its copied slices), for every pair at once. A token
    t of i is under the fingerprints at positions t-k+1 .. t: a run of i's sorted positions, so it
    counts for j when j holds one of that run (a difference of prefix sums), and tokens are
    counted by run."""
    n = len(codes)
    overlap = np.zeros((n, n), dtype=np.float64)
    for i, c in enumerate(codes):
        shared = [h for h in c.fingerprints if len(holders.get(h, ())) > 1]
        if not shared:
            continue
        at = sorted((p, f) for f, h in enumerate(shared) for p in c.fingerprints[h])
        positions = np.array([p for p, _ in at], dtype=np.int64)
        held = np.zeros((n, len(shared)), dtype=np.int32)
        for f, h in enumerate(shared):
            held[holders[h], f] = 1
        tokens = np.unique((positions[:, None] + np.arange(k)).ravel())
        first = np.searchsorted(positions, tokens - k + 1, side="left")
        last = np.searchsorted(positions, tokens, side="right")
        runs, count = np.unique(first * (len(positions) + 1) + last, return_counts=True)
        first, last = np.divmod(runs, len(positions) + 1)
        running = np.zeros((n, len(positions) + 1), dtype=np.int32)
        np.cumsum(held[:, [f for _, f in at]], axis=1, out=running[:, 1:])
        overlap[i] = ((running[:, last] - running[:, first]) > 0) @ count
        overlap[i, i] = 0.0
    return overlap
