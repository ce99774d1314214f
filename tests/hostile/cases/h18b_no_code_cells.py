"""A valid notebook with only the reference's markdown cells: nothing to run.

A LOAD_ERROR on every test, saying there are no code cells to grade.
"""
import json
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "no code cells",
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nb = json.loads(ctx["reference"].read_text())
    nb["cells"] = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    (folder / "transformer.ipynb").write_text(json.dumps(nb))
