"""A notebook cut off after 3000 characters: not valid JSON.

A LOAD_ERROR on every test, saying the notebook is not valid JSON and where it breaks.
"""
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "not valid notebook JSON",
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "transformer.ipynb").write_text(ctx["reference"].read_text()[:3000])
