"""Keeps docs/passes.md, the one table of every pass and pipeline, in step
with the code, so that a pass, its test and its place in the pipeline are
two lookups away (grep the name in the table, open the file):

- every pass declared in passes/<Group>/Passes.td and every pipeline
  registered in lib/Pipelines/Registration.cpp has a row;
- a pass's source file defines it (GEN_PASS_DEF_<DEF>) and its test file
  runs it; a pipeline's source file defines its build function and its
  test file exists;
- every file named under "where it runs" exists and adds the pass
  (create<Def>( or its argument) or calls the pipeline's build function,
  and every lib/Pipelines/*.cpp that adds a pass is named in its row (so
  a pass moved into a pipeline cannot stay documented as opt-in).

Prints "ok: NAME" per row and "error: ..." per problem; exits 1 on any.

Usage: check_passes_doc.py SOURCE_ROOT [DOC]   (DOC: docs/passes.md)
"""
import glob
import os
import re
import sys

root = sys.argv[1]
doc = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "docs",
                                                         "passes.md")
errors = []


def read(rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


# Passes: `def Name : Base<"growc-...">`, the base class possibly on the
# next line (as test/Inputs/check_pass_tests.py reads them).
passes = {}
pass_def = re.compile(r'^def\s+(\w+)\s*:\s*\w+<"(growc-[a-z0-9-]+)"', re.M)
for td in sorted(glob.glob(os.path.join(root, "passes", "*", "Passes.td"))):
    text = re.sub(r"\n\s*:", " :", open(td, encoding="utf-8").read())
    for definition, argument in pass_def.findall(text):
        passes[argument] = definition
registration = "lib/Pipelines/Registration.cpp"
pipelines = set(re.findall(r'"(growc-[a-z0-9-]+-pipeline)"', read(registration)))
if not passes or not pipelines:
    sys.exit("error: found no passes or no pipelines under " + root)

# The table's rows: | `name` | summary | source | test | where it runs |
rows = {}
for line in open(doc, encoding="utf-8"):
    match = re.match(r"\|\s*`(growc-[a-z0-9-]+)`\s*\|", line)
    if not match:
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 5:
        errors.append("row of {} has {} cells, not 5".format(match.group(1),
                                                              len(cells)))
        continue
    rows[match.group(1)] = cells


def paths(cell):
    return [p for p in re.findall(r"`([^`\s]+)`", cell) if "/" in p]


for name in sorted(set(passes) | pipelines):
    if name not in rows:
        errors.append("{} is not in {}".format(name, os.path.basename(doc)))
for name in sorted(set(rows) - set(passes) - pipelines):
    errors.append("{} is documented but neither a pass in passes/*/Passes.td "
                  "nor a pipeline in {}".format(name, registration))

for name, (_, summary, source, test, where) in sorted(rows.items()):
    if name not in passes and name not in pipelines:
        continue
    before = len(errors)
    named = paths(source) + paths(test) + paths(where)
    missing = [p for p in named if not os.path.exists(os.path.join(root, p))]
    for p in missing:
        errors.append("{}: {} does not exist".format(name, p))
    if missing or not paths(source) or not paths(test):
        if not missing:
            errors.append("{}: no source or test file named".format(name))
        continue
    source_text, test_text = read(paths(source)[0]), read(paths(test)[0])
    if name in passes:
        definition = passes[name]
        if "GEN_PASS_DEF_" + definition.upper() not in source_text:
            errors.append("{}: {} does not define it (GEN_PASS_DEF_{})".format(
                name, paths(source)[0], definition.upper()))
        if not re.search(r"RUN:.*" + re.escape(name) + r"\b", test_text):
            errors.append("{}: {} does not run it".format(name,
                                                          paths(test)[0]))
        # What adds the pass: its create function, or its argument in a
        # textual pipeline.
        mentions = ("create" + definition + "(", name)
    else:
        builders = re.findall(r"`(build\w+)`", source)
        if len(builders) != 1 or \
                "growc::" + builders[0] + "(" not in source_text:
            errors.append("{}: {} does not define the build function the row "
                          "names".format(name, paths(source)[0]))
            continue
        mentions = (builders[0] + "(",)
    if not where or (not paths(where) and not where.startswith("opt-in")):
        errors.append("{}: 'where it runs' names no file and is not "
                      "opt-in".format(name))
    for p in paths(where):
        if not any(m in read(p) for m in mentions):
            errors.append("{}: {} (where it runs) does not add it".format(
                name, p))
    if name in passes:
        for pipeline in sorted(glob.glob(os.path.join(root, "lib", "Pipelines",
                                                      "*.cpp"))):
            rel = os.path.relpath(pipeline, root)
            if mentions[0] in read(rel) and rel not in paths(where):
                errors.append("{}: {} adds it but its row does not say "
                              "so".format(name, rel))
    if len(errors) == before:
        print("ok: " + name)

for error in errors:
    print("error: " + error)
sys.exit(1 if errors else 0)
