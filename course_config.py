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
    "speed_repeats": 11,           # interleaved student/reference pairs at least (more only near the
                                   # factor, up to speed_max_pairs); the median pair's ratio counts
    "forward_time_limit_s": 0.5,   # the setup guide's bound on one forward pass
    "similarity": False,           # make grade also runs the similarity check (SIMILARITY below)
}

# The similarity check (make similarity, or make grade with GRADING["similarity"]): code that
# submissions share beyond the release's own code, ranked in grades/<assignment>/similarity.html
# and .csv. Evidence for the instructor; it never changes a grade. Lengths count tokens of
# canonical code (names, operators, numbers: a line is about 10 to 25).
SIMILARITY = {
    "archive": "",                 # earlier terms, in nbgrader's layout: <archive>/<student>/<assignment>/<notebook>;
                                   # relative to this file's folder; "" = none. Compared with this term, not each other.
    "threshold": 0.5,              # a pair at or above this similarity is flagged
    "top": 25,                     # pairs shown side by side in similarity.html
    "min_similarity": 0.2,         # pairs below are left out of similarity.csv
    "min_match_tokens": 100,       # a pair matching fewer tokens (about five lines) counts in proportion
    "noise_tokens": 12,            # a match shorter than this is ignored
    "guarantee_tokens": 20,        # a match at least this long is always found
    "common_share": 0.5,           # code in more than this share of the submissions is an idiom, left out
}

# Due dates per assignment (UTC). A submission's time comes from nbgrader's timestamp.txt in
# submitted/<student>/<assignment>/, or from the notebook file's modification time.
DUE = {
    "day41_transformer": "2026-11-28 23:59:00 UTC",
    "day42_attention": "2026-12-05 23:59:00 UTC",
}

LATE_POLICY = {
    "kind": "percent_per_day",     # none | zero | percent_per_day
    "percent_per_day": 10.0,       # of the points earned, per started day late
    "cap_percent": 50.0,
    "grace_minutes": 15.0,
}

# LMS bulk downloads (make collect ZIP=... ASSIGNMENT=...): file names like
# lastname_firstname_12345_678_transformer.ipynb; lms_id is looked up in the roster CSV.
COLLECT = {
    "pattern": r"^(?P<last>[^_]+)_(?P<first>[^_]+)_(?P<lms_id>\d+)_\d+_(?P<file>.+)$",
    "roster": "roster.csv",
}

# What students may do and see, for `make grade`, the service and the exports alike
# (autograder/coordinator/policy.py). An assignment overrides any key in a [policy] table of its
# hidden/grading.toml. Per-student due dates and extra attempts: the file named by "extensions".
POLICY = {
    "max_attempts": 0,             # accepted attempts per assignment; 0 = no limit
    "max_attempts_per_day": 0,     # per UTC day; 0 = no limit
    "counted": "last",             # the attempt whose score counts: last | best
    "visibility": {},              # test family or test name -> visible | after_due_date | hidden;
                                   # "figures" names the feedback pictures
    "extensions": "extensions.csv",  # student_id,assignment,due,extra_attempts ("*" = every assignment)
}

# The submission service (make serve; make tokens issues the sign-in links).
SERVICE = {
    "host": "127.0.0.1",
    "port": 8000,
    "database": "",                # SQLAlchemy URL; "" = SQLite in service.db; or "postgresql://user@host/db"
    "public_url": "",              # the base of the mailed sign-in links; "" = http://host:port
    "lanes": 0,                    # warm grading lanes per assignment; 0 = one per core
    "max_upload_mb": 20.0,         # larger uploads are refused (413) before their body is read
    "uploads_per_minute": 20,      # per token (429 past it); 0 = no limit
    "requests_per_minute": 1200,   # per token, every request
    "requests_per_minute_per_address": 30000,     # every request from one address
    "failed_signins_per_minute_per_address": 60,  # requests without a valid token, from one address
    "secure_cookies": False,       # True when served behind HTTPS
}
