"""A 200 MB notebook: the reference solution with one cell carrying a 200 MB stored output.

Over the size limit (max_notebook_bytes): a LOAD_ERROR that says how big it is and what to do,
on every test, quickly, and a small report.
"""
import json
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "MiB",
    "max_report_bytes": 1_000_000,
    "max_seconds": 30,
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nb = json.loads(ctx["reference"].read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "z" * (200 << 20)}]
    with open(folder / "transformer.ipynb", "w") as f:
        json.dump(nb, f)
