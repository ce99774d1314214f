"""An autograder for deep-learning notebooks: release with nbgrader, judge in a trusted process, run student code in a sandbox."""
