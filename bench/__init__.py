"""The benchmark: a tool beside the product, never imported by it (import-linter, .importlinter).

`make bench` (python -m bench) grades one class of Day 41 notebooks, built from the reference by
bench/recipes.py, with our grader and with nbgrader autograde on bench/nbgrader_hidden.py, then
classes of 50 and 500 with ours; it writes bench/results.json.
"""
