"""(Extra.) A 1 TiB sparse file named transformer.ipynb: a notebook's first bytes, then holes.
It costs no disk, but whoever reads it whole to hash it asks for 1 TiB of memory.

It must be refused by its size, unread (a LOAD_ERROR naming the size), and the class must
finish. Graded in a class of its own, since it attacks the coordinator. Never run where
memory overcommit is unlimited (vm.overcommit_memory = 1): there the read would really try.
"""
from pathlib import Path

EXPECT = {
    "attacked": ["*"],
    "statuses": ["LOAD_ERROR"],
    "keep": [],
    "load_error": "MiB",
    "isolated": True,
    "requires": ["no_overcommit"],
    "max_report_bytes": 1_000_000,
}


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "transformer.ipynb", "wb") as f:
        f.write(b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "padding": "')
        f.truncate(1 << 40)
