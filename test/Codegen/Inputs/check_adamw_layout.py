#!/usr/bin/env python3
"""Checks a train plan's adamw step against the layout growc promises
(docs/plan.md, "adamw"): one step; its lists hold one buffer per trained
parameter in the parameters' order, or per group of parameters that lie
back to back in one buffer (fused projections: q|k|v, gate|up), whose
optimizer state shares one buffer per list at the same offsets; each list is one flat region whose
k-th buffer lies D_k = 4 * sum_{j<k} roundUp(n_j, 32) bytes from its start
(128-byte aligned); no other buffer touches a region and regions are
disjoint; the scalars are [1] buffers outside them; the outputs named like
a parameter live in that parameter's buffer and offset (nothing is copied
back).
Mixed precision: each trained parameter's `bf16_copy` is the k-th buffer
of `bf16_params`, a region at half the offsets (D_k / 2) that no other
buffer touches; a frozen parameter a GEMM reads has a copy outside the
lists; no cast kernel reads a parameter (the GEMMs read the copies).
Prints one summary line per plan, or the first violation and exits 1."""
import json
import sys
from math import prod


def fail(path, message):
    print("error: %s: %s" % (path, message))
    sys.exit(1)


def check(path):
    plan = json.load(open(path))
    steps = [s for s in plan["steps"] if s["op"] == "adamw"]
    if len(steps) != 1:
        fail(path, "%d adamw steps" % len(steps))
    step = steps[0]
    buffers = {b["id"]: b for b in plan["buffers"]}
    params = {p["name"]: p for p in plan["params"]}
    trained = [p for p in plan["params"]
               if not p["name"].startswith("optimizer.")
               and not p.get("frozen", False)]
    at = {(p["buffer"], p.get("offset", 0)): p["name"]
          for p in plan["params"]}
    # The trained parameters by buffer, in order; a buffer's parameters
    # back to back from its start.
    groups = []
    for p in trained:
        if groups and groups[-1][0] == p["buffer"]:
            groups[-1][1].append(p)
        else:
            groups.append((p["buffer"], [p]))
    for buffer, members in groups:
        offset = 0
        for p in sorted(members, key=lambda p: p.get("offset", 0)):
            if p.get("offset", 0) != offset:
                fail(path, "%s is not back to back in its buffer" % p["name"])
            offset += 4 * prod(p["shape"])
        if offset != buffers[buffer]["size"]:
            fail(path, "buffer %d is not its parameters' bytes" % buffer)
    expected = {"params": lambda p: p["name"],
                "exp_avg": lambda p: "optimizer.exp_avg." + p["name"],
                "exp_avg_sq": lambda p: "optimizer.exp_avg_sq." + p["name"],
                "grad_sums": lambda p: "optimizer.grad_sum." + p["name"]}
    lists = [k for k in ("params", "exp_avg", "exp_avg_sq", "grad_sums",
                         "grads") if k in step]
    for name in lists:
        if len(step[name]) != len(groups):
            fail(path, "%s has %d buffers for %d buffers of trained "
                 "parameters" % (name, len(step[name]), len(groups)))
        if name in expected:
            for b, (_, members) in zip(step[name], groups):
                for p in members:
                    if at.get((b, p.get("offset", 0))) != expected[name](p):
                        fail(path, "%s is not the trained parameters' %s in "
                             "order, at their offsets" % (name, name))
    copies = [p for p in plan["params"] if "bf16_copy" in p]
    if "bf16_params" in step:
        if len(step["bf16_params"]) != len(groups) or any(
                p.get("bf16_copy") != c
                for c, (_, members) in zip(step["bf16_params"], groups)
                for p in members):
            fail(path, "bf16_params is not the trained parameters' bf16_copy "
                 "in order")
        lists.append("bf16_params")
    elif copies:
        fail(path, "parameters have bf16 copies but the adamw step has no "
             "bf16_params")
    for p in copies:
        if buffers[p["bf16_copy"]]["size"] * 2 != buffers[p["buffer"]]["size"]:
            fail(path, "%s's bf16 copy is not half its size" % p["name"])
    param_buffers = {p["buffer"] for p in plan["params"]}
    for s in plan["steps"]:
        if s["op"] == "kernel" and \
                plan["kernels"][s["kernel"]]["name"].startswith("cast_bf16") \
                and s["args"][0] in param_buffers:
            fail(path, "a cast kernel reads parameter buffer %d"
                 % s["args"][0])
    spans, members = [], set()
    for name in lists:
        ids = step[name]
        scale = 2 if name == "bf16_params" else 1
        start, distance = buffers[ids[0]]["offset"], 0
        if start % 128:
            fail(path, "%s starts at %d, not 128-byte aligned" % (name, start))
        for k, b in enumerate(ids):
            size = buffers[b]["size"]
            if size * scale != buffers[step["params"][k]]["size"]:
                fail(path, "%s #%d is not its parameter's size" % (name, k))
            if buffers[b]["offset"] - start != distance:
                fail(path, "%s #%d at D=%d, expected %d" % (
                    name, k, buffers[b]["offset"] - start, distance))
            last = distance
            distance += 4 // scale * ((size * scale // 4 + 31) // 32 * 32)
            if b in members:
                fail(path, "buffer %d is in two lists" % b)
            members.add(b)
        spans.append((start, start + last + buffers[ids[-1]]["size"], name))
    for b in plan["buffers"]:
        if b["id"] in members:
            continue
        for start, end, name in spans:
            if b["offset"] < end and start < b["offset"] + b["size"]:
                fail(path, "buffer %d overlaps the %s region" % (b["id"], name))
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        if a[1] > b[0]:
            fail(path, "the %s and %s regions overlap" % (a[2], b[2]))
    for name in ("lr", "step", "apply", "loss_nonfinite", "grad_norm",
                 "nonfinite"):
        b = step.get(name, -1)
        if b >= 0 and (buffers[b]["size"] != 4 or b in members):
            fail(path, "%s is not a [1] buffer outside the regions" % name)
    outputs = {o["name"]: (o["buffer"], o.get("offset", 0))
               for o in plan["outputs"]}
    copied = [n for n in outputs if n in params and
              outputs[n] != (params[n]["buffer"], params[n].get("offset", 0))]
    if copied:
        fail(path, "output %s does not share its parameter's buffer"
             % copied[0])
    print("ok: %d trained (%d buffers) of %d params, lists %s, symbols %s, %d next values "
          "in place%s" % (len(trained), len(groups), len(plan["params"]), " ".join(lists),
                          step.get("symbols", "none"),
                          sum(1 for n in outputs if n in params),
                          ", %d bf16 copies (%d frozen)" % (
                              len(copies),
                              sum(1 for p in copies if p.get("frozen")))
                          if copies else ""))


for path in sys.argv[1:]:
    check(path)
