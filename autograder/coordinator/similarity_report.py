"""grades/<assignment>/similarity.html: the ranked pairs, and the matches of each shown side by side.

One self-contained page (no script, no font, no image, nothing fetched); every name and line of
student code goes through Jinja's autoescape. Each matching region gets a number and a colour on
both sides, so that the instructor can see which of A's lines match which of B's. Only the
coordinator calls this; it reads the findings, never a submission's file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from copydetect.utils import find_fingerprint_overlap, get_copied_slices

from autograder.coordinator import report

PALETTE = 8  # region colours, .r0 .. .r7 in the template


def render(findings, out: Path | None = None) -> str:
    """The page for `findings` (similarity.Findings); `out` is grades/<assignment>, where the
    feedback pages of this term's students are linked when they exist."""
    s = findings.settings
    rows = [_row(rank, p, s.threshold) for rank, p in enumerate(findings.pairs[: s.top], 1)]
    shown = [dict(row, sides=_sides(p, s.noise_tokens, findings.release.lines, out))
             for row, p in zip(rows, findings.pairs[: s.top])]
    listed = len(findings.pairs)
    archived = sum(1 for c in findings.compared if c.archived)
    return report.template("similarity.html.j2").render(
        assignment_id=findings.assignment_id, settings=s, rows=rows, shown=shown, listed=listed,
        flagged=len(findings.flagged()), compared=len(findings.compared) - archived, archived=archived,
        nothing_own=findings.nothing_own, skipped=findings.skipped, palette=PALETTE)


def _row(rank: int, p, threshold: float) -> dict:
    return {"rank": rank, "a": p.a.student, "b": p.b.student, "similarity": p.similarity, "a_in_b": p.a_in_b,
            "b_in_a": p.b_in_a, "tokens": p.tokens, "flagged": p.similarity >= threshold}


def regions(pair, k: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """Matching regions as token ranges (start, end, region number) on each side: A's copied
    slices (copydetect's), numbered in A's order, and for each, B's slices of the same fingerprints."""
    a, b = pair.a, pair.b
    idx_a, _ = find_fingerprint_overlap(a.keys, b.keys, a.fingerprints, b.fingerprints)
    starts, ends = get_copied_slices(idx_a, k)
    at = sorted((p, h) for h in a.keys & b.keys for p in a.fingerprints[h])
    left, right = [], []
    for number, (start, end) in enumerate(zip(starts.tolist(), ends.tolist()), 1):
        left.append((start, end, number))
        hashes = {h for p, h in at if start <= p < end}
        b_starts, b_ends = get_copied_slices(np.array([p for h in hashes for p in b.fingerprints[h]]), k)
        right += [(s, e, number) for s, e in zip(b_starts.tolist(), b_ends.tolist())]
    return left, right


def _sides(pair, k: int, release_lines: frozenset, out: Path | None) -> list[dict]:
    left, right = regions(pair, k)
    return [_side(pair.a, left, release_lines, out), _side(pair.b, right, release_lines, out)]


def _side(code, spans: list[tuple[int, int, int]], release_lines: frozenset, out: Path | None) -> dict:
    """One student's cells that hold a match, every line with its region number (0: none). A line
    the release has too (a class header, an import) is never marked: a match only runs across it."""
    marks: dict[tuple[int, int], int] = {}  # (cell, line) -> region
    canon = code.canon
    for start, end, number in spans:
        for i in sorted({canon.token_line[t] for t in range(start, min(end, len(canon.tokens)))}):
            line = canon.lines[i]
            if line.text in release_lines:
                continue
            for n in range(line.first, line.last + 1):
                marks.setdefault((line.cell, n), number)
    cells = []
    for cell in code.cells:
        lines = cell["source"].splitlines()
        if not any((cell["number"], n) in marks for n in range(1, len(lines) + 1)):
            continue
        shown, previous = [], 0
        for n, text in enumerate(lines, 1):
            region = marks.get((cell["number"], n), 0)
            shown.append({"n": n, "text": text, "region": region, "colour": (region - 1) % PALETTE,
                          "tag": region if region and region != previous else 0})
            previous = region
        cells.append({"number": cell["number"], "label": cell["label"], "lines": shown})
    feedback = (not code.archived and out is not None
                and (Path(out) / "feedback" / f"{code.student}.html").is_file())
    return {"student": code.student, "archived": code.archived, "cells": cells,
            "hidden": len(code.cells) - len(cells),
            "feedback": f"feedback/{code.student}.html" if feedback else ""}
