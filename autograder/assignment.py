"""What the grader needs to know about one assignment, all read from its own folder.

assignments/<id>/
    <notebook>.ipynb        the reference solution (nbgrader source, solution regions inline)
    hidden/test_*.py        hidden tests: ordinary pytest tests, one file per test family
    hidden/probes.py        probes: the code that runs the student's code inside the worker
    hidden/grading.toml     optional: overrides of course_config.GRADING, `notebook = "..."`, a
                            [policy] table overriding course_config.POLICY (attempts, visibility),
                            and [[rules]]: structural rules checked from the notebook's source
"""
from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder.config import CourseConfig, CourseError, GradingSettings, PolicySettings, check_policy, override


@dataclass(frozen=True)
class Rule:
    """A structural rule, checked by the judge from the notebook's source (judge/source.py)."""
    name: str
    why: str = ""                               # shown to the student with the violation
    forbid: tuple[str, ...] = ()                # dotted names the code may not use ("torch.nn.MultiheadAttention")
    within: tuple[str, ...] = ()                # only inside these classes or functions (default: anywhere)
    require: tuple[tuple[str, str], ...] = ()   # ("Class.attr", "dotted.Callable"): self.attr = Callable(...)
    tests: tuple[str, ...] = ()                 # substrings of the test names a violation costs (default: all)

    def covers(self, nodeid: str) -> bool:
        return not self.tests or any(t in nodeid for t in self.tests)


@dataclass(frozen=True)
class Assignment:
    id: str
    source: Path
    notebook: str                 # the file name students submit
    hidden: Path
    probes: tuple[Path, ...]
    settings: GradingSettings
    rules: tuple[Rule, ...] = ()
    policy: PolicySettings = PolicySettings()  # not in the fingerprint: it changes no verdict

    @property
    def reference_notebook(self) -> Path:
        return self.source / self.notebook


def load_assignment(cfg: CourseConfig, assignment_id: str) -> Assignment:
    source = cfg.source_dir / assignment_id
    if not assignment_id or "/" in assignment_id or not source.is_dir():
        known = ", ".join(cfg.assignments()) or "none"
        raise CourseError(f"{source}: no assignment named {assignment_id!r} (known: {known})")
    hidden = source / "hidden"
    if not any(hidden.glob("test_*.py")):
        raise CourseError(f"{hidden}: no hidden tests (test_*.py) to grade {assignment_id} with")
    settings, notebook, rules, policy = cfg.grading, None, (), cfg.policy
    toml_path = hidden / "grading.toml"
    if toml_path.is_file():
        try:
            raw = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{toml_path}: not valid TOML: {exc}") from None
        notebook = raw.pop("notebook", None)
        rules = tuple(_rule(r, f"{toml_path}: rules[{i}]") for i, r in enumerate(raw.pop("rules", [])))
        policy = check_policy(override(policy, raw.pop("policy", {}), toml_path, "policy"), toml_path)
        settings = override(settings, raw, toml_path)
    notebooks = sorted(p.name for p in source.glob("*.ipynb"))
    if notebook is None:
        if len(notebooks) != 1:
            raise CourseError(f"{source}: holds {len(notebooks)} notebooks; name the graded one "
                              f"with notebook = \"...\" in {toml_path}")
        notebook = notebooks[0]
    elif notebook not in notebooks:
        raise CourseError(f"{toml_path}: notebook {notebook!r} is not in {source}")
    probes = tuple(sorted(hidden.glob("probes*.py")))
    return Assignment(assignment_id, source, notebook, hidden, probes, settings, rules, policy)


def _rule(raw, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise CourseError(f"{where}: a rule is a table ([[rules]]) with name, why, forbid, within, require, tests")
    known = {"name", "why", "forbid", "within", "require", "tests"}
    if set(raw) - known:
        key = sorted(set(raw) - known)[0]
        hint = (" (a grading setting: put it above the first [[rules]] table, or it belongs to the rule)"
                if key in {f.name for f in dataclasses.fields(GradingSettings)} else "")
        raise CourseError(f"{where}: unknown key {key!r}{hint}; known: {', '.join(sorted(known))}")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise CourseError(f"{where}: needs name = \"...\"")
    lists = {}
    for key in ("forbid", "within", "tests"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise CourseError(f"{where} ({raw['name']}): {key} must be a list of strings")
        lists[key] = tuple(value)
    require = raw.get("require", {})
    if not isinstance(require, dict) or not all(isinstance(v, str) and "." in k for k, v in require.items()):
        raise CourseError(f"{where} ({raw['name']}): require maps \"Class.attribute\" to a dotted callable, "
                          "e.g. {\"MultiHeadAttention.w_q\" = \"torch.nn.Linear\"}")
    if not lists["forbid"] and not require:
        raise CourseError(f"{where} ({raw['name']}): a rule needs forbid or require")
    return Rule(raw["name"], str(raw.get("why", "")), lists["forbid"], lists["within"], tuple(sorted(require.items())),
                lists["tests"])


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            h.update(str(f.relative_to(path.parent)).encode())
            h.update(f.read_bytes() if f.exists() else b"")
    return h.hexdigest()


def grader_fingerprint(a: Assignment) -> str:
    """Changes whenever the hidden tests, probes, reference, settings or the grader change: a
    report made under another fingerprint is stale, and a lane under another may not grade."""
    h = hashlib.sha256(_digest(a.hidden, a.reference_notebook, Path(__file__).parent).encode())
    h.update(repr(a.settings).encode())
    return h.hexdigest()
