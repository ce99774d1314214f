"""The student's side of a release: the visible tests and exercise.py behave as the guide says."""
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

GUIDE_SHAPES = [
    "Attention output shape: torch.Size([2, 10, 64])",
    "Attention weights shape: torch.Size([2, 10, 10])",
    "Multi-head output shape: torch.Size([2, 10, 512])",
    "Positional encoding output shape: torch.Size([10, 2, 512])",
    "Encoder layer output shape: torch.Size([2, 10, 512])",
    "Model output shape: torch.Size([2, 2])",
]


ASSIGNMENTS = sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir())


def student_folder(tmp_path, notebook_from=None, assignment="day41_transformer"):
    """A copy of the student release, optionally with another notebook in place of the stubbed one."""
    folder = tmp_path / assignment
    shutil.copytree(REPO / "release" / assignment, folder)
    if notebook_from is not None:
        shutil.copy(notebook_from, folder / notebook_from.name)
    return folder


def visible_tests(folder):
    (path,) = folder.glob("test_*.py")
    return path.name


def run(folder, *args, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_tests_fail_cleanly_on_the_bare_release(tmp_path, assignment):
    """In the bare release, does every visible test fail (not error) with a NotImplementedError message?"""
    folder = student_folder(tmp_path, assignment=assignment)
    out = run(folder, "-m", "pytest", visible_tests(folder), "-q", "-p", "no:cacheprovider")
    assert out.returncode == 1, out.stdout[-2000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ failed", summary) and "passed" not in summary and "error" not in summary, summary
    assert "NotImplementedError" in out.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_tests_pass_once_the_solution_is_pasted_in(tmp_path, assignment):
    """With the solution code pasted into the release notebook, do all visible tests pass, as pytest and as a script?"""
    (alice,) = (REPO / "submitted" / "alice" / assignment).glob("*.ipynb")
    folder = student_folder(tmp_path, alice, assignment)
    out = run(folder, "-m", "pytest", visible_tests(folder), "-q", "-p", "no:cacheprovider")
    assert out.returncode == 0, out.stdout[-2000:]
    script = run(folder, visible_tests(folder))
    assert script.returncode == 0, script.stdout[-2000:]
    assert re.search(r"[Ff]orward pass time: [\d.]+s \(limit 0\.5s\)", script.stdout)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_tests_pass_on_the_solutions_version(tmp_path, assignment):
    """Does the generated solutions/ folder pass its own visible tests?"""
    folder = tmp_path / "solution"
    shutil.copytree(REPO / "solutions" / assignment, folder)
    out = run(folder, "-m", "pytest", visible_tests(folder), "-q", "-p", "no:cacheprovider")
    assert out.returncode == 0, out.stdout[-2000:]


def test_exercise_prints_the_guide_shapes_on_the_solution(tmp_path):
    """Does `python exercise.py --no-train` print the guide's Successful Implementation Output?"""
    folder = tmp_path / "solution"
    shutil.copytree(REPO / "solutions" / "day41_transformer", folder)
    out = run(folder, "exercise.py", "--no-train")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    positions = [lines.index(expected) for expected in GUIDE_SHAPES]
    assert positions == sorted(positions)


def test_exercise_names_unimplemented_components_without_traceback(tmp_path):
    """On the bare release, does exercise.py say which component is missing instead of printing a traceback?"""
    out = run(student_folder(tmp_path), "exercise.py", "--no-train")
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    for part in ("Scaled Dot-Product Attention", "Multi-Head Attention", "Positional Encoding",
                 "Transformer Encoder Layer", "Complete Transformer Model"):
        assert f"{part}: not implemented yet" in out.stdout


@pytest.mark.slow
def test_training_example_reaches_ninety_percent(tmp_path):
    """Does the training example really train SimpleTransformer to at least 90% held-out accuracy?"""
    folder = tmp_path / "solution"
    shutil.copytree(REPO / "solutions" / "day41_transformer", folder)
    out = run(folder, "exercise.py")
    assert out.returncode == 0, out.stdout + out.stderr
    accuracy = float(re.search(r"Held-out accuracy: ([\d.]+)%", out.stdout).group(1))
    assert accuracy >= 90.0, out.stdout
    print(re.search(r"Training time: .*", out.stdout).group(0))  # reported, not asserted: timing is a benchmark
