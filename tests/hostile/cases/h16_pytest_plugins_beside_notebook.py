"""Bob's notebook (attention without the 1/sqrt(d_k) scale: shapes right, values wrong), with
files beside it that would take over a pytest or Python started in that folder: a conftest.py
that marks every test passed (in the assignment folder and the student folder above it), a
pytest.ini that disables plugins and collects nothing, sitecustomize.py / usercustomize.py and a
.pth file that patch torch's comparisons, and a fake torch.py.

None of it may matter: the grader reads only the notebook's code cells. The student gets
exactly bob's result, test by test.
"""
import shutil
from pathlib import Path

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": [],
    "same_as": "bob",
}

CONFTEST = '''
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        item.add_marker(pytest.mark.skip(reason="hacked"))
'''

PATCH_TORCH = '''
try:
    import torch
    torch.allclose = lambda *a, **k: True
    torch.equal = lambda *a, **k: True
except Exception:
    pass
'''


def build(folder: Path, ctx: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ctx["bundled"] / "bob" / "day41_transformer" / "transformer.ipynb", folder / "transformer.ipynb")
    for where in (folder, folder.parent):
        (where / "conftest.py").write_text(CONFTEST)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:python -p no:terminal\npython_files = nothing_*.py\n")
    (folder / "setup.cfg").write_text("[tool:pytest]\npython_files = nothing_*.py\n")
    (folder / "sitecustomize.py").write_text(PATCH_TORCH)
    (folder / "usercustomize.py").write_text(PATCH_TORCH)
    (folder / "hostile.pth").write_text("import sitecustomize\n")
    (folder / "torch.py").write_text("allclose = lambda *a, **k: True\nequal = allclose\n")
    (folder / "__init__.py").write_text(PATCH_TORCH)
