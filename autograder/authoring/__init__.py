"""Authoring: what turns an instructor's plain notebook into an nbgrader assignment, and what
tells the instructor how strong its hidden tests are. Runs in the instructor's process (the CLI).

- `markers`: plain-text cell markers (`### BEGIN SOLUTION`, `# TEST name (2 points)`, cell tags)
  become nbgrader's cell metadata, with stable grade ids (used by the release and the judge);
- `scaffold`: `python -m autograder new ID`, a working assignment to start from;
- `mutants`: the AST mutator of `make check` (mutants of the reference's solution regions).

It imports only the shared records (config, cells); never the judge, the sandbox or the
coordinator (.importlinter), so the release and the judge can both use it.
"""
