"""(Extra.) transformer.ipynb is a symlink to the course's own reference solution (an absolute
path into the course copy). Following it would hand out full marks.

The grader must refuse it unread: a LOAD_ERROR on every test ("not a regular file").
"""
import os
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "regular file",
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(ctx["course"] / "assignments" / "day41_transformer" / "transformer.ipynb", folder / "transformer.ipynb")
