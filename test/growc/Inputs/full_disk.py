"""growc on a full disk: an artifact set appears whole or not at all.

    full_disk.py --tmp DIR --limits N -- GROWC ARGS...

Runs `GROWC ARGS...` (with its output paths under DIR/out) once without a
limit, which must succeed: the files it writes are the set. Then, for N
file-size limits from one 512-byte block to just below the largest file of
the set (and just below each file's size), runs it again with writes past
the limit failing (RLIMIT_FSIZE with SIGXFSZ ignored: write() returns
EFBIG, as on a full disk), alternately into an empty directory and into
one holding an older set under the same names. Each run must exit 1 with
exactly one line on stderr, "growc: error: ..." naming a file of the set;
the directory must hold exactly what it held before (nothing at the final
paths, or the old files byte for byte) and no temporaries. Prints one line
per limit and "ok: N limits" at the end; the first violation is an error.

Arguments naming the output directory are written with "@OUT@", replaced by
the directory of each run.

A set may hold folders (growc-run export writes one): files are named by
their path below DIR. --error-prefix is the start of the one error line
("growc-run: export: " for growc-run); --old-set=reference makes the older
set a copy of the set written without a limit (a folder that the command
would replace, such as an earlier export) instead of files of other bytes.
"""

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys


def run(argv, out, blocks=None):
    def limit():
        # After subprocess has restored the default SIGXFSZ: ignored, an
        # oversized write fails with EFBIG instead of killing growc.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (blocks * 512, resource.RLIM_INFINITY))

    args = [a.replace("@OUT@", out) for a in argv]
    return subprocess.run(args, capture_output=True, text=True,
                          preexec_fn=limit if blocks else None)


def listing(directory, below=""):
    """Every entry (hidden ones too) with its bytes, by path below
    `directory`; a folder is an entry too (None), then its own entries."""
    result = {}
    for name in sorted(os.listdir(os.path.join(directory, below))):
        path = os.path.join(below, name)
        if os.path.isdir(os.path.join(directory, path)):
            result[path + "/"] = None
            result.update(listing(directory, path))
            continue
        with open(os.path.join(directory, path), "rb") as f:
            result[path] = f.read()
    return result


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--limits", type=int, default=8)
    parser.add_argument("--error-prefix", default="growc: error: ")
    parser.add_argument("--old-set", choices=["scribble", "reference"], default="scribble")
    parser.add_argument("growc", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    argv = opts.growc[1:] if opts.growc[:1] == ["--"] else opts.growc

    shutil.rmtree(opts.tmp, ignore_errors=True)
    reference = os.path.join(opts.tmp, "reference")
    os.makedirs(reference)
    done = run(argv, reference)
    if done.returncode != 0:
        fail("without a limit growc failed:\n" + done.stderr)
    entries = listing(reference)
    files = {name: data for name, data in entries.items() if data is not None}
    largest = max(len(data) for data in files.values())
    print("set: " + " ".join(sorted(files)))

    # One block, just below each file, and evenly spread up to just below
    # the largest: every limit stops some write of the set.
    top = (largest - 1) // 512
    below = {max(1, (len(data) - 1) // 512) for data in files.values()}
    spread = {1 + (top - 1) * i // (opts.limits - 1)
              for i in range(opts.limits)}
    candidates = sorted({1, top} | below | spread)
    n = min(opts.limits, len(candidates))
    limits = sorted({candidates[round(i * (len(candidates) - 1) / max(1, n - 1))]
                     for i in range(n)})

    for i, blocks in enumerate(limits):
        out = os.path.join(opts.tmp, "limit%d" % blocks)
        os.makedirs(out)
        old_set = i % 2 == 1
        if old_set and opts.old_set == "reference":
            for name, data in entries.items():
                os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
                if data is not None:
                    with open(os.path.join(out, name), "wb") as f:
                        f.write(data)
        elif old_set:
            for name in files:
                os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
                with open(os.path.join(out, name), "w") as f:
                    f.write("an older %s\n" % name)
        before = listing(out)
        result = run(argv, out, blocks)
        lines = result.stderr.splitlines()
        what = "limit %d blocks (%s)" % (
            blocks, "old set" if old_set else "empty directory")
        if result.returncode != 1:
            fail("%s: exit %d, expected 1; stderr:\n%s" %
                 (what, result.returncode, result.stderr))
        if len(lines) != 1 or not lines[0].startswith(opts.error_prefix):
            fail("%s: expected one '%s' line, got:\n%s" %
                 (what, opts.error_prefix.strip(), result.stderr))
        if not any(name in lines[0] for name in files):
            fail("%s: the error names no file of the set: %s" %
                 (what, lines[0]))
        after = listing(out)
        if after != before:
            changed = sorted(set(after) ^ set(before) |
                             {n for n in after if after.get(n) != before.get(n)})
            fail("%s: the directory changed: %s" % (what, ", ".join(changed)))
        print("limit %d: %s" % (blocks, lines[0]))
    print("ok: %d limits" % len(limits))


if __name__ == "__main__":
    main()
