"""Compares `growc-run tokenize --print` with the JS reference (encode.mjs)
on the same documents: identical ids, identical decodings, and
decode(encode(x)) == x for every text without a special token (decoding
drops special tokens; a ByteLevel pre-tokenizer with add_prefix_space
puts a space in front of a text that has none, and decoding keeps it).

  compare_ids.py TOKENIZER.json DOCS.jsonl GROWC.jsonl JS.jsonl
"""
import json
import sys


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    tokenizer_path, docs_path, growc_path, js_path = sys.argv[1:]
    with open(tokenizer_path, encoding="utf-8") as f:
        config = json.load(f)
    specials = [t["content"] for t in config["added_tokens"] if t["special"]]
    pre = config["pre_tokenizer"]
    steps = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
    prefix = any(s["type"] == "ByteLevel" and s["add_prefix_space"]
                 for s in steps)
    docs = [d["text"] for d in lines(docs_path)]
    growc, js = lines(growc_path), lines(js_path)
    if not (len(docs) == len(growc) == len(js)):
        sys.exit(f"{len(docs)} texts, {len(growc)} growc lines, "
                 f"{len(js)} js lines")
    failures, tokens, round_trips = 0, 0, 0
    for i, (text, ours, theirs) in enumerate(zip(docs, growc, js)):
        tokens += len(ours["ids"])
        if ours["ids"] != theirs["ids"]:
            failures += 1
            print(f"text {i} {text!r}:\n  growc {ours['ids']}\n"
                  f"  js    {theirs['ids']}")
        elif ours["decoded"] != theirs["decoded"]:
            failures += 1
            print(f"text {i} {text!r}: decoded growc {ours['decoded']!r} "
                  f"js {theirs['decoded']!r}")
        if not any(s in text for s in specials):
            round_trips += 1
            expected = " " + text if prefix and text[:1] not in ("", " ") \
                else text
            if ours["decoded"] != expected:
                failures += 1
                print(f"text {i} {text!r}: decode(encode(x)) = "
                      f"{ours['decoded']!r}")
    if failures:
        sys.exit(f"{failures} mismatches")
    print(f"identical ids for {len(docs)} texts ({tokens} tokens), "
          f"{round_trips} round trips")


if __name__ == "__main__":
    main()
