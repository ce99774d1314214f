"""Read course_config.py once into a typed, frozen CourseConfig."""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "course_config.py"


class CourseError(Exception):
    """A problem the instructor can fix; the message names the file, cell or student concerned."""


class ConfigError(CourseError):
    """course_config.py is missing, malformed, or names a key we do not know."""


@dataclass(frozen=True)
class NbgraderSettings:
    source_directory: str = "assignments"
    release_directory: str = "release"
    solution_directory: str = "solutions"
    submitted_directory: str = "submitted"
    gradebook: str = "gradebook.db"


@dataclass(frozen=True)
class ReleaseSettings:
    grader_only: tuple[str, ...] = ("hidden",)


@dataclass(frozen=True)
class GradingSettings:
    """How submissions are judged. Course-wide here; an assignment may override any of these
    in its own `hidden/grading.toml`."""
    lanes: int = 0                     # grading processes in parallel; 0 = one per core
    skip_tags: tuple[str, ...] = ("training", "plot")  # cells tagged so are never run
    cell_timeout_s: float = 20.0       # one notebook cell while loading
    load_timeout_s: float = 60.0       # the whole notebook while loading
    probe_timeout_s: float = 30.0      # one probe (one call from a hidden test)
    max_worker_deaths: int = 3         # crashes per submission; after that, remaining tests are CRASHED
    probe_timeout_after_timeout_s: float = 2.0  # once a submission has timed out, its later probes
    submission_timeout_s: float = 600.0  # all of one submission's grading; the rest is TIMEOUT
    speed_factor: float = 3.0          # allowed slowdown against the reference, same run
    speed_repeats: int = 11            # interleaved pairs at least; the median pair's ratio is compared
    speed_far_pairs: int = 2           # ... or this many, when every pair is under a third of the factor
                                       # and their median under a quarter
    speed_max_pairs: int = 21          # at most, spent only while the verdict is close to the factor
    speed_call_s: float = 0.006        # the reference's compute per timed call (iterations are calibrated)
    forward_time_limit_s: float = 0.5  # the guide's absolute bound on one forward pass
    cpu_s: int = 300                   # CPU seconds per worker
    memory_mb: int = 2048              # per worker tree (cgroup) and address space beyond start-up
    max_pids: int = 64                 # processes and threads per worker tree (a fork storm stops here)
    scratch_mb: int = 64               # the worker's only writable folder (a tmpfs)
    min_isolation: str = "process"     # refuse to grade below: process, unprivileged, namespaced, contained
    scheduler: str = ""                # "" = local lanes; "tcp://host:8786" = a Dask cluster
    batch_size: int = 0                # submissions per task on a cluster; 0 = enough to amortize warm-up
    max_output_bytes: int = 8 << 20    # what a worker may print or write
    max_notebook_bytes: int = 20 << 20  # larger submissions are refused unread
    max_code_cells: int = 2000
    families: tuple[str, ...] = ()     # column order in scores.csv; unnamed families follow, sorted
    similarity: bool = False           # make grade also runs the similarity check (SIMILARITY)


@dataclass(frozen=True)
class LatePolicy:
    """What a late submission costs. kind: "none", "zero" (late = 0 points) or "percent_per_day"
    (percent_per_day of the earned points per started day late, at most cap_percent)."""
    kind: str = "none"
    percent_per_day: float = 10.0
    cap_percent: float = 50.0
    grace_minutes: float = 0.0


@dataclass(frozen=True)
class CollectSettings:
    """How an LMS bulk download maps to students. `pattern` is a regular expression over each
    file name in the zip, with a named group `student` (a student id) or `lms_id` (looked up in
    the roster). `roster` is a CSV file with columns student_id, lms_id, name, sis_id, section."""
    pattern: str = r"^(?P<last>[^_]+)_(?P<first>[^_]+)_(?P<lms_id>\d+)_\d+_(?P<file>.+)$"
    roster: str = "roster.csv"


VISIBILITIES = ("visible", "after_due_date", "hidden")
COUNTED = ("last", "best")


@dataclass(frozen=True)
class PolicySettings:
    """What students may do and see, for the batch run, the service and the exports alike
    (coordinator/policy.py applies it). Course-wide here; an assignment overrides any key in a
    `[policy]` table of its hidden/grading.toml. Per-student exceptions live in `extensions`."""
    max_attempts: int = 0              # accepted attempts per assignment; 0 = no limit
    max_attempts_per_day: int = 0      # accepted attempts per UTC day; 0 = no limit
    counted: str = "last"              # which attempt's score counts: "last" or "best"
    # test family ("speed") or test name ("test_speed.py::test_x") -> visible | after_due_date | hidden;
    # "figures" names the feedback pictures. Unnamed tests keep their @visibility marker.
    visibility: dict = field(default_factory=dict)
    extensions: str = "extensions.csv"  # student_id, assignment, due, extra_attempts (course root)


@dataclass(frozen=True)
class ServiceSettings:
    """The submission service (`make serve`)."""
    host: str = "127.0.0.1"
    port: int = 8000
    database: str = ""                 # SQLAlchemy URL; "" = sqlite:///<course>/service.db
    public_url: str = ""               # the base of sign-in links; "" = http://host:port
    lanes: int = 0                     # warm grading lanes per assignment; 0 = one per core
    max_upload_mb: float = 20.0        # larger uploads are refused before their body is read
    uploads_per_minute: int = 20       # per token
    requests_per_minute: int = 1200    # per token, every request
    requests_per_minute_per_address: int = 30000  # every request from one address (a flood)
    failed_signins_per_minute_per_address: int = 60  # requests with no valid token (guessing)
    secure_cookies: bool = False       # set True behind HTTPS


@dataclass(frozen=True)
class SimilaritySettings:
    """The similarity check (make similarity): code shared between submissions beyond the release.
    Lengths are in tokens of canonical code (names, operators, numbers); shares are fractions."""
    archive: str = ""               # earlier terms in nbgrader's layout, <archive>/<student>/<assignment>/; "" = none
    threshold: float = 0.5          # a pair at or above this similarity is flagged
    top: int = 25                   # pairs shown side by side in similarity.html
    min_similarity: float = 0.2     # pairs below are left out of similarity.csv
    noise_tokens: int = 12          # a match shorter than this is ignored (copydetect's noise threshold)
    guarantee_tokens: int = 20      # a match this long is always found (copydetect's guarantee threshold)
    min_match_tokens: int = 100     # a pair matching fewer tokens (about five lines) is weighed down in proportion
    common_share: float = 0.5       # code in more than this share of the submissions (and in more than
                                    # COMMON_FLOOR of them) is everyone's idiom, left out like the release


@dataclass(frozen=True)
class CourseConfig:
    root: Path
    course_id: str
    nbgrader: NbgraderSettings = field(default_factory=NbgraderSettings)
    release: ReleaseSettings = field(default_factory=ReleaseSettings)
    grading: GradingSettings = field(default_factory=GradingSettings)
    late_policy: LatePolicy = field(default_factory=LatePolicy)
    collect: CollectSettings = field(default_factory=CollectSettings)
    similarity: SimilaritySettings = field(default_factory=SimilaritySettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    due: dict = field(default_factory=dict)   # assignment id -> due date, "YYYY-MM-DD HH:MM:SS UTC"

    # Resolved course paths; every stage asks here instead of joining strings itself.
    @property
    def source_dir(self) -> Path:
        return self.root / self.nbgrader.source_directory

    @property
    def release_dir(self) -> Path:
        return self.root / self.nbgrader.release_directory

    @property
    def solution_dir(self) -> Path:
        return self.root / self.nbgrader.solution_directory

    @property
    def submitted_dir(self) -> Path:
        return self.root / self.nbgrader.submitted_directory

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / self.nbgrader.gradebook}"

    @property
    def service_db_url(self) -> str:
        return self.service.database or f"sqlite:///{self.root / 'service.db'}"

    def assignments(self) -> list[str]:
        """Assignment ids: the folders of the source directory that hold a notebook."""
        if not self.source_dir.is_dir():
            raise ConfigError(f"{self.source_dir}: the source directory does not exist")
        return sorted(p.name for p in self.source_dir.iterdir()
                      if p.is_dir() and any(p.glob("*.ipynb")))

    def nbgrader_traitlets(self):
        """The same settings as a traitlets Config, for nbgrader's apps and nbgrader_config.py."""
        from traitlets.config import Config

        c = Config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.course_id = self.course_id
        c.CourseDirectory.source_directory = self.nbgrader.source_directory
        c.CourseDirectory.release_directory = self.nbgrader.release_directory
        c.CourseDirectory.solution_directory = self.nbgrader.solution_directory
        c.CourseDirectory.submitted_directory = self.nbgrader.submitted_directory
        c.CourseDirectory.db_url = self.db_url
        c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                                    *self.release.grader_only]
        return c


# course_config.py's top-level names, and the section each fills.
_SECTIONS: dict[str, type] = {"NBGRADER": NbgraderSettings, "RELEASE": ReleaseSettings,
                              "GRADING": GradingSettings, "LATE_POLICY": LatePolicy, "COLLECT": CollectSettings,
                              "SIMILARITY": SimilaritySettings, "POLICY": PolicySettings, "SERVICE": ServiceSettings}


def _section(cls: type, name: str, raw: Any, path: Path | str, base=None):
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {name} must be a dict, got {type(raw).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {name}[{key!r}]; known keys: {', '.join(known)}")
        default = known[key].default
        if known[key].default_factory is dict:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {name}[{key!r}] must be a dict")
            value = dict(value)
        elif isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{path}: {name}[{key!r}] must be a list")
            value = tuple(value)
        elif default is not dataclasses.MISSING and not isinstance(value, type(default)):
            if not (isinstance(default, float) and isinstance(value, int)):
                raise ConfigError(f"{path}: {name}[{key!r}] must be {type(default).__name__}, "
                                  f"got {type(value).__name__}")
        values[key] = value
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


def override(settings, raw: dict, source: Path, name: str = "grading"):
    """`settings` with the keys of `raw` replaced, checked as strictly as course_config.py."""
    return _section(type(settings), name, raw, source, base=settings)


def check_policy(policy: PolicySettings, path: Path | str) -> PolicySettings:
    """The values of a policy that its types alone do not check."""
    if policy.counted not in COUNTED:
        raise ConfigError(f"{path}: policy counted = {policy.counted!r}; choose one of {', '.join(COUNTED)}")
    for key, value in policy.visibility.items():
        if value not in VISIBILITIES:
            raise ConfigError(f"{path}: policy visibility[{key!r}] = {value!r}; choose one of {', '.join(VISIBILITIES)}")
    if policy.max_attempts < 0 or policy.max_attempts_per_day < 0:
        raise ConfigError(f"{path}: policy max_attempts and max_attempts_per_day must be 0 (no limit) or more")
    return policy


def load(root: str | Path | None = None) -> CourseConfig:
    """Read <root>/course_config.py (root defaults to the folder above this package)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent.parent
    root = root.resolve()
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; the course root must hold {CONFIG_FILE}")
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:  # a syntax error or a bad expression in the config
        raise ConfigError(f"{path}: could not be read: {type(exc).__name__}: {exc}") from exc
    settings = {k: v for k, v in namespace.items() if k.isupper()}
    unknown = sorted(set(settings) - set(_SECTIONS) - {"COURSE_ID", "DUE"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]}; known: COURSE_ID, DUE, {', '.join(_SECTIONS)}")
    due = settings.get("DUE", {})
    if not isinstance(due, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in due.items()):
        raise ConfigError(f"{path}: DUE must map assignment ids to due dates like \"2026-12-01 23:59:00 UTC\"")
    for aid, when in due.items():
        try:
            parse_time(when)
        except ValueError:
            raise ConfigError(f"{path}: DUE[{aid!r}] = {when!r} is not a date like \"2026-12-01 23:59:00 UTC\"") from None
    course_id = settings.get("COURSE_ID")
    if not isinstance(course_id, str) or not course_id:
        raise ConfigError(f"{path}: COURSE_ID must be a non-empty string")
    sections = {name.lower(): _section(cls, name, settings.get(name, {}), path)
                for name, cls in _SECTIONS.items()}
    if sections["late_policy"].kind not in ("none", "zero", "percent_per_day"):
        raise ConfigError(f"{path}: LATE_POLICY['kind'] must be none, zero or percent_per_day")
    _check_similarity(sections["similarity"], path)
    check_policy(sections["policy"], path)
    cfg = CourseConfig(root=root, course_id=course_id, due=dict(due), **sections)
    _check_due_keys(cfg, path)
    return cfg


def _check_similarity(s: SimilaritySettings, path: Path) -> None:
    for key in ("threshold", "min_similarity", "common_share"):
        if not 0.0 <= getattr(s, key) <= 1.0:
            raise ConfigError(f"{path}: SIMILARITY[{key!r}] must be between 0 and 1")
    if s.top < 1 or s.noise_tokens < 2 or s.guarantee_tokens < s.noise_tokens or s.min_match_tokens < 0:
        raise ConfigError(f"{path}: SIMILARITY needs top >= 1, noise_tokens >= 2, guarantee_tokens >= "
                          "noise_tokens and min_match_tokens >= 0")


def _check_due_keys(cfg: CourseConfig, path: Path) -> None:
    """A DUE key must name an assignment: a misspelt one would silently drop its late penalty."""
    if not cfg.source_dir.is_dir():
        return  # reported by whichever command needs the assignments
    known = cfg.assignments()
    for aid in cfg.due:
        if aid not in known:
            close = difflib.get_close_matches(aid, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{path}: DUE[{aid!r}] names no assignment in {cfg.source_dir.name}/ ({hint}"
                              f"known: {', '.join(known) or 'none'})")


def parse_time(text: str) -> dt.datetime:
    """A timestamp as nbgrader writes them (timestamp.txt, due dates): an aware UTC datetime.

    The rule of nbgrader's utils.parse_utc, without importing nbgrader (seconds of start-up):
    a third word is a zone name ("UTC", "Europe/Paris") or a number of seconds east of UTC."""
    import dateutil.parser
    import dateutil.tz

    parts = text.strip().split(" ")
    if len(parts) == 3:
        try:
            zone = int(parts[2])
        except ValueError:
            zone = dateutil.tz.gettz(parts[2])
        when = dateutil.parser.parse(" ".join(parts[:2] + ["TZ"]), tzinfos={"TZ": zone})
    else:
        when = dateutil.parser.parse(text.strip())
    if when.tzinfo is not None:
        when = (when - when.utcoffset()).replace(tzinfo=None)
    return when.replace(tzinfo=dt.timezone.utc)
