"""The layout: folders by process, import contracts that hold, and modules small enough to read."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = sorted(p.parent for p in (REPO / "autograder").rglob("__init__.py") if "__pycache__" not in p.parts)


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(root / ".importlinter"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    """Do the sandbox, the judge, the coordinator and the shared records keep their import contracts, with no cycles?"""
    run = lint(REPO)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


@pytest.fixture
def copy(tmp_path):
    """A copy of the package and the contracts, to plant forbidden imports in."""
    for name in ("autograder", "bench"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize("module,line,contract", [
    ("autograder/sandbox/inside/worker.py", "from autograder.coordinator import report", "The sandbox imports neither"),
    ("autograder/sandbox/inside/loader.py", "import autograder.sandbox.host.launcher", "Inside the sandbox"),
    ("autograder/judge/expect.py", "from autograder.coordinator import report", "The judge never imports"),
    ("autograder/wire.py", "import autograder.judge.verdict", "The shared records"),
    ("autograder/coordinator/report.py", "import bench.run", "Nothing in the product imports the benchmark"),
    ("autograder/coordinator/late.py", "import autograder.coordinator.report", "No import cycles"),
    ("autograder/judge/expect.py", "import autograder.service.app", "The sandbox and the judge never import the service"),
    ("autograder/coordinator/live.py", "import autograder.service.db", "The sandbox and the judge never import the service"),
    ("autograder/service/store.py", "import autograder.sandbox.capabilities", "The service never imports the sandbox"),
])
def test_a_forbidden_import_breaks_a_contract(copy, module, line, contract):
    """Does adding one import that crosses a line (or closes a cycle) make lint-imports fail, naming the contract?"""
    path = copy / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the test\n")
    run = lint(copy)
    assert run.returncode != 0
    broken = run.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, run.stdout[-3000:]


def test_every_package_says_which_process_it_runs_in():
    """Does each package's docstring name the process it runs in (or say it is shared)?"""
    for package in PACKAGES:
        doc = (package / "__init__.py").read_text()
        assert doc.lstrip().startswith('"""'), package
        first = doc.split('"""')[1].lower()
        assert any(word in first for word in ("runs", "run in", "process", "shared")), (package, first[:200])


def test_no_product_module_is_too_long_to_read():
    """Is every module of the product under about 400 lines?"""
    long = {str(p.relative_to(REPO)): n for p in (REPO / "autograder").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 420}
    assert not long, long
