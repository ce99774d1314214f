"""An endless loop at the notebook's top level, in a last, untagged cell.

Everything the hidden tests need is defined before it. The right outcome: the per-cell timer
stops that one cell (a load issue with status "timeout") and the rest is graded normally.
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": ["*"],
    "load_issues": ["timeout"],
}

SOURCE = '''
while True:
    pass
'''
