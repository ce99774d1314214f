"""(Extra.) transformer.ipynb is a named pipe (FIFO). Opening it for reading blocks until a
writer shows up, so a grader that reads it would wait forever.

The grader must refuse it without opening it: a LOAD_ERROR on every test ("not a regular
file"). The runner watches the pipe during grading: if anyone opens it for reading, that is
recorded (a failure) and the reader is released, so the run cannot hang.
"""
import os
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "regular file",
    "fifo": True,
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "transformer.ipynb")
