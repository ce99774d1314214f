"""os._exit(0) at the top level: the worker vanishes while loading, before it answers.

Every test is CRASHED (the load is not retried), and the class goes on.
"""

EXPECT = {
    "attacked": ["*"],
    "statuses": ["CRASHED"],
    "keep": [],
}

SOURCE = '''
import os

os._exit(0)
'''
