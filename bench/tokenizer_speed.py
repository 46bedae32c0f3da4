#!/usr/bin/env python3
"""Tokenizer throughput: `growc-run tokenize` (C++, Oniguruma, --threads 1
and 2) against @huggingface/tokenizers (pure JS, in node; the package
test/Tokenizer/js pins) and, when bench/js is installed (npm ci there),
Hugging Face's Rust library itself (0.22, through the @anush008/tokenizers
Node binding, encodeBatch on 1 and 2 threads), encoding the same documents
into the same llm.c token file, in one run (bench/tokenize.mjs). All
outputs must be identical byte for byte.

Tokenizers: the SmolLM-style tokenizer.json of
test/Tokenizer/Inputs/make_tokenizers.py (386 merges) and the same layout
with --merges merges learnt here from a larger synthetic multilingual
corpus (closer to a real vocabulary), or one tokenizer.json given with
--tokenizer. Documents: --mb MB of seeded synthetic text (English, French,
German, Spanish, Russian, Greek, Chinese, Japanese, Korean, Python code,
numbers, emoji), one JSON line each. Every measurement runs --repeat times,
each a fresh process (cold caches both sides); min and median are reported.

  /usr/bin/python3 bench/tokenizer_speed.py [--mb 20] [--merges 16000] [--repeat 3]
      [--tokenizer tokenizer.json] [--seed 0] [--keep DIR]
"""
import argparse
import collections
import heapq
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "Tokenizer", "Inputs"))
import make_tokenizers  # noqa: E402

BIN = os.path.join(os.environ.get("GROWC_BUILD_DIR", os.path.join(ROOT, "build")), "bin")
JS_PACKAGE = os.path.join(ROOT, "test", "Tokenizer", "js", "node_modules", "@huggingface",
                          "tokenizers")
RUST_PACKAGE = os.path.join(ROOT, "bench", "js", "node_modules", "@anush008", "tokenizers")


def run(cmd, env=None):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), result.stderr))
    return result


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- Synthetic multilingual documents -------------------------------------
#
# Each language has a lexicon: its most common real words first, then words
# made of its syllables; words are drawn with Zipf frequencies (rank^-1), so
# a trained vocabulary holds the frequent words whole and splits rare ones,
# as on real text. Chinese and Japanese have no spaces (the regex then makes
# a whole clause one pre-token, as on real CJK text).

LATIN = {
    "en": ("the of and to in is that for it with as was on be by this are from at or "
           "an have not which but they his her she we you all their there been has",
           "b c d f g h l m n p r s t v w th st ch sh pr tr gr bl cl", "a e i o u ea ou ai ee oo",
           "n r s t nd ng ll ck st rt"),
    "fr": ("le la les de des et un une est que dans pour pas sur au avec il elle nous vous "
           "être été où très après",
           "b c d f g l m n p r s t v ch qu gr tr pl", "a e i o u é è ê à ou eau ai oi ie",
           "n r s t nt x"),
    "de": ("der die das und ist nicht ein eine zu den mit von sich des auf für im dem auch "
           "über größer schön müssen",
           "b d f g h k l m n p r s t w z sch st sp kr", "a e i o u ä ö ü ei ie au eu",
           "n r s t ch ng ß tz nd"),
    "es": ("el la de que y en los se del las un por con no una su para es al lo como más "
           "año señor también",
           "b c d f g l m n p r s t v ll ñ ch br tr", "a e i o u á é í ó ú ue ia io",
           "n r s l d z"),
}
CYRILLIC = ("и в не на я что с он как это по но из его к ты все она так же от мы",
            "б в г д ж з к л м н п р с т ф х ц ч ш щ",
            "а е и о у ы э ю я ё")
GREEK = ("και το η να του τα της με σε για ο που δεν από οι",
         "β γ δ ζ θ κ λ μ ν ξ π ρ σ τ φ χ ψ",
         "α ε η ι ο υ ω ά έ ή ί ό ύ ώ")
EMOJI = ["😀", "👍🏽", "❤️", "🎉", "🚀", "👨‍👩‍👧", "🇫🇷", "✓", "★", "🙂", "🔥", "📈"]
LANGUAGES = [("en", 0.40), ("code", 0.10), ("fr", 0.07), ("de", 0.07), ("es", 0.06),
             ("ru", 0.08), ("el", 0.02), ("zh", 0.09), ("ja", 0.06), ("ko", 0.05)]


def chars(first, last):
    return [chr(c) for c in range(first, last + 1)]


def syllable_words(rnd, common, onsets, nuclei, codas, size):
    words = list(dict.fromkeys(common.split()))
    seen = set(words)
    # Mostly open syllables, mostly short words.
    onsets, nuclei = [""] + onsets.split(), nuclei.split()
    codas = [""] * 3 + codas.split()
    while len(words) < size:
        word = "".join(rnd.choice(onsets) + rnd.choice(nuclei) + rnd.choice(codas)
                       for _ in range(rnd.choice((1, 2, 2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def glyph_words(rnd, common, alphabet, size, lengths):
    words = list(dict.fromkeys(common.split()))
    seen = set(words)
    while len(words) < size:
        word = "".join(rnd.choices(alphabet, k=rnd.choice(lengths)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Corpus:
    """Seeded generator of documents; the same seed gives the same text.
    The lexicons (the "languages") are the same for every seed, so text of
    one seed is held-out text of the language another seed's trained on."""

    def __init__(self, seed, lexicon_size=8000):
        rnd = random.Random(20240520)
        self.lexicons = {}
        for lang, spec in LATIN.items():
            self.lexicons[lang] = syllable_words(rnd, *spec, lexicon_size)
        self.lexicons["ru"] = syllable_words(rnd, *CYRILLIC, "", lexicon_size)
        greek = syllable_words(rnd, *GREEK, "", lexicon_size)
        self.lexicons["el"] = [w[:-1] + "ς" if w.endswith("σ") else w for w in greek]
        hanzi = rnd.sample(chars(0x4E00, 0x9FA5), 3000)
        self.lexicons["zh"] = glyph_words(rnd, "的 是 不 了 在 人 有 我 他 这 个 们 中 来 上",
                                          hanzi, lexicon_size, (1, 2, 2, 2, 3))
        kanji, kana, katakana = hanzi[:1500], chars(0x3041, 0x3093), chars(0x30A1, 0x30F3)
        self.lexicons["ja"] = (
            "の は を に が と で も た する です ます".split() +
            ["".join(rnd.choices(kanji, k=rnd.choice((1, 2)))) +
             "".join(rnd.choices(kana, k=rnd.choice((0, 1, 2, 3))))
             for _ in range(lexicon_size - 800)] +
            ["".join(rnd.choices(katakana, k=rnd.choice((2, 3, 4, 5)))) for _ in range(800)])
        hangul = rnd.sample(chars(0xAC00, 0xD7A3), 1500)
        self.lexicons["ko"] = glyph_words(rnd, "은 는 이 가 을 를 에 의 그 수", hangul,
                                          lexicon_size, (1, 2, 2, 3, 4))
        self.cdf = {}
        for lang, words in self.lexicons.items():
            weights = 1.0 / (np.arange(len(words)) + 2.7)
            self.cdf[lang] = np.cumsum(weights) / weights.sum()
        self.names, weights = zip(*LANGUAGES)
        self.language_weights = weights
        self.rnd = random.Random(seed)
        self.rng = np.random.default_rng(seed)

    def words(self, lang, n):
        lexicon = self.lexicons[lang]
        picks = np.searchsorted(self.cdf[lang], self.rng.random(n))
        return [lexicon[i] for i in picks]

    def number(self):
        rnd = self.rnd
        kind = rnd.randrange(5)
        if kind == 0:
            return str(rnd.randrange(1900, 2030))
        if kind == 1:
            return "%.*f" % (rnd.randrange(1, 5), rnd.random() * 100)
        if kind == 2:
            return "{:,}".format(rnd.randrange(1000, 10 ** 8))
        if kind == 3:
            return "%d%%" % rnd.randrange(101)
        return str(rnd.randrange(1000))

    def sentence(self, lang):
        rnd = self.rnd
        words = self.words(lang, rnd.randrange(4, 24))
        if lang in ("zh", "ja"):
            clauses = ["".join(words[i:i + 6]) for i in range(0, len(words), 6)]
            comma = "，" if lang == "zh" else "、"
            return comma.join(clauses) + ("。" if rnd.random() < 0.9 else "？")
        for i in range(len(words)):
            roll = rnd.random()
            if roll < 0.04:
                words[i] = self.number()
            elif roll < 0.045:
                words[i] = rnd.choice(EMOJI)
            elif roll < 0.09:
                words[i] += ","
        if lang == "en" and rnd.random() < 0.15:
            words.insert(rnd.randrange(len(words)),
                         rnd.choice(["it's", "don't", "they're", "we'll", "I'm", "you've"]))
        words[0] = words[0][:1].upper() + words[0][1:]
        return " ".join(words).rstrip(",") + rnd.choice(".....?!")

    def code(self, lines):
        rnd, out, depth = self.rnd, [], 0
        for _ in range(lines):
            a, b, c, d = self.words("en", 4)
            n = rnd.randrange(1000)
            line = rnd.choice([
                "def %s_%s(%s, %s):" % (a, b, c, d), "%s = %s.%s(%s)" % (a, b, c, d),
                "if %s > %d:" % (a, n), "return %s + %s * %d" % (a, b, n),
                "# %s %s %s %s" % (a, b, c, d), "for %s in range(%d):" % (a, n),
                "%s[%d] = \"%s %s\"" % (a, n, c, d), "import %s" % a, ""])
            out.append("    " * depth + line if line else "")
            if line.endswith(":"):
                depth = min(depth + 1, 4)
            elif rnd.random() < 0.3:
                depth = max(depth - 1, 0)
        return "\n".join(out) + "\n"

    def document(self):
        """One document in one language (or code), of a log-normal size
        (median about 2 KB, at most 60 KB)."""
        rnd = self.rnd
        size = min(int(rnd.lognormvariate(7.6, 1.0)), 60000) + 50
        lang = rnd.choices(self.names, self.language_weights)[0]
        if lang == "code":
            text = ""
            while len(text) < size:
                text += self.code(rnd.randrange(5, 40)) + "\n"
            return text
        paragraphs, length = [], 0
        while length < size:
            paragraph = ("" if lang in ("zh", "ja") else " ").join(
                self.sentence(lang) for _ in range(rnd.randrange(1, 8)))
            paragraphs.append(paragraph)
            length += len(paragraph.encode())
        return "\n\n".join(paragraphs)


def write_documents(path, seed, megabytes):
    """Writes documents until megabytes of UTF-8 text; returns (count, bytes)."""
    corpus = Corpus(seed)
    count = total = 0
    with open(path, "w", encoding="utf-8") as f:
        while total < megabytes * 1e6:
            text = corpus.document()
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            count += 1
            total += len(text.encode())
    return count, total


# --- A larger vocabulary ----------------------------------------------------


def tie(pair):
    """make_tokenizers.train's order among pairs of equal count: the merged
    text of smaller code points first, a longer one before its prefix."""
    return tuple(map(ord, pair[0] + pair[1])) + (sys.maxunicode + 1,)


def train(word_counts, merges_wanted):
    """Byte-level BPE training as make_tokenizers.train (the most frequent
    pair first, until no pair occurs twice; the same merges on its corpus),
    but incremental: pair counts are updated only in the words a merge
    touches, and a heap with stale entries skipped finds the best pair, so
    thousands of merges take seconds, not hours."""
    words = [list(w) for w in word_counts]
    counts = list(word_counts.values())
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    ties = {}
    for index, (word, n) in enumerate(zip(words, counts)):
        for pair in zip(word, word[1:]):
            pairs[pair] += n
            where[pair].add(index)
    heap = [(-n, ties.setdefault(pair, tie(pair)), pair) for pair, n in pairs.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < merges_wanted:
        negative, _, pair = heapq.heappop(heap)
        if pairs.get(pair, 0) != -negative:
            continue  # stale: the count changed and was pushed again
        if -negative < 2:
            break
        merges.append(pair)
        a, b = pair
        changed = set()
        for index in where.pop(pair):
            word, n = words[index], counts[index]
            out = []
            for symbol in word:
                # Left to right; a symbol just merged is a + b, never a.
                if out and symbol == b and out[-1] == a:
                    out[-1] = a + b
                else:
                    out.append(symbol)
            words[index] = out
            # Only the pairs around a merge change.
            old = collections.Counter(zip(word, word[1:]))
            new = collections.Counter(zip(out, out[1:]))
            for p in old.keys() | new.keys():
                delta = new[p] - old[p]
                if delta:
                    pairs[p] += delta * n
                    changed.add(p)
                    if new[p]:
                        where[p].add(index)
                    else:
                        where[p].discard(index)
        for p in changed:
            if pairs[p] > 0:
                if p not in ties:
                    ties[p] = tie(p)
                heapq.heappush(heap, (-pairs[p], ties[p], p))
            else:
                pairs.pop(p)
                where.pop(p, None)
    return merges


def larger_smollm(smollm_path, out_path, merges_wanted, seed):
    """The SmolLM-style tokenizer.json of make_tokenizers with merges_wanted
    merges learnt from 3 MB of the synthetic corpus (another seed than the
    measured documents): its special tokens keep ids 0..6, the added tokens
    after the vocabulary follow it."""
    corpus = Corpus(seed)
    text = []
    size = 0
    while size < 3e6:
        text.append(corpus.document())
        size += len(text[-1].encode())
    word_counts = collections.Counter(
        tuple(make_tokenizers.BYTE_CHAR[b] for b in w.encode())
        for w in make_tokenizers.WORD.findall("\n\n".join(text)))
    merges = train(word_counts, merges_wanted)
    config = json.load(open(smollm_path, encoding="utf-8"))
    old_size = len(config["model"]["vocab"])
    vocab = make_tokenizers.vocabulary(make_tokenizers.SPECIAL_SMOLLM, merges)
    for token in config["added_tokens"]:
        if token["id"] >= old_size:
            token["id"] += len(vocab) - old_size
    config["model"]["vocab"] = vocab
    config["model"]["merges"] = [list(m) for m in merges]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)
    return len(merges), len(vocab) + len(config["added_tokens"]) - len(
        make_tokenizers.SPECIAL_SMOLLM)


# --- Measurements -------------------------------------------------------------


def separator(tokenizer_path):
    """The separator growc-run tokenize puts before each document (its
    default: <|endoftext|>, else tokenizer_config.json's eos_token): its
    text and id, or (None, -1)."""
    config = json.load(open(tokenizer_path, encoding="utf-8"))
    ids = dict(config["model"]["vocab"])
    ids.update({t["content"]: t["id"] for t in config.get("added_tokens", [])})
    text = "<|endoftext|>"
    if text not in ids:
        beside = os.path.join(os.path.dirname(tokenizer_path), "tokenizer_config.json")
        eos = json.load(open(beside)).get("eos_token") if os.path.exists(beside) else None
        text = eos["content"] if isinstance(eos, dict) else eos
    return (text, ids[text]) if text in ids else (None, -1)


def timed(cmd, env=None):
    """Runs cmd: its result, wall seconds and CPU seconds (user + system,
    all its threads: steadier than wall time on a loaded machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = run(cmd, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, wall, cpu


def growc_tokenize(tokenizer, docs, out, threads, sep_text):
    result, wall, cpu = timed([os.path.join(BIN, "growc-run"), "tokenize", "--tokenizer",
                               tokenizer, docs, "-o", out, "--threads", str(threads),
                               "--separator", sep_text if sep_text else "none"])
    err = result.stderr
    # growc-run: tokenize: D documents, N tokens (uint16) from X MB in S s: ...
    last = [l for l in err.splitlines() if "tokenize:" in l and " tokens (uint" in l][-1]
    tokens = int(last.split(" tokens (uint")[0].rsplit(" ", 1)[1])
    inside = float(last.split(" MB in ")[1].split(" s:")[0])
    return {"wall": wall, "cpu": cpu, "inside": inside, "tokens": tokens}


def node_tokenize(node, impl, threads, tokenizer, docs, out, sep_id):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    result, wall, cpu = timed([node, os.path.join(ROOT, "bench", "tokenize.mjs"), impl,
                               tokenizer, docs, str(sep_id), out], env)
    row = json.loads(result.stdout)
    return {"wall": wall, "cpu": cpu, "inside": row["encode_s"], "tokens": row["tokens"],
            "start": row["start_s"], "load": row["load_s"]}


def compare(growc_out, other_out, name, label):
    """The two llm.c files must be identical; says where they differ."""
    a = np.fromfile(growc_out, dtype=np.uint8)
    b = np.fromfile(other_out, dtype=np.uint8)
    if a.size == b.size and np.array_equal(a, b):
        return
    ha, hb = a[:1024].view(np.int32), b[:1024].view(np.int32)
    ta, tb = (x[1024:].view(np.uint32 if h[1] == 2 else np.uint16).astype(np.int64)
              for x, h in ((a, ha), (b, hb)))
    n = min(ta.size, tb.size)
    diff = np.nonzero(ta[:n] != tb[:n])[0]
    first = int(diff[0]) if diff.size else n
    sys.exit("bench: FAIL: %s: growc-run and %s disagree: %d vs %d tokens (headers %s vs "
             "%s), first difference at token %d: growc %s, %s %s"
             % (name, label, ta.size, tb.size, ha[:3].tolist(), hb[:3].tolist(), first,
                ta[max(0, first - 3):first + 5].tolist(), label,
                tb[max(0, first - 3):first + 5].tolist()))


def summary(times):
    return min(times), statistics.median(times)


def load_line():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def bench_one(name, tokenizer, docs, text_mb, a, node, rust, tmp):
    sep_text, sep_id = separator(tokenizer)
    # (label, measure(out path)), measured in this order in every round, so
    # a burst of load on a shared machine hits them alike.
    runs = []
    for threads in (1, 2):
        runs.append(("growc " + plural(threads, "thread"),
                     lambda out, t=threads: growc_tokenize(tokenizer, docs, out, t, sep_text)))
    runs.append(("JS", lambda out: node_tokenize(node, "js", 1, tokenizer, docs, out, sep_id)))
    if rust:
        for threads in (1, 2):
            runs.append(("Rust " + plural(threads, "thread"),
                         lambda out, t=threads: node_tokenize(node, "rust", t, tokenizer, docs,
                                                              out, sep_id)))
    results = collections.OrderedDict((label, []) for label, _ in runs)
    for r in range(a.repeat):
        for i, (label, measure) in enumerate(runs):
            out = os.path.join(tmp, "%s.%d.bin" % (name, i))
            results[label].append(measure(out))
            log("  %s  run %d/%d  %-16s %6.2f s (in process %6.2f s)" % (
                name, r + 1, a.repeat, label, results[label][-1]["wall"],
                results[label][-1]["inside"]))
            if r == 0 and i > 0:
                compare(os.path.join(tmp, "%s.0.bin" % name), out, name, label)
    tokens = {row["tokens"] for rows in results.values() for row in rows}
    if len(tokens) != 1:
        sys.exit("bench: FAIL: %s: token counts differ between runs: %s" % (name, sorted(tokens)))
    tokens = tokens.pop()
    print("%s: %d tokens from %.1f MB of text (%.3f tokens/byte), separator %s; the same "
          "ids from all" % (name, tokens, text_mb, tokens / (text_mb * 1e6), sep_text or "none"))
    print("  %-16s %-40s %-26s %s" % ("", "in process (min / median)",
                                        "whole process (min / median)", "CPU (min)"))
    best = {}
    for label, rows in results.items():
        inside, wall = summary([r["inside"] for r in rows]), summary([r["wall"] for r in rows])
        cpu = min(r["cpu"] for r in rows)
        best[label] = (inside[0], wall[0], cpu)
        print("  %-16s %6.2f / %6.2f s %5.2f MB/s %5.2f M tok/s  %6.2f / %6.2f s %5.2f MB/s  "
              "%6.2f s" % (label, inside[0], inside[1], text_mb / inside[0],
                           tokens / inside[0] / 1e6, wall[0], wall[1], text_mb / wall[0], cpu))
    baselines = [l for l in results if not l.startswith("growc")]
    print("  outside the in-process times: node start-up %.2f s; package load + tokenizer "
          "build %s (min)" % (min(r["start"] for b in baselines for r in results[b]), ", ".join(
              "%s %.2f s" % (b, min(r["load"] for r in results[b])) for b in baselines)))
    for base in baselines:
        for label in ("growc 1 thread", "growc 2 threads"):
            if base.startswith("Rust") and base[5] != label[6]:
                continue  # the Rust library with as many threads only
            print("  %s / %s: %.2fx in process, %.2fx whole process, %.2fx less CPU" % (
                label, base, best[base][0] / best[label][0], best[base][1] / best[label][1],
                best[base][2] / best[label][2]))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", help="a tokenizer.json (or a folder holding one) to "
                    "measure instead of the built ones")
    ap.add_argument("--mb", type=float, default=20, help="MB of text to tokenize")
    ap.add_argument("--merges", type=int, default=16000,
                    help="merges of the larger SmolLM-style tokenizer (0: skip it)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="keep the tokenizers, documents and outputs here")
    a = ap.parse_args()
    node = shutil.which("node")
    if not node or not os.path.isdir(JS_PACKAGE):
        sys.exit("bench: needs node and %s (scripts/setup.sh runs npm ci in "
                 "test/Tokenizer/js)" % JS_PACKAGE)
    tmp = a.keep or tempfile.mkdtemp(prefix="growc-bench-")
    os.makedirs(tmp, exist_ok=True)
    load_before = load_line()

    tokenizers = []
    if a.tokenizer:
        path = a.tokenizer
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        name = os.path.splitext(os.path.basename(path))[0]
        if name == "tokenizer":
            name = os.path.basename(os.path.dirname(os.path.abspath(path)))
        tokenizers.append((name, path))
    else:
        made = os.path.join(tmp, "made")
        run([sys.executable, os.path.join(ROOT, "test", "Tokenizer", "Inputs",
                                          "make_tokenizers.py"), made])
        smollm = os.path.join(made, "smollm.json")
        size = json.load(open(smollm, encoding="utf-8"))
        tokenizers.append(("smollm-%d" % len(size["model"]["merges"]), smollm))
        if a.merges:
            start = time.perf_counter()
            larger = os.path.join(tmp, "smollm-large.json")
            merges, vocab = larger_smollm(smollm, larger, a.merges, a.seed + 1)
            log("trained %d merges (vocabulary %d) in %.1f s" % (
                merges, vocab, time.perf_counter() - start))
            tokenizers.append(("smollm-%d" % merges, larger))

    docs = os.path.join(tmp, "docs.jsonl")
    start = time.perf_counter()
    count, text_bytes = write_documents(docs, a.seed, a.mb)
    log("wrote %d documents, %.1f MB of text (%.1f MB of JSON lines) in %.1f s" % (
        count, text_bytes / 1e6, os.path.getsize(docs) / 1e6, time.perf_counter() - start))

    def version(package):
        return json.load(open(os.path.join(package, "package.json")))["version"]

    rust = os.path.isdir(RUST_PACKAGE)
    print("growc-run tokenize vs JS: @huggingface/tokenizers %s%s (node %s), %d documents, "
          "%d runs each, %d cores" % (
              version(JS_PACKAGE), ", Rust: @anush008/tokenizers %s" % version(RUST_PACKAGE)
              if rust else " (Rust skipped: npm ci in bench/js adds it)",
              run([node, "--version"]).stdout.strip(), count, a.repeat, os.cpu_count()))
    for name, path in tokenizers:
        bench_one(name, path, docs, text_bytes / 1e6, a, node, rust, tmp)
    print("load average (1, 5, 15 min) before: %s, after: %s" % (load_before, load_line()))
    if not a.keep:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
