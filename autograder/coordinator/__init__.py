"""The coordinator: one process per course run, and the only writer of grades/ and the gradebook.

It holds the course's lock (lock: one run at a time), checks everything that could refuse a run
before writing anything (plan, with preflight for the hidden tests and discover for the
submissions), decides what needs grading (the incremental cache in grade), sends it to lanes
(pool: a local pool, or cluster: Dask) and writes what comes back:
reports, scores.csv and feedback (report), the class dashboard (dashboard), nbgrader's
gradebook (gradebook), the late policy (late), exports (export), LMS imports (collect), and the
similarity check (similarity, with canonical, naming and similarity_report), which parses student
code as data and never changes a grade.

It never runs student code and never imports the sandbox's inside; it reaches lanes only
through judge.tasks (import-linter, .importlinter).
"""
