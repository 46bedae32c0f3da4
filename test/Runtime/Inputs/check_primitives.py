"""Checks growc-run sample's JSON lines by solving each prompt independently:
variable assignment by following the statements, induction copy by finding
the copied span. Prints one summary line."""
import json
import re
import sys


def solve_assignments(line, code):
    values = {}
    pattern = r"([a-z]) = ([a-z0-9])" if code else r"([a-z])=([a-z0-9])(?!\?)"
    for lhs, rhs in re.findall(pattern, line):
        values[lhs] = rhs if rhs.isdigit() else values[rhs]
    query = re.search(r"print\(([a-z])\) #$" if code else r"([a-z])=\?$", line)
    return values[query.group(1)]


def solve_induction(line):
    sequence, copied = line.split(" ")
    at = sequence.index(copied)
    assert sequence.find(copied, at + 1) == -1, "ambiguous copy"
    return sequence[at + len(copied)]


def main():
    primitive = sys.argv[1]
    checked = shots = 0
    for raw in sys.stdin:
        example = json.loads(raw)
        lines = example["prompt"].split("\n")
        for line in lines[:-1]:  # solved shots end in their answer
            body, answer = line[:-1], line[-1]
            assert solve(primitive, body) == answer, line
            shots += 1
        assert solve(primitive, lines[-1]) == example["answer"], example
        checked += 1
    print("check-primitives: %d prompts and %d shots solved" % (checked, shots))


def solve(primitive, line):
    if primitive == "induction-copy":
        return solve_induction(line)
    return solve_assignments(line, primitive == "var-assign-code")


if __name__ == "__main__":
    main()
