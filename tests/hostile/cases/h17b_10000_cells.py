"""The reference solution followed by 10,000 small code cells (over max_code_cells).

A LOAD_ERROR that says how many cells and what the limit is, on every test, quickly, and a
small report.
"""
import json
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "cells",
    "max_report_bytes": 1_000_000,
    "max_seconds": 30,
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nb = json.loads(ctx["reference"].read_text())
    for i in range(10_000):
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": f"hostile-{i}",
                            "metadata": {}, "outputs": [], "source": f"x_{i} = {i}"})
    (folder / "transformer.ipynb").write_text(json.dumps(nb))
