"""`python -m autograder <command>`: the single entry point; each command dispatches to one stage."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import config as config_mod


def _release(args, cfg) -> int:
    from autograder.release import release

    for result in release(cfg, args.assignment):
        print(f"released {result.assignment_id}: {len(result.release_files)} student files in "
              f"{cfg.release_dir.name}/{result.assignment_id}, {len(result.solution_files)} in "
              f"{cfg.solution_dir.name}/{result.assignment_id}")
    return 0


def _grade(args, cfg) -> int:
    from autograder.coordinator.grade import grade

    grade(cfg, args.assignment, force=args.force, lanes=args.lanes, quiet=args.quiet, scheduler=args.scheduler)
    return 0


def _similarity(args, cfg) -> int:
    from autograder.coordinator.similarity import run

    run(cfg, args.assignment, quiet=args.quiet)
    return 0


def _export(args, cfg) -> int:
    from autograder.coordinator.export import export

    written = export(cfg)
    print(f"wrote {len(written)} files: Gradescope results.json per submission in grades/<assignment>/gradescope/, "
          "grades/canvas.csv, grades/grades.csv")
    return 0


def _collect(args, cfg) -> int:
    from autograder.coordinator.collect import collect

    result = collect(cfg, Path(args.zip), args.assignment)
    for student, name in result.imported.items():
        print(f"imported {name} -> {cfg.submitted_dir.name}/{student}/{args.assignment}/")
    for name in result.skipped:
        print(f"skipped {name}")
    for name in result.unmatched:
        print(f"UNMATCHED {name}: no student for this name; fix COLLECT['pattern'] or the roster", file=sys.stderr)
    print(f"{len(result.imported)} imported, {len(result.skipped)} skipped, {len(result.unmatched)} unmatched")
    return 1 if result.unmatched else 0


def _serve(args, cfg) -> int:
    from autograder.service.app import serve

    serve(cfg, args.host, args.port, lanes=args.lanes, scheduler=args.scheduler,
          paused=True if args.paused else None, debug=args.debug)
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
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    parser.add_argument("--course", default=None, help="course root holding course_config.py "
                        "(default: this repository)")
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="build release/ and solutions/ with nbgrader")
    release.add_argument("--assignment", default=None, help="only this assignment (default: all)")
    release.set_defaults(run=_release)

    grade = commands.add_parser("grade", help="grade every submission in submitted/ with the hidden tests")
    grade.add_argument("--assignment", default=None, help="only this assignment (default: all)")
    grade.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    grade.add_argument("--lanes", type=int, default=None, help="parallel grading processes "
                       "(default: course_config GRADING['lanes'], 0 = one per core)")
    grade.add_argument("--quiet", action="store_true", help="print nothing but errors")
    grade.add_argument("--scheduler", default=None, help="grade on a Dask cluster at this address "
                       "(tcp://host:8786; default: course_config GRADING['scheduler'], empty = local lanes)")
    grade.set_defaults(run=_grade)

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

    tokens = commands.add_parser("tokens", help="sign-in tokens for the roster and the instructor, in grades/tokens.csv")
    tokens.add_argument("--rotate", action="store_true", help="reissue tokens (old links stop working)")
    tokens.add_argument("--student", default=None, help="with --rotate: only this student (or instructor)")
    tokens.set_defaults(run=_tokens)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_mod.load(args.course)
        return args.run(args, cfg)
    except config_mod.CourseError as exc:
        # Our errors already name the file or student concerned; a traceback would bury that.
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
