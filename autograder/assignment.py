"""What the grader needs to know about one assignment, all read from its own folder.

assignments/<id>/
    <notebook>.ipynb        the reference solution (nbgrader source, solution regions inline)
    hidden/test_*.py        hidden tests: ordinary pytest tests, one file per test family
    hidden/probes.py        probes: the code that runs the student's code inside the worker
    hidden/grading.toml     optional: overrides of course_config.GRADING, `notebook = "..."`, a
                            [policy] table overriding course_config.POLICY (attempts, visibility),
                            [[rules]]: structural rules checked from the notebook's source, and
                            [check]: what `make check` expects (coordinator/check.py)
    hidden/examples/*.py    optional: example submissions `make check` grades (EXPECT says how)
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
class Harmless:
    """A surviving mutant the instructor judged harmless ([[check.harmless]] in grading.toml)."""
    cell: str       # the solution cell's grade id
    code: str       # the line the mutant changes, as written in the reference (trimmed)
    mutation: str   # what the mutant does, as `make check` names it ("deleted line", "`+` -> `-`")
    why: str

    def matches(self, cell: str, code: str, mutation: str) -> bool:
        return (self.cell, self.code, self.mutation) == (cell, code.strip(), mutation)


@dataclass(frozen=True)
class CheckSettings:
    """[check] in grading.toml: what `make check` expects of the hidden tests."""
    min_mutation_score: float = 0.0       # percent of mutants killed (harmless ones not counted); below: fail
    max_mutants: int = 0                  # 0 = every mutant; else an even sample of this many
    harmless: tuple[Harmless, ...] = ()


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
    check: CheckSettings = CheckSettings()

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
    settings, notebook, rules, policy, check = cfg.grading, None, (), cfg.policy, CheckSettings()
    toml_path = hidden / "grading.toml"
    if toml_path.is_file():
        try:
            raw = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{toml_path}: not valid TOML: {exc}") from None
        notebook = raw.pop("notebook", None)
        rules = tuple(_rule(r, f"{toml_path}: rules[{i}]") for i, r in enumerate(raw.pop("rules", [])))
        policy = check_policy(override(policy, raw.pop("policy", {}), toml_path, "policy"), toml_path)
        check = _check(raw.pop("check", {}), f"{toml_path}: [check]")
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
    return Assignment(assignment_id, source, notebook, hidden, probes, settings, rules, policy, check)


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


def _check(raw, where: str) -> CheckSettings:
    known = {"min_mutation_score", "max_mutants", "harmless"}
    if not isinstance(raw, dict) or set(raw) - known:
        key = sorted(set(raw) - known)[0] if isinstance(raw, dict) else "check"
        raise CourseError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(known))}")
    score, most = raw.get("min_mutation_score", 0.0), raw.get("max_mutants", 0)
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 100:
        raise CourseError(f"{where}: min_mutation_score must be a percentage from 0 to 100")
    if not isinstance(most, int) or isinstance(most, bool) or most < 0:
        raise CourseError(f"{where}: max_mutants must be a whole number (0 = every mutant)")
    harmless = []
    for i, entry in enumerate(raw.get("harmless", [])):
        fields = ("cell", "code", "mutation", "why")
        if not isinstance(entry, dict) or set(entry) != set(fields) or not all(
                isinstance(entry[f], str) and entry[f].strip() for f in fields):
            raise CourseError(f"{where}: harmless[{i}] needs exactly cell, code, mutation and why, each a "
                              "non-empty string (make check prints them for every surviving mutant)")
        harmless.append(Harmless(entry["cell"], entry["code"].strip(), entry["mutation"], entry["why"]))
    return CheckSettings(float(score), most, tuple(harmless))


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
