"""Checks the emulated GPU's memory report (gpu-memory-profile.test).

growc-run --profile-json's "emulated_memory" must list every kernel the
plan launches, with launches and global bytes; the attention and optimizer
library kernels must be there too; and the report the fake driver wrote at
exit (GROWC_FAKE_CUDA_PROFILE) must hold the same counts, since counting
ran only while growc-run profiled.
"""

import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("plan")
parser.add_argument("profile")
parser.add_argument("fake")
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
for failure in failures:
    print("check-memory-profile: " + failure)
print(f"check-memory-profile: {len(measured)} kernels, "
      f"{len(launched)} of them the plan's: {'ok' if not failures else 'FAILED'}")
sys.exit(1 if failures else 0)
