"""100 MB printed to stdout at import.

The worker's output cap stops it (OUTPUT_LIMIT on every test: the load is not retried), and
none of the flood reaches the report, which stays small.
"""

EXPECT = {
    "attacked": ["*"],
    "statuses": ["OUTPUT_LIMIT"],
    "keep": [],
    "max_report_bytes": 1_000_000,
}

SOURCE = '''
import sys

_line = "x" * (1 << 20) + "\\n"
for _ in range(100):
    print(_line, end="")
sys.stdout.flush()
'''
