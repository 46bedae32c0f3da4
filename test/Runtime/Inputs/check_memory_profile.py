"""Checks the emulated GPU's memory report (gpu-memory-profile.test).

growc-run --profile-json's "emulated_memory" must list every kernel the
plan launches, with launches and global bytes; the attention and optimizer
library kernels must be there too; and the report the fake driver wrote at
exit (GROWC_FAKE_CUDA_PROFILE) must hold the same counts, since counting
ran only while growc-run profiled. With --min-vector-share and
--max-sector-excess, the generated kernels (every kernel but the
library's growc_*) must move at least that share of their bytes in 64- or
128-bit accesses, and read or write at most that many 32-byte sectors per
ideal sector, each kernel counted at least at its ideal (issue 20's
targets: 0.9 and 1.2).
"""

import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("plan")
parser.add_argument("profile")
parser.add_argument("fake")
parser.add_argument("--min-vector-share", type=float)
parser.add_argument("--max-sector-excess", type=float)
args = parser.parse_args()

plan = json.load(open(args.plan))
profile = json.load(open(args.profile))
fake = json.load(open(args.fake))

measured = {k["kernel"]: k for k in profile["emulated_memory"]}
failures = []
launched = {plan["kernels"][s["kernel"]]["symbol"]
            for s in plan["steps"] if s["op"] == "kernel"}
for name in sorted(launched - measured.keys()):
    failures.append(f"{name}: launched by the plan, not in the report")
for prefix in ("growc_flash_", "growc_adamw_"):
    if not any(name.startswith(prefix) for name in measured):
        failures.append(f"no {prefix}* kernel in the report")
for name, k in sorted(measured.items()):
    if k["launches"] <= 0 or k["load_bytes"] + k["store_bytes"] <= 0:
        failures.append(f"{name}: no launches or no global bytes: {k}")
    if k["requests"] <= 0 or k["sectors"] < k["requests"]:
        failures.append(f"{name}: requests and sectors do not add up: {k}")
at_exit = {k["name"]: k for k in fake["kernels"]}
if at_exit.keys() != measured.keys():
    failures.append(f"the report at exit lists {sorted(at_exit)}, growc-run "
                    f"{sorted(measured)}")
for name in at_exit.keys() & measured.keys():
    for field, value in at_exit[name].items():
        if field != "name" and measured[name][field] != value:
            failures.append(f"{name}: {field} {value} at exit, "
                            f"{measured[name][field]} in growc-run's report")
generated = [k for name, k in measured.items()
             if not name.startswith("growc_")]
moved = sum(k["load_bytes"] + k["store_bytes"] for k in generated)
share = sum(k["bytes_64"] + k["bytes_128"] for k in generated) / max(moved, 1)
excess = (sum(max(k["sectors"], k["ideal_sectors"]) for k in generated) /
          max(sum(k["ideal_sectors"] for k in generated), 1))
if args.min_vector_share is not None and share < args.min_vector_share:
    failures.append(f"generated kernels: {100 * share:.1f}% of bytes in "
                    f"vector accesses, under {100 * args.min_vector_share}%")
if args.max_sector_excess is not None and excess > args.max_sector_excess:
    failures.append(f"generated kernels: {excess:.3f} sectors per ideal "
                    f"sector, over {args.max_sector_excess}")
for failure in failures:
    print("check-memory-profile: " + failure)
print(f"check-memory-profile: {len(measured)} kernels, "
      f"{len(launched)} of them the plan's: {'ok' if not failures else 'FAILED'}")
sys.exit(1 if failures else 0)
