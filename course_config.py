"""The one configuration of this course.

nbgrader reads it through nbgrader_config.py; the autograder reads it once into
`autograder.config.CourseConfig`. Paths are relative to this file's folder.
An unknown key is an error that names it.
"""

COURSE_ID = "dl-pytorch"

# nbgrader's CourseDirectory settings (https://nbgrader.readthedocs.io, "CourseDirectory").
NBGRADER = {
    "source_directory": "assignments",
    "release_directory": "release",
    "solution_directory": "solutions",
    "submitted_directory": "submitted",
    "gradebook": "gradebook.db",  # becomes db_url = sqlite:///<course>/gradebook.db
}

RELEASE = {
    # Grader-only files inside an assignment folder (hidden tests, probes, grading settings):
    # never copied to release/ or solutions/.
    "grader_only": ["hidden"],
}

# Grading defaults for every assignment; an assignment overrides them in hidden/grading.toml.
GRADING = {
    "lanes": 0,                    # parallel grading processes; 0 = one per core
    "skip_tags": ["training", "plot"],
    "cell_timeout_s": 20.0,
    "load_timeout_s": 60.0,
    "probe_timeout_s": 30.0,
    "max_worker_deaths": 3,
    "speed_factor": 5.0,           # student forward may be this many times slower than the reference
    "speed_repeats": 5,
    "forward_time_limit_s": 0.5,   # the setup guide's bound on one forward pass
}
