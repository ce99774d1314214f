"""`python -m autograder <command>`: the single entry point; each command dispatches to one stage.

Exit status: 0 done; 1 done, but something listed above was not graded or imported; 2 refused,
nothing changed (a configuration, authoring or environment error, or another run holds the
course); 3 an internal error (a bug: rerun with --debug for the traceback); 130 interrupted
(Ctrl-C), reports already written are kept. Every error is one line per problem, naming the
file, line or student; a traceback only with --debug.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from autograder import config as config_mod

OK, INCOMPLETE, REFUSED, INTERNAL, INTERRUPTED = 0, 1, 2, 3, 130


def _release(args, cfg) -> int:
    from autograder.release import release

    for result in release(cfg, args.assignment, force=args.force):
        if result.unchanged:
            print(f"release/{result.assignment_id} is up to date (its sources are unchanged; FORCE=1 rebuilds it)")
            continue
        print(f"released {result.assignment_id}: {len(result.release_files)} student files in "
              f"{cfg.release_dir.name}/{result.assignment_id}, {len(result.solution_files)} in "
              f"{cfg.solution_dir.name}/{result.assignment_id}")
    return OK


def _grade(args, cfg) -> int:
    from autograder.coordinator.grade import grade_course

    run = grade_course(cfg, args.assignment, force=args.force, lanes=args.lanes, quiet=args.quiet,
                       scheduler=args.scheduler, allow_missing=args.allow_missing)
    if run.not_graded:
        print(f"error: {len(run.not_graded)} folder(s) in {cfg.submitted_dir.name}/ could not be graded (listed "
              "above as NOT GRADED, and in scores.csv and the dashboard with the reason)", file=sys.stderr)
        return INCOMPLETE
    return OK


def _similarity(args, cfg) -> int:
    from autograder.coordinator.similarity import run

    run(cfg, args.assignment, quiet=args.quiet)
    return 0


def _new(args, cfg) -> int:
    from autograder.authoring.scaffold import new_assignment

    written = new_assignment(cfg, args.id)
    folder = cfg.source_dir / args.id
    for path in written:
        print(f"wrote {path.relative_to(cfg.root)}")
    print(f"next: edit {folder.relative_to(cfg.root)}/ (docs/authoring.md), then make release ASSIGNMENT={args.id} "
          f"and make check ASSIGNMENT={args.id}")
    return 0


def _check(args, cfg) -> int:
    from autograder.coordinator.check import check

    reports = check(cfg, args.assignment, mutants=not args.no_mutants, lanes=args.lanes)
    return 0 if all(r.ok for r in reports) else 1


def _export(args, cfg) -> int:
    from autograder.coordinator.export import export

    written, warnings = export(cfg)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(f"wrote {len(written)} files: Gradescope results.json per submission in grades/<assignment>/gradescope/, "
          "grades/canvas.csv, grades/grades.csv")
    return OK


def _collect(args, cfg) -> int:
    from autograder.coordinator.collect import collect

    def warn(text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    result = collect(cfg, Path(args.zip), args.assignment, warn=warn)
    for student, name in result.imported.items():
        print(f"imported {name} -> {cfg.submitted_dir.name}/{student}/{args.assignment}/")
    for name in result.skipped:
        print(f"skipped {name}")
    for name in result.unmatched:
        print(f"UNMATCHED {name}: no student for this name; fix COLLECT['pattern'] or the roster", file=sys.stderr)
    print(f"{len(result.imported)} imported, {len(result.skipped)} skipped, {len(result.unmatched)} unmatched")
    return INCOMPLETE if result.unmatched else OK


def _serve(args, cfg) -> int:
    from autograder.service.app import serve

    serve(cfg, args.host, args.port, lanes=args.lanes, scheduler=args.scheduler,
          paused=True if args.paused else None, debug=args.debug)
    return 0


def _formgrader(args, cfg) -> int:
    from autograder.coordinator import formgrade

    formgrade.serve(cfg, args.host, args.port)  # replaces this process; Ctrl-C stops it
    return 0


def _tokens(args, cfg) -> int:
    from autograder.service.tokens import issue

    done = issue(cfg, rotate=args.rotate, only=args.student)
    where = done.path.relative_to(cfg.root)
    print(f"{where} (mode 0600): {len(done.new)} new tokens, {len(done.kept)} kept; one sign-in link per row")
    for subject in done.lost:
        print(f"warning: {subject} has a token that {where} no longer holds; reissue it with "
              f"`python -m autograder tokens --rotate --student {subject}`", file=sys.stderr)
    for subject in done.removed:
        print(f"{subject}: no longer on the roster; their token no longer signs in")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", default=None, help="course root holding course_config.py "
                        "(default: this repository)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("--wait", action="store_true", help="when another run holds the course, wait for it "
                        "instead of refusing")
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="build release/ and solutions/ with nbgrader")
    release.add_argument("--assignment", default=None, help="only this assignment (default: all)")
    release.add_argument("--force", action="store_true", help="rebuild even when the sources are unchanged")
    release.set_defaults(run=_release)

    grade = commands.add_parser("grade", help="grade every submission in submitted/ with the hidden tests")
    grade.add_argument("--assignment", default=None, help="only this assignment (default: all)")
    grade.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    grade.add_argument("--allow-missing", action="store_true", help="grade even when submissions are missing: "
                       "an assignment nobody submitted, or students with a recorded grade whose submission is "
                       "gone (their grade becomes 0; the old report is kept in history/)")
    grade.add_argument("--lanes", type=int, default=None, help="parallel grading processes "
                       "(default: course_config GRADING['lanes'], 0 = one per core)")
    grade.add_argument("--quiet", action="store_true", help="print nothing but errors")
    grade.add_argument("--scheduler", default=None, help="grade on a Dask cluster at this address "
                       "(tcp://host:8786; default: course_config GRADING['scheduler'], empty = local lanes)")
    grade.set_defaults(run=_grade)

    new = commands.add_parser("new", help="scaffold a new assignment in the source folder (docs/authoring.md)")
    new.add_argument("id", help="the assignment id: letters, digits, _ and -, starting with a letter")
    new.set_defaults(run=_new)

    check = commands.add_parser("check", help="validate an assignment before students see it: release, "
                                "reference, bare release, examples and mutation testing of the hidden tests")
    check.add_argument("--assignment", default=None, help="only this assignment (default: all)")
    check.add_argument("--no-mutants", action="store_true", help="skip the mutation testing")
    check.add_argument("--lanes", type=int, default=None, help="parallel grading processes "
                       "(default: course_config GRADING['lanes'], 0 = one per core)")
    check.set_defaults(run=_check)

    similarity = commands.add_parser("similarity", help="compare the code of every submission (and earlier "
                                     "terms') beyond the release: grades/<assignment>/similarity.html and .csv")
    similarity.add_argument("--assignment", default=None, help="only this assignment (default: all)")
    similarity.add_argument("--quiet", action="store_true", help="print nothing but errors")
    similarity.set_defaults(run=_similarity)

    export = commands.add_parser("export", help="Gradescope results.json, a Canvas CSV and grades/grades.csv "
                                 "from the reports")
    export.set_defaults(run=_export)

    collect = commands.add_parser("collect", help="import an LMS bulk download into submitted/")
    collect.add_argument("--zip", required=True, help="the zip file the LMS produced")
    collect.add_argument("--assignment", required=True, help="the assignment these submissions are for")
    collect.set_defaults(run=_collect)

    serve = commands.add_parser("serve", help="the submission service: uploads graded on warm lanes, feedback in seconds")
    serve.add_argument("--host", default=None, help="address to listen on (default: SERVICE['host'], 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default: SERVICE['port'], 8000)")
    serve.add_argument("--lanes", type=int, default=None, help="warm lanes per assignment (default: SERVICE['lanes'], "
                       "0 = one per core)")
    serve.add_argument("--scheduler", default=None, help="grade on a Dask cluster at this address")
    serve.add_argument("--paused", action="store_true", help="start with the grading queue held "
                       "(uploads are accepted and queued; resume from the instructor page)")
    serve.add_argument("--debug", action="store_true", help="print tracebacks of grader failures")
    serve.set_defaults(run=_serve)

    formgrader = commands.add_parser("formgrader", help="nbgrader's formgrader on host:port: grade written answers "
                                     "by hand, beside the autograde (make grade first)")
    formgrader.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    formgrader.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    # not under the course lock: `make grade` runs while the instructor grades (SQLite serialises the writes)
    formgrader.set_defaults(run=_formgrader, lock=False)

    tokens = commands.add_parser("tokens", help="sign-in tokens for the roster and the instructor, in grades/tokens.csv")
    tokens.add_argument("--rotate", action="store_true", help="reissue tokens (old links stop working)")
    tokens.add_argument("--student", default=None, help="with --rotate: only this student (or instructor)")
    tokens.set_defaults(run=_tokens)

    return parser


def _error(text: str) -> None:
    for line in str(text).strip().splitlines() or [""]:
        print(f"error: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_mod.load(args.course)
        from autograder.coordinator.lock import course_lock

        command = "python -m autograder " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        if not getattr(args, "lock", True):
            return args.run(args, cfg)
        with course_lock(cfg, command, wait=args.wait):
            return args.run(args, cfg)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("\ninterrupted: reports written before the interrupt are kept; run again to finish", file=sys.stderr)
        return INTERRUPTED
    except config_mod.CourseError as exc:
        if args.debug:
            raise
        # Our errors already name the file or student concerned; a traceback would bury that.
        _error(exc)
        return REFUSED
    except OSError as exc:  # a read-only folder, a full disk: the environment, not a bug
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}; reports written before this are kept")
        return REFUSED
    except Exception as exc:  # noqa: BLE001 - one line for the instructor; --debug has the rest
        if args.debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {str(exc)[:300]} (run again with --debug, "
               "or DEBUG=1 with make, for the traceback)")
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
