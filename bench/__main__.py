"""`python -m bench`: the benchmark's command line (make bench)."""
import argparse
import sys

from autograder.config import CourseError, load
from bench.run import main, memory_scaling


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--course", default=None, help="course root (default: this repository)")
    parser.add_argument("--n", type=int, default=None, help="submissions in the class (default 60; 500 with "
                        "--similarity)")
    parser.add_argument("--no-nbgrader", action="store_true", help="measure ours only")
    parser.add_argument("--scaling", action="store_true", help="only peak memory and time at 50 and at 500")
    parser.add_argument("--no-scaling", action="store_true", help="leave out the 50 and 500 runs")
    parser.add_argument("--no-fidelity", action="store_true", help="leave out the speed-test fidelity runs")
    parser.add_argument("--fidelity", action="store_true", help="only the speed-test fidelity runs")
    parser.add_argument("--similarity", action="store_true", help="only the similarity check (make similarity), "
                        "with copydetect's own detector as the baseline; writes bench/similarity.json")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.course)
        if args.similarity:
            from bench.similarity import measure

            measure(cfg, n=args.n or 500)
        elif args.scaling:
            memory_scaling(cfg)
        elif args.fidelity:
            from bench.fidelity import measure

            measure(cfg)
        else:
            main(cfg, n=args.n or 60, nbgrader=not args.no_nbgrader, scaling=not args.no_scaling,
                 fidelity=not args.no_fidelity)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
