"""Runner for the hostile-submission corpus in tests/hostile/cases/.

A case is one Python file, tests/hostile/cases/<student_id>.py (the file's stem is the student
id it is graded as). It holds a docstring saying what it attacks and what is right, an `EXPECT`
literal, and exactly one of:

- `SOURCE = '''...'''`: Python appended as a last code cell to the reference solution notebook
  (assignments/day41_transformer/transformer.ipynb), so the student is otherwise correct and
  only what the attack touches should lose points. Placeholders filled in by the runner:
  @@CASE@@ (the student id), @@TOKEN@@ (this run's token: put it, with the case name, in every
  file or process the case leaves outside its scratch, so the runner can tell them from other
  activity on the machine), @@TCP_PORT@@ / @@UDP_PORT@@ (a loopback listener), @@MARKER_DIR@@
  (a folder that must stay empty), @@PROTECT_PID@@ (the test process: never to be signalled),
  @@SLOW_MHA@@ (a MultiHeadAttention doing 32 times the reference's work: SNIPPETS).
- `def build(folder: Path, ctx: dict) -> None`: writes the submission folder
  (submitted/<student>/day41_transformer/) itself, for broken or huge notebooks and raw files.
  ctx: "case" (student id), "reference" (the reference notebook), "bundled" (the repository's
  submitted/ folder), "course" (the course copy being graded), "placeholders".

EXPECT keys (tokens are substrings of hidden test node ids, "test_values.py::test_x"; "*" = all):
    attacked  tokens: tests that must score 0 with a status in `statuses`. Once one of them has
              such a status, a CRASHED "not run: the worker ... died N times" (the crash budget)
              is accepted for the rest.
    statuses  allowed statuses of attacked tests
    keep      tokens: tests that must keep full points (PASSED)
  optional:
    load_issues  exact list of load issue statuses ("timeout", "error")
    load_error   substring the report's load_error must contain
    outputs      {token: [substrings]}: each matching test's output contains one of them
    same_as      student id: every test has that student's status and score (same run)
    requires     ["memory_limited" | "fs_contained" | "no_overcommit"]: graded only when the
                 preflight says the sandbox can contain it (HOSTILE_UNSAFE=1 overrides); else
                 the case fails as "not run"
    isolated     True: graded in a class of its own (it attacks the grading run itself)
    fifo         True: the runner watches the notebook (a FIFO) and records anyone opening it
    max_report_bytes (default 1 MB), max_seconds (default 90): bounds on this student's report
    and grading time.

Every case, whatever its EXPECT, is also checked for: no GRADER_ERROR, no hidden test text,
canary or course path in any output, load issue, load error or feedback page, and nothing left
behind that carries its name (processes, files, listener data, marker files).
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import socket
import stat
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.conftest import without_measurements

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
REPO = HERE.parent.parent
ASSIGNMENT = "day41_transformer"
NOTEBOOK = "transformer.ipynb"
TIMESTAMP = "timestamp.txt"
REFERENCE = REPO / "assignments" / ASSIGNMENT / NOTEBOOK

# student id -> the bundled submission it copies; the zz_ copies are graded after the hostile ones.
NORMAL_STUDENTS = {"alice": "alice", "bob": "bob", "zz_alice": "alice", "zz_bob": "bob"}
# Short limits, so the hostile class grades in a minute or two (written into the course copy's
# hidden/grading.toml; everything else stays as the course configures it). A probe gets 10 s:
# enough for a worker to fill a 2 GiB memory cap on a busy machine before the clock runs out.
TIMEOUTS = {"cell_timeout_s": 2.0, "load_timeout_s": 10.0, "probe_timeout_s": 10.0}

EXPECT_KEYS = {"attacked", "statuses", "keep", "load_issues", "load_error", "outputs", "same_as", "requires",
               "isolated", "fifo", "max_report_bytes", "max_seconds"}
REQUIREMENTS = {"memory_limited", "fs_contained", "no_overcommit"}
STATUSES = {"PASSED", "FAILED", "ERROR", "TIMEOUT", "CRASHED", "MEMORY", "OUTPUT_LIMIT", "FORBIDDEN",
            "LOAD_ERROR", "GRADER_ERROR"}
PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
BUDGET_CRASH = "not run: the worker running your code died"


# -- cases ---------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    path: Path
    expect: dict
    source: str | None
    build: object | None
    doc: str

    @property
    def requires(self) -> list[str]:
        return list(self.expect.get("requires", []))


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"hostile_case_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases.append(Case(path.stem, path, literal_expect(path), getattr(module, "SOURCE", None),
                          getattr(module, "build", None), (module.__doc__ or "").strip()))
    return cases


def literal_expect(path: Path) -> dict:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXPECT":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path}: no EXPECT literal")


def hidden_test_names(hidden: Path) -> list[str]:
    names = []
    for f in sorted(hidden.glob("test_*.py")):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.append(f"{f.name}::{node.name}")
    return names


def matches(name: str, tokens) -> bool:
    return any(t == "*" or t in name for t in tokens)


def validate(case: Case, test_names: list[str]) -> list[str]:
    """What is wrong with a case file's conventions (empty when it is fine)."""
    e, problems = case.expect, []
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}", case.name):
        problems.append("the file name is not a valid student id")
    if (case.source is None) == (case.build is None):
        problems.append("define exactly one of SOURCE and build()")
    if not case.doc:
        problems.append("no docstring saying what it attacks and what is right")
    unknown = set(e) - EXPECT_KEYS
    if unknown:
        problems.append(f"unknown EXPECT keys {sorted(unknown)}")
    for key in ("attacked", "statuses", "keep"):
        if not isinstance(e.get(key), list):
            problems.append(f"EXPECT[{key!r}] must be a list")
    if problems:
        return problems
    if set(e["statuses"]) - STATUSES:
        problems.append(f"unknown statuses {sorted(set(e['statuses']) - STATUSES)}")
    if e["attacked"] and not e["statuses"]:
        problems.append("attacked tests need allowed statuses")
    if set(e.get("requires", [])) - REQUIREMENTS:
        problems.append(f"unknown requirements {sorted(set(e['requires']) - REQUIREMENTS)}")
    for key in ("attacked", "keep"):
        for token in e[key]:
            if not any(matches(n, [token]) for n in test_names):
                problems.append(f"{key} token {token!r} matches no hidden test")
    both = [n for n in test_names if matches(n, e["keep"]) and matches(n, e["attacked"])]
    if both:
        problems.append(f"tests both attacked and kept: {both}")
    for token in e.get("outputs", {}):
        if not any(token in n for n in test_names):
            problems.append(f"outputs token {token!r} matches no hidden test")
    if case.source is not None:
        unknown_ph = set(PLACEHOLDER.findall(case.source)) - {"CASE", "TOKEN", "TCP_PORT", "UDP_PORT",
                                                              "MARKER_DIR", "PROTECT_PID", *SNIPPETS}
        if unknown_ph:
            problems.append(f"unknown placeholders {sorted(unknown_ph)}")
    return problems


# Code several cases share, filled in like a placeholder: @@SLOW_MHA@@ makes MultiHeadAttention do
# 32 times the reference's work (its output unchanged), so that honest timing fails every speed test.
SNIPPETS = {"SLOW_MHA": """
_mha_once = MultiHeadAttention.forward


def _thirty_two_times(self, query, key, value, mask=None):
    for _ in range(31):
        _mha_once(self, query, key, value, mask)
    return _mha_once(self, query, key, value, mask)


MultiHeadAttention.forward = _thirty_two_times
"""}


def fill(source: str, placeholders: dict) -> str:
    values = {**SNIPPETS, **placeholders}
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), source)


# -- the course copy -----------------------------------------------------------------------------

def plant_canaries(course: Path, canary: str) -> None:
    """A unique string in every hidden file and at the top of every solution region, so that any
    of it reaching a report or feedback page is unmistakable."""
    hidden = course / "assignments" / ASSIGNMENT / "hidden"
    for f in sorted(hidden.glob("*.py")):
        f.write_text(f"# {canary} ({f.name})\n" + f.read_text())
    for nb_path in (course / "assignments" / ASSIGNMENT / NOTEBOOK, course / "solutions" / ASSIGNMENT / NOTEBOOK):
        if not nb_path.exists():
            continue
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in src:
                cell["source"] = src.replace("### BEGIN SOLUTION\n", f"### BEGIN SOLUTION\n    # {canary} (solution)\n", 1)
        nb_path.write_text(json.dumps(nb, indent=1))


def make_course(dest: Path, canary: str) -> Path:
    from tests.conftest import copy_course

    copy_course(dest, with_submissions=False)
    plant_canaries(dest, canary)
    toml = dest / "assignments" / ASSIGNMENT / "hidden" / "grading.toml"
    overrides = "".join(f"{k} = {v!r}\n" for k, v in TIMEOUTS.items())
    # Above the rest: keys written after a [[rules]] table would belong to that table.
    toml.write_text(f"# {canary}\n# hostile corpus: short limits\n" + overrides + toml.read_text())
    (dest / "submitted").mkdir(exist_ok=True)
    return dest


def add_normal_students(course: Path) -> None:
    for student, source in NORMAL_STUDENTS.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        for name in (NOTEBOOK, TIMESTAMP):
            if (REPO / "submitted" / source / ASSIGNMENT / name).is_file():
                shutil.copy(REPO / "submitted" / source / ASSIGNMENT / name, folder / name)


def add_timestamp(folder: Path) -> None:
    """nbgrader's submission time (alice's): without one a grader may date the submission by the
    file's mtime, which differs from run to run."""
    bundled = REPO / "submitted" / "alice" / ASSIGNMENT / TIMESTAMP
    if folder.is_dir() and bundled.is_file() and not (folder / TIMESTAMP).exists():
        shutil.copy(bundled, folder / TIMESTAMP)


def add_source_student(course: Path, student: str, source: str) -> Path:
    from tests.conftest import notebook_with_cell

    path = notebook_with_cell(REFERENCE, source, course / "submitted" / student / ASSIGNMENT / NOTEBOOK)
    add_timestamp(path.parent)
    return path


def add_case(course: Path, case: Case, placeholders: dict) -> None:
    ph = {**placeholders, "CASE": case.name}
    if case.source is not None:
        add_source_student(course, case.name, fill(case.source, ph))
    else:
        ctx = {"case": case.name, "reference": REFERENCE, "bundled": REPO / "submitted", "course": course,
               "placeholders": ph}
        case.build(course / "submitted" / case.name / ASSIGNMENT, ctx)
        add_timestamp(course / "submitted" / case.name / ASSIGNMENT)


# -- the preflight: what can a worker reach? -----------------------------------------------------

PREFLIGHT_STUDENT = "preflight"
PREFLIGHT_SOURCE = '''
import json, os, resource
facts = {}
for label, path in @@PROBES@@.items():
    try:
        with open(path, "x") as f:
            f.write("hostile preflight")
        facts[label] = 1
    except OSError as exc:
        facts[label] = 0
limits = []
for name in ("RLIMIT_AS", "RLIMIT_DATA"):
    soft = resource.getrlimit(getattr(resource, name))[0]
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
cgroup_files = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
try:
    for line in open("/proc/self/cgroup").read().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            cgroup_files.append(f"/sys/fs/cgroup{path}/memory.max")
        elif "memory" in controllers.split(","):
            cgroup_files.append(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
except (OSError, ValueError):
    pass
for path in cgroup_files:
    try:
        value = open(path).read().strip()
    except OSError:
        continue
    if value.isdigit():
        limits.append(int(value))
facts["mem"] = min(limits) if limits else None
raise RuntimeError("PREFLIGHT " + json.dumps(facts))
'''


def preflight_probes(course: Path, token: str) -> dict[str, str]:
    """Files the preflight worker tries to create, one in each kind of place the destructive cases
    write to: one that appears where the grader looks means that place is exposed to workers."""
    name = f".hostile-preflight-{token}"
    probes = {"repo": str(HERE / name), "course": str(course / "submitted" / name),
              "root": f"/root/{name}", "tmp": f"/tmp/{name}", "slash": f"/{name}"}
    if not Path.cwd().resolve().is_relative_to(REPO):  # the lanes' cwd, when it is not the repository
        probes["cwd"] = str(Path.cwd() / name)
    for extra in ("/var/tmp", "/work", "/home", "/srv"):
        if os.path.isdir(extra):
            probes[extra.strip("/").replace("/", "_")] = f"{extra}/{name}"
    return probes


@dataclass
class Capabilities:
    fs_contained: bool
    memory_limited: bool
    no_overcommit: bool
    details: str

    def met(self, requirement: str) -> bool:
        return bool(os.environ.get("HOSTILE_UNSAFE")) or getattr(self, requirement)


def read_preflight(report: dict | None, probes: dict[str, str]) -> Capabilities:
    exposed = [label for label, path in probes.items() if os.path.exists(path)]
    for path in probes.values():
        try:
            os.unlink(path)
        except OSError:
            pass
    facts, message = {}, ""
    for issue in (report or {}).get("load_issues", []):
        message = issue["message"]
        if "PREFLIGHT " in message:
            try:
                facts = json.loads(message.split("PREFLIGHT ", 1)[1])
            except ValueError:
                pass
    total = psutil.virtual_memory().total
    mem = facts.get("mem")
    overcommit = Path("/proc/sys/vm/overcommit_memory").read_text().strip()
    details = (f"files a worker could create where the grader sees them: {exposed or 'none'}; worker memory "
               f"limit: {mem if mem is not None else 'none visible'} (machine: {total}); "
               f"vm.overcommit_memory={overcommit}" + ("" if facts else f"; preflight said: {message[:200]!r}"))
    return Capabilities(fs_contained=bool(facts) and not exposed,
                        memory_limited=mem is not None and mem <= total // 2,
                        no_overcommit=overcommit != "1", details=details)


# -- the loopback listener -----------------------------------------------------------------------

class Listener:
    """A TCP and a UDP socket on 127.0.0.1 that record every connection and byte they get."""

    def __init__(self):
        self.received: list[tuple[str, bytes]] = []
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.tcp_port, self.udp_port = self.tcp.getsockname()[1], self.udp.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._serve_tcp, self._serve_udp)]
        for t in self._threads:
            t.start()

    def _serve_tcp(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            data = b""
            conn.settimeout(2)
            try:
                while chunk := conn.recv(65536):
                    data += chunk
            except OSError:
                pass
            conn.close()
            self.received.append(("tcp", data))

    def _serve_udp(self):
        while not self._stop.is_set():
            try:
                data, _ = self.udp.recvfrom(65536)
            except (socket.timeout, OSError):
                continue
            self.received.append(("udp", data))

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.tcp.close()
        self.udp.close()


# -- processes -----------------------------------------------------------------------------------

def process_table() -> dict[tuple[int, float], psutil.Process]:
    table = {}
    for p in psutil.process_iter(["create_time"]):
        table[(p.pid, p.info["create_time"])] = p
    return table


def describe_process(p: psutil.Process) -> dict:
    info = {"pid": p.pid}
    for key, get in (("cmdline", lambda: " ".join(p.cmdline())[:200]), ("cwd", p.cwd), ("status", p.status),
                     ("ppid", p.ppid), ("case", lambda: p.environ().get("HOSTILE_CASE"))):
        try:
            info[key] = get()
        except (psutil.Error, OSError):
            info[key] = None
    return info


def is_ours(p: psutil.Process, token: str, roots: list[str]) -> bool:
    """Started by this run: a descendant of the test process, or carrying its token, a case's
    mark, or one of its folders (orphans keep the worker's cwd and environment)."""
    try:
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = " ".join(p.cmdline())
        if "multiprocessing.resource_tracker" in cmdline or "multiprocessing.forkserver" in cmdline:
            return False  # the test process's own helpers, started with its first process pool, kept for the next
        if any(a.pid == os.getpid() for a in p.parents()):
            return True
        if p.environ().get("HOSTILE_RUN_TOKEN") == token:
            return True
        cwd = p.cwd()
        return any(cwd.startswith(r) or r in cmdline for r in roots) or token in cmdline
    except (psutil.Error, OSError):
        return False


def leftover_processes(before: dict, token: str, roots: list[str], grace_s: float = 5.0) -> list[psutil.Process]:
    deadline = time.monotonic() + grace_s
    while True:
        new = [p for key, p in process_table().items() if key not in before and is_ours(p, token, roots)]
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.25)


def kill_all(procs: list[psutil.Process]) -> None:
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


# -- files ---------------------------------------------------------------------------------------

# Never walked: toolchains and caches (huge, and written by other tools), the test runner's own
# temporary folders and job logs, and other graders' scratch folders.
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".git", ".venv"}
ROOT_SKIP = ("/root/.pyenv", "/root/.rustup", "/root/.cargo", "/root/.npm", "/root/.m2", "/root/.cache",
             "/root/.claude")
TMP_SKIP_PREFIXES = ("pytest-of-", "bash_jobs", "bash_tool_", "autograder-lane-", "hostile-corpus-")


def snapshot(top: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    found = {}
    for d, dirs, files in os.walk(top):
        keep = []
        for x in dirs:
            full = os.path.join(d, x)
            if x in SKIP_NAMES or full.startswith(skip) or (d == "/tmp" and x.startswith(TMP_SKIP_PREFIXES)):
                continue
            keep.append(x)
        dirs[:] = keep
        for name in files:
            full = os.path.join(d, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            found[full] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return found


def diff(before: dict, after: dict) -> list[tuple[str, str]]:
    changes = [("new", p) for p in after if p not in before]
    changes += [("deleted", p) for p in before if p not in after]
    changes += [("changed", p) for p in after if p in before and after[p] != before[p]]
    return sorted(changes, key=lambda c: c[1])


def small_text(path: str, limit: int = 1 << 20) -> str:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return ""
        return Path(path).read_bytes().decode(errors="replace")
    except OSError:
        return ""


# -- grading one class ---------------------------------------------------------------------------

@dataclass
class Run:
    label: str
    course: Path
    scratch: Path
    students: list[str]
    error: str | None = None
    seconds: float = 0.0
    reports: dict = field(default_factory=dict)
    report_bytes: dict = field(default_factory=dict)
    feedback: dict = field(default_factory=dict)
    leftovers: list[dict] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, path, text) outside scratch
    scratch_left: list[str] = field(default_factory=list)  # in the grader's scratch folder (TMPDIR)
    fifo_opened: list[str] = field(default_factory=list)


def grader_files(run: Run) -> set[str]:
    """What the grader itself writes in the course's grades/ folder."""
    out = run.course / "grades" / ASSIGNMENT
    files = {str(out / "scores.csv"), str(out / "summary.html"), str(run.course / "grades" / "grades.csv")}
    files |= {str(p) for p in (out / ".reference").glob("*.json")}  # the reference's results, by fingerprint
    files.add(str(out / ".state.json"))  # what the run's outputs depend on: the next run may skip it all
    files |= {str(p) for p in (out / "history").rglob("*.json")}  # reports replaced by another grade
    files |= {str(run.course / f"gradebook.db{suffix}") for suffix in ("", "-journal", "-wal", "-shm")}
    for s in run.students:
        files |= {str(out / "reports" / f"{s}.json"), str(out / "feedback" / f"{s}.html"),
                  str(run.course / "autograded" / s / ASSIGNMENT / NOTEBOOK)}  # formgrader's copy
    return files


def grade_class(run: Run, token: str, watched_roots: list[tuple[Path, tuple]], timeout_s: float) -> Run:
    from autograder.config import load
    from autograder.coordinator.grade import grade

    run.scratch.mkdir(parents=True, exist_ok=True)
    fifos = [run.course / "submitted" / s / ASSIGNMENT / NOTEBOOK for s in run.students]
    fifos = [p for p in fifos if p.is_fifo()]
    roots = [str(run.course), str(run.scratch)]
    files_before = {}
    for top, skip in [(run.course, ()), *watched_roots]:
        files_before.update(snapshot(top, skip))
    procs_before = process_table()

    saved = {k: os.environ.get(k) for k in ("TMPDIR", "HOSTILE_RUN_TOKEN")}
    os.environ["TMPDIR"], os.environ["HOSTILE_RUN_TOKEN"] = str(run.scratch), token
    outcome = {}

    def target():
        try:
            grade(load(run.course), ASSIGNMENT, quiet=True)
        except BaseException as exc:  # noqa: BLE001 - recorded, the test says what happened
            where = traceback.extract_tb(exc.__traceback__)[-3:]
            outcome["error"] = (f"{type(exc).__name__}: {str(exc)[:1500]} (at "
                                + " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(where)) + ")")

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        while thread.is_alive() and time.monotonic() - started < timeout_s:
            for fifo in fifos:  # a reader blocked on the pipe: record it, then let it go (EOF)
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    continue
                os.close(fd)
                if str(fifo) not in run.fifo_opened:
                    run.fifo_opened.append(str(fifo))
            thread.join(0.1)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    run.seconds = time.monotonic() - started
    if thread.is_alive():
        run.error = f"grade() did not return within {timeout_s:.0f} s"
    else:
        run.error = outcome.get("error")

    leftovers = leftover_processes(procs_before, token, roots)
    run.leftovers = [describe_process(p) for p in leftovers]
    kill_all(leftovers)

    files_after = {}
    for top, skip in [(run.course, ()), *watched_roots]:
        files_after.update(snapshot(top, skip))
    allowed = grader_files(run)
    for kind, path in diff(files_before, files_after):
        if path in allowed:
            continue
        run.changes.append((kind, path, small_text(path) if kind != "deleted" else ""))
    run.scratch_left = sorted(str(p.relative_to(run.scratch)) for p in run.scratch.rglob("*"))

    out = run.course / "grades" / ASSIGNMENT
    for s in run.students:
        report = out / "reports" / f"{s}.json"
        if report.is_file():
            data = report.read_bytes()
            run.report_bytes[s] = len(data)
            try:
                run.reports[s] = json.loads(data)
            except ValueError:
                run.reports[s] = {"unreadable": data[:200].decode(errors="replace")}
        page = out / "feedback" / f"{s}.html"
        if page.is_file():
            run.feedback[s] = page.read_text(errors="replace")
    return run


def own_changes(run: Run, course_roots: list[Path], token: str) -> list[tuple[str, str, str]]:
    """Changes that count: anything in this run's own folders, and anything elsewhere that carries
    the run's token (other processes on the machine change /tmp and /root too)."""
    mine = tuple(str(r) for r in course_roots) + (str(run.scratch),)
    return [(kind, path, text) for kind, path, text in run.changes
            if path.startswith(mine) or token in path or token in text]


# -- reports -------------------------------------------------------------------------------------

# What changes from run to run without any student doing anything: timings, pytest's durations
# and dates, and the fingerprint (it hashes the grader's own source, which may be edited while
# the suite runs; a change to the course's hidden files is caught by the file checks instead).
VOLATILE = {"timings", "duration_s", "duration", "created", "start", "stop", "fingerprint"}


def normalize(report: dict, roots: list[Path]) -> str:
    """A report without what changes from run to run (VOLATILE) and without the course copy's
    location (its path, and its folder names among pytest's keywords)."""
    parts = {part for root in roots for part in Path(root).parts} | {""}

    def clean(x, key=None):
        if isinstance(x, dict):
            return {k: clean(v, k) for k, v in x.items() if k not in VOLATILE}
        if isinstance(x, list):
            return [clean(v) for v in x if not (key == "keywords" and v in parts)]
        return x

    text = json.dumps(clean(report), sort_keys=True, indent=1)
    for root in roots:
        text = text.replace(str(root), "<ROOT>").replace(os.path.relpath(root), "<ROOT>")
    text = without_measurements(text)  # the speed tests say what they measured
    return re.sub(r" at 0x[0-9a-f]+>", " at 0x...>", text)  # object addresses in pytest's tracebacks


def secrets(canary: str, own_source: str = "") -> list[str]:
    """Text that must never reach a student: the canary, and every longer line of the hidden files
    that is not also in the student's own notebook."""
    own = {l.strip() for l in (REFERENCE.read_text() + own_source).splitlines()}
    hidden = REPO / "assignments" / ASSIGNMENT / "hidden"
    lines = {l.strip() for p in hidden.iterdir() if p.suffix in (".py", ".toml") for l in p.read_text().splitlines()
             if len(l.strip()) > 30}
    return [canary] + sorted(lines - own)


def leaks(report: dict, feedback: str, secret: list[str], course: Path) -> list[str]:
    texts = [("load_error", report.get("load_error") or "")]
    texts += [(f"load issue (cell {i.get('cell')})", i.get("message", "")) for i in report.get("load_issues", [])]
    texts += [(t["name"], t.get("output", "")) for t in report.get("tests", [])]
    texts.append(("feedback page", feedback))
    found = []
    for where, text in texts:
        for s in secret + [str(course)]:
            if s and s in text:
                found.append(f"{where} shows {s[:80]!r}")
                break
    return found


def check_case(case: Case, run: Run, secret: list[str], listener: Listener, marker_dir: Path,
               changes: list[tuple[str, str, str]], token: str) -> list[str]:
    """Every way this case's outcome differs from what EXPECT and the general rules demand
    (`changes`: the run's counted file changes, see own_changes)."""
    e, problems = case.expect, []
    lost, wrong = [], []
    if run.error:
        problems.append(f"the class did not finish: {run.error}")
    report = run.reports.get(case.name)
    if report is None or "tests" not in report:
        return problems + [f"no (readable) report for {case.name}"]
    tests = report["tests"]
    attacked = [t for t in tests if matches(t["name"], e["attacked"]) and not matches(t["name"], e["keep"])]
    verdict = [t for t in attacked if t["status"] in e["statuses"]]
    for t in tests:
        got = f"{t['status']} {t['score']:g}/{t['max_score']:g}: {t['output'][:220]!r}"
        if matches(t["name"], e["keep"]):
            if t["status"] != "PASSED" or t["score"] != t["max_score"]:
                lost.append(f"{t['name']}: {got}")
        elif t in attacked:
            budget = t["status"] == "CRASHED" and t["output"].startswith(BUDGET_CRASH) and verdict
            if t["score"] != 0 or not (t["status"] in e["statuses"] or budget):
                wrong.append(f"{t['name']}: {got}")
        if t["status"] == "GRADER_ERROR" and "GRADER_ERROR" not in e["statuses"]:
            problems.append(f"{t['name']} is a GRADER_ERROR: {t['output'][:200]!r}")
    if lost:
        problems.append(f"{len(lost)} tests should keep their points but did not: " + "; ".join(lost[:4]))
    if wrong:
        problems.append(f"{len(wrong)} attacked tests should score 0 as {'/'.join(e['statuses'])} but did not: "
                        + "; ".join(wrong[:4]))
    if "load_issues" in e:
        got = [i["status"] for i in report.get("load_issues", [])]
        if got != e["load_issues"]:
            problems.append(f"load issues should be {e['load_issues']}, got "
                            f"{[(i['status'], i['message'][:120]) for i in report.get('load_issues', [])]}")
    if "load_error" in e and e["load_error"] not in (report.get("load_error") or ""):
        problems.append(f"load_error should mention {e['load_error']!r}, got {report.get('load_error')!r}")
    for token, wanted in e.get("outputs", {}).items():
        for t in tests:
            if token in t["name"] and not any(w in t["output"] for w in wanted):
                problems.append(f"{t['name']}: output should say one of {wanted}, got {t['output'][:200]!r}")
    if "same_as" in e:
        other = run.reports.get(e["same_as"])
        if other is None:
            problems.append(f"no report for {e['same_as']} to compare with")
        else:
            mine = {t["name"]: (t["status"], t["score"]) for t in tests}
            theirs = {t["name"]: (t["status"], t["score"]) for t in other["tests"]}
            different = {n: (mine.get(n), theirs.get(n)) for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n)}
            if different:
                problems.append(f"should grade exactly like {e['same_as']}; (this, theirs) differ: {different}")
    limit = e.get("max_report_bytes", 1_000_000)
    if run.report_bytes.get(case.name, 0) > limit:
        problems.append(f"report is {run.report_bytes[case.name]} bytes, over {limit}")
    seconds = report.get("timings", {}).get("total_s", 0)
    if seconds > e.get("max_seconds", 90):
        problems.append(f"grading took {seconds:.0f} s, over {e.get('max_seconds', 90)} s")
    shown = leaks(report, run.feedback.get(case.name, ""), secret, run.course)
    if shown:
        problems.append(f"{len(shown)} texts the student sees leak hidden text: " + "; ".join(shown[:4]))
    # what it left behind, by its name
    procs = [p for p in run.leftovers if p.get("case") == case.name or case.name in (p.get("cmdline") or "")]
    if procs:
        problems.append(f"{len(procs)} processes survived grading, e.g. {procs[:2]}")
    files = [(k, p) for k, p, text in changes if case.name in p or (case.name in text and token in text)]
    if files:
        problems.append(f"{len(files)} files outside its scratch were created or changed, e.g. {files[:4]}")
    heard = [(kind, data[:120]) for kind, data in listener.received if case.name.encode() in data]
    if heard:
        problems.append(f"the loopback listener received {len(heard)} messages: {heard[:3]}")
    markers = [p.name for p in marker_dir.iterdir() if case.name in p.name] if marker_dir.exists() else []
    if markers:
        problems.append(f"code ran in the grader: marker files {markers}")
    if e.get("fifo") and run.fifo_opened:
        problems.append(f"the grader opened the FIFO for reading (it would have waited forever): {run.fifo_opened}")
    return problems
