"""Declares one output of an analysis-suite variant's plan narrower than it is.

  narrow_output.py SUITE.so VARIANT OUTPUT WIDTH

Finds the variant's plan through the suite's manifest (SUITE.so.analysis.json),
keeps the plan as compiled beside it (PLAN.orig) and rewrites the plan from that
copy with the last dimension of OUTPUT set to WIDTH, so that each call edits the
compiled plan, not the previous edit.
"""
import json
import os
import shutil
import sys

suite, variant, output, width = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
directory = os.path.dirname(suite)
manifest = json.load(open(suite + ".analysis.json"))
plan = os.path.join(directory, [v["plan"] for v in manifest["variants"]
                                if v["name"] == variant][0])
if not os.path.exists(plan + ".orig"):
    shutil.copyfile(plan, plan + ".orig")
data = json.load(open(plan + ".orig"))
edited = [o for o in data["outputs"] if o["name"] == output]
assert edited, f"{plan} has no output {output}"
for o in edited:
    o["shape"][-1] = width
json.dump(data, open(plan, "w"))
