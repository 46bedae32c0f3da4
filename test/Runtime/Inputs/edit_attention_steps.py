"""Writes a copy of a GPU artifact whose plan's attention steps are edited,
for gpu-faults.test's bad plans.

    edit_attention_steps.py ARTIFACT.ptx NAME OP CODE

Copies ARTIFACT.ptx to NAME.ptx beside it and writes NAME.ptx.plan.json:
ARTIFACT's plan naming NAME.ptx as its kernels file, with the Python
statement CODE run on every step whose "op" is OP ("attention" or
"attention_grad"; "kernel" for gpu-faults.test's counter cases), the
step's dict bound to `s` and the plan's to `plan`. The kernels file is
unchanged, so the plan stays bound to it (steps are not part of the
kernels' signature table).
"""

import json
import os
import shutil
import sys

artifact, name, op, code = sys.argv[1:5]
directory = os.path.dirname(artifact)
shutil.copyfile(artifact, os.path.join(directory, name + ".ptx"))
plan = json.load(open(artifact + ".plan.json"))
plan["kernels_file"] = name + ".ptx"
edited = 0
for s in plan["steps"]:
    if s["op"] == op:
        exec(code, {"s": s, "plan": plan})
        edited += 1
if not edited:
    sys.exit("no %s step in %s" % (op, artifact))
json.dump(plan, open(os.path.join(directory, name + ".ptx.plan.json"), "w"))
