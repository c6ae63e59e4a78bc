#!/usr/bin/env python3
"""Copies the golden snapshots into docs/dashboard.md: every code block that follows a
`<!-- golden: tests/tui/golden/NAME.txt -->` line gets that file's text. Run it after
regenerating the goldens (see tests/tui/test_dash.c), then read the diff."""
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
doc = os.path.join(root, "docs", "dashboard.md")
text = open(doc).read()


def fill(m):
    golden = open(os.path.join(root, m.group(1))).read().rstrip("\n")
    return "<!-- golden: %s -->\n```\n%s\n```" % (m.group(1), golden)


new, n = re.subn(r"<!-- golden: (\S+) -->\n```\n.*?\n```", fill, text, flags=re.S)
if new != text:
    open(doc, "w").write(new)
print("docs/dashboard.md: %d screens, %s" % (n, "updated" if new != text else "unchanged"))
sys.exit(0)
