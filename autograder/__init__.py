"""An autograder for deep-learning notebooks; each folder is the process its code runs in.

    coordinator/  the coordinator process (python -m autograder grade): discovery, the cache,
                  lanes, and the only writer of grades/ and the gradebook
    judge/        a trusted grading lane process: hidden tests, the reference, every verdict
    sandbox/      host/ runs in the lane; inside/ is the zygote and the workers, where student
                  code runs
    release.py    the release stage (python -m autograder release), with nbgrader

Shared by the trusted processes: config.py, assignment.py, results.py, notebook.py; shared by
both sides of the sandbox: wire.py and cells.py.
"""

import sys as _sys

# jsonschema (imported by nbformat and nbgrader) builds an Earley parser for RFC 3987 when it is
# imported, 1 to 3 s of every process that reads a notebook, only to check the "iri" string
# formats, which no notebook schema uses. Without that optional module jsonschema has no "iri"
# check and imports in milliseconds.
_sys.modules.setdefault("rfc3987_syntax", None)
