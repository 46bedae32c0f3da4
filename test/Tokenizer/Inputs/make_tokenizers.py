"""Builds the tokenizers and texts of test/Tokenizer/compare-js.test.

A tiny byte-level BPE trainer learns merges from a multilingual corpus (the
way Hugging Face's BpeTrainer does: the most frequent adjacent pair of a
word-count table merged first, ties to the smaller pair), and four
tokenizer.json files are written around the merges, one per family member
growc supports:

  gpt2     ByteLevel(add_prefix_space=false) with the GPT-2 regex, merges as
           "a b" strings, <|endoftext|> last (a normalized special token)
  smollm   Sequence[Digits(individual_digits=true), ByteLevel], merges as
           [a, b] pairs, special tokens at ids 0.. (<|endoftext|>,
           <|im_start|>, <|im_end|>, ...), a non-special added token, an
           lstrip/rstrip one and <|im, a prefix of <|im_start|>
  llama3   Split(the Llama 3 regex, Isolated) + ByteLevel(use_regex=false),
           ignore_merges with whole words in the vocabulary that no merge
           makes, <|begin_of_text|>/<|end_of_text|> after the vocabulary
  prefix   the gpt2 one with add_prefix_space=true
  wide     the gpt2 one with 70,000 tokens (llm.c files of uint32 tokens)

and docs.jsonl holds the texts: ASCII, digits, contractions, runs of spaces,
newlines and tabs, accented letters, CJK, emoji, special tokens inside the
text, and the empty text.

  make_tokenizers.py OUT_DIR
"""
import collections
import json
import os
import re
import sys

CORPUS = """\
The quick brown fox jumps over the lazy dog. It's the dog's bone; they're
sure we'll see what you've done, and I'd say I'm glad. Numbers: 2024, 3.14159,
1,000,000 and 42 apples for 7 people. The the the, then there, their theory.
Café, naïve résumé, Ångström, über, façade, Crème brûlée à la carte.
日本語のテキストを分割します。中文的句子也在这里。한국어 문장입니다.
Ελληνικά κείμενα και русский текст тоже здесь. Emoji 😀👍🏽 and ✓ ✗ ★.
def main(): return x + y * 2  # code with    spaces
    indented line\twith\ttabs
Growing transformers grows depth; growth stages grow layers.
"""

SPECIAL_SMOLLM = ["<|endoftext|>", "<|im_start|>", "<|im_end|>",
                  "<repo_name>", "<reponame>", "<file_sep>", "<filename>"]

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "",
    " ",
    "   leading and trailing spaces   ",
    "a  b   c    d\t\te",
    "line one\nline two\n\nline four\r\nwindows\n",
    "\n\n\t \n",
    "It's they're we've I'm you'll he'd DON'T SHE'S I'M",
    "Numbers 12345 and 3.14159, 1,000,000 and 007 and 2024-12-07",
    "x=1+2*3; y = f(x) // 42",
    "Café naïve résumé Ångström façade crème brûlée",
    "e\u0301 combining accents and \u00a0non-breaking\u00a0space",
    "日本語のテキストを分割します。",
    "中文的句子也在这里。한국어 문장입니다",
    "Ελληνικά και русский текст",
    "Emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷 ✓ ★",
    "Hello<|endoftext|>World",
    "<|endoftext|>",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
    "text <mask> more <mask>text",
    "<|begin_of_text|>Llama text<|end_of_text|> after",
    "growc growc-growc growcgrowc",
    "the tokenizer of compilers has width, Growing tokenizers <|im and <|im_",
    "def main():\n    return x + y * 2  # code\n",
    "The the the, then there, their theory. Growing transformers grows depth.",
    "!!! ??? ... --- *** ((( )))",
    "https://example.com/path?query=1&b=2#frag",
    "tabs\tand\u3000ideographic space",
    "mixed中文English日本語123",
    "a" * 300,
    "🙂" * 40,
]


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) +
          list(range(0xAE, 0x100)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHAR = bytes_to_unicode()
WORD = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|"
                  r"\s+(?!\S)|\s+")


def train(corpus, merges_wanted):
    counts = collections.Counter(
        tuple(BYTE_CHAR[b] for b in w.encode()) for w in WORD.findall(corpus))
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for word, n in counts.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], [-ord(c) for c in
                                                         kv[0][0] + kv[0][1]]))
        if best[1] < 2:
            break
        a, b = best[0]
        merges.append((a, b))
        merged = collections.Counter()
        for word, n in counts.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        counts = merged
    return merges


def added(id_, content, special=True, normalized=False, lstrip=False,
          rstrip=False):
    return {"id": id_, "content": content, "single_word": False,
            "lstrip": lstrip, "rstrip": rstrip, "normalized": normalized,
            "special": special}


def tokenizer(vocab, merges, pre_tokenizer, added_tokens, pairs,
              ignore_merges=False):
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added_tokens, "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                           "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                    "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": ignore_merges,
                  "vocab": vocab,
                  "merges": [list(m) for m in merges] if pairs else
                            [a + " " + b for a, b in merges]},
    }


def byte_level(prefix=False, regex=True):
    return {"type": "ByteLevel", "add_prefix_space": prefix,
            "trim_offsets": True, "use_regex": regex}


def vocabulary(first, merges):
    vocab = {}
    for token in first + [BYTE_CHAR[b] for b in range(256)] + \
            [a + b for a, b in merges]:
        vocab.setdefault(token, len(vocab))
    return vocab


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    merges = train(CORPUS * 3, 400)
    # Llama 3 learns merges on its own pre-tokenization; reusing these is
    # fine for a comparison (any merge list is a valid tokenizer).
    files = {}

    vocab = vocabulary([], merges)
    vocab["<|endoftext|>"] = len(vocab)
    eot = added(vocab["<|endoftext|>"], "<|endoftext|>", normalized=True)
    files["gpt2"] = tokenizer(vocab, merges, byte_level(), [eot], pairs=False)
    files["prefix"] = tokenizer(vocab, merges, byte_level(prefix=True), [eot],
                                pairs=False)
    wide = dict(vocab)
    del wide["<|endoftext|>"]
    while len(wide) < 69999:
        wide["unused%d" % len(wide)] = len(wide)
    wide["<|endoftext|>"] = len(wide)
    files["wide"] = tokenizer(wide, merges, byte_level(),
                              [added(len(wide) - 1, "<|endoftext|>")],
                              pairs=False)

    vocab = vocabulary(SPECIAL_SMOLLM, merges)
    specials = [added(vocab[t], t) for t in SPECIAL_SMOLLM]
    specials.append(added(len(vocab), "growc", special=False,
                          normalized=True))
    specials.append(added(len(vocab) + 1, "<mask>", lstrip=True, rstrip=True))
    # A prefix of <|im_start|>: the longest match wins.
    specials.append(added(len(vocab) + 2, "<|im"))
    files["smollm"] = tokenizer(
        vocab, merges,
        {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level()]},
        specials, pairs=True)

    vocab = vocabulary([], merges)
    # Words no merge makes (the corpus lacks them): only ignore_merges
    # gives them whole.
    for word in ["Ġtokenizer", "Ġcompilers", "Ġwidth", "Growing"]:
        vocab.setdefault(word, len(vocab))
    llama = [added(len(vocab), "<|begin_of_text|>"),
             added(len(vocab) + 1, "<|end_of_text|>")]
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
               r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
    files["llama3"] = tokenizer(
        vocab, merges,
        {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern},
             "behavior": "Isolated", "invert": False},
            byte_level(regex=False)]},
        llama, pairs=True, ignore_merges=True)

    for name, content in files.items():
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(content, f, ensure_ascii=False, indent=1)
    with open(os.path.join(out, "docs.jsonl"), "w") as f:
        for text in TEXTS:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    print("merges", len(merges), "texts", len(TEXTS))


if __name__ == "__main__":
    main()
