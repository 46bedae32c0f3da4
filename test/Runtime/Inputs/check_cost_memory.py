"""Checks `growc-run cost --memory-profile` against the report it read.

    check_cost_memory.py PLAN.json FAKE.json COST.json

FAKE.json is the fake driver's memory report (GROWC_FAKE_CUDA_PROFILE) of
the same model at a smaller shape; COST.json the cost model's --json at
the larger one. Recomputed here from the two files alone: which of the
plan's launched generated kernels the report has (by entry point), and for
each its memory factor, max(1, sectors / ideal sectors), divided by the
scalar bandwidth factor (0.8) when less than half of its global bytes
moved by 64/128-bit accesses; the derated kernels (factor > 1) must be
exactly the cost model's, with the same factors, and the counts of
measured, unmeasured and report-only kernels the same.
"""

import json
import sys


def main():
    plan = json.load(open(sys.argv[1]))
    fake = json.load(open(sys.argv[2]))
    cost = json.load(open(sys.argv[3]))
    failed = False

    def check(what, got, expected):
        nonlocal failed
        ok = got == expected if not isinstance(expected, float) else \
            abs(got - expected) <= 1e-9 * abs(expected)
        failed |= not ok
        print(f"{what}: {'ok' if ok else 'MISMATCH'} {got} (expected {expected})")

    report = {}
    for k in fake["kernels"]:
        r = report.setdefault(k["name"], [0, 0, 0, 0])
        r[0] += k["load_bytes"] + k["store_bytes"]
        r[1] += k["bytes_64"] + k["bytes_128"]
        r[2] += k["sectors"]
        r[3] += k["ideal_sectors"]
    launched = {plan["kernels"][s["kernel"]]["symbol"]
                for s in plan["steps"] if s["op"] == "kernel"}
    symbols = {k["symbol"] for k in plan["kernels"]}
    derated = {}
    for name in launched & report.keys():
        nbytes, vector, sectors, ideal = report[name]
        factor = max(1.0, sectors / ideal) if ideal else 1.0
        if nbytes and vector / nbytes < 0.5:
            factor /= 0.8
        if factor > 1:
            derated[name] = factor
    memory = cost["predicted"]["memory_profile"]
    check("measured kernels", memory["measured_kernels"],
          len(launched & report.keys()))
    check("unmeasured kernels", memory["unmeasured_kernels"],
          len(launched - report.keys()))
    check("report-only kernels", memory["profile_only_kernels"],
          len(report.keys() - symbols))
    got = {k["name"]: k["factor"] for k in memory["derated"]}
    check("derated kernels", sorted(got), sorted(derated))
    for name in sorted(derated.keys() & got.keys()):
        check(f"factor {name}", got[name], derated[name])
    print(f"derated: {len(derated)} of {len(launched)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
