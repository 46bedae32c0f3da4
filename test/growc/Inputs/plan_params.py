"""Summarises train plans for trainable.test: per plan its GEMM steps and
parameters, which are frozen, and whether any frozen parameter has optimizer
state or a next value (output); optionally whether two plans freeze the
same parameters. Usage: plan_params.py PLAN... [--same A B]"""
import json
import sys


def load(path):
    return json.load(open(path))


def frozen_names(plan):
    return sorted(p["name"] for p in plan["params"] if p.get("frozen"))


def main():
    args = sys.argv[1:]
    same = None
    if "--same" in args:
        i = args.index("--same")
        same, args = args[i + 1:i + 3], args[:i]
    for path in args:
        plan = load(path)
        frozen = frozen_names(plan)
        names = {p["name"] for p in plan["params"]}
        outputs = {o["name"] for o in plan["outputs"]}
        state = [f for f in frozen for kind in ("exp_avg", "exp_avg_sq")
                 if "optimizer.%s.%s" % (kind, f) in names]
        model = [n for n in names if not n.startswith("optimizer.")]
        print("%s: %d gemms, %d of %d parameters frozen, %d moments, "
              "frozen with state %d, frozen written %d" % (
                  path.split("/")[-1], sum(s["op"] == "gemm" for s in plan["steps"]),
                  len(frozen), len(model),
                  sum(n.startswith("optimizer.exp_avg.") for n in names),
                  len(state), len(outputs & set(frozen))))
        print("  frozen: %s" % " ".join(
            sorted({f.split(".")[2] if f.startswith("model.layers.") else f
                    for f in frozen}, key=lambda s: (not s.isdigit(), s))))
    if same:
        print("same frozen set: %s" % (frozen_names(load(same[0])) == frozen_names(load(same[1]))))


if __name__ == "__main__":
    main()
