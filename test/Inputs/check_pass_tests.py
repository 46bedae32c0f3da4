"""Checks that test/ mirrors passes/: every pass declared in
passes/<Group>/Passes.td (`def X : ...Pass<"growc-<name>"...>`) has its
test file test/<Group>/<name>.mlir, and that file runs the pass on its own
cases (`%s -split-input-file`) checked function by function (`-LABEL`).
Prints one line per pass; exits 1 if any falls short.

Usage: check_pass_tests.py SOURCE_ROOT
"""
import glob
import os
import re
import sys

root = sys.argv[1]
# A pass definition's argument: `Pass<"growc-...">` or a class deriving
# from Pass whose first template argument is the argument string.
argument = re.compile(r'^def\s+\w+\s*:\s*\w+<"(growc-[a-z0-9-]+)"', re.M)
missing = 0
for td in sorted(glob.glob(os.path.join(root, "passes", "*", "Passes.td"))):
    group = os.path.basename(os.path.dirname(td))
    # Definitions may break the line before the base class.
    text = re.sub(r"\n\s*:", " :", open(td, encoding="utf-8").read())
    for name in argument.findall(text):
        test = os.path.join("test", group, name[len("growc-"):] + ".mlir")
        path = os.path.join(root, test)
        if not os.path.exists(path):
            print("missing: {} has no test {}".format(name, test))
            missing += 1
        elif not re.search(r"RUN:.*--?" + re.escape(name) + r"\b",
                           open(path, encoding="utf-8").read()):
            print("not run: {} does not run {}".format(test, name))
            missing += 1
        elif not re.search(r"RUN:.*%s --?split-input-file",
                           open(path, encoding="utf-8").read()):
            print("not split: {} has no hand-written cases split with "
                  "-split-input-file".format(test))
            missing += 1
        elif "-LABEL:" not in open(path, encoding="utf-8").read():
            print("no label: {} has no CHECK-LABEL".format(test))
            missing += 1
        else:
            print("ok: {} {}".format(name, test))
sys.exit(1 if missing else 0)
