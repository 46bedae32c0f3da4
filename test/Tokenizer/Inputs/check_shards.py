"""Checks the llm.c token files of `growc-run tokenize` against the ids its
--print shows for the same documents: the header (magic 20240520, version 1
for uint16 or 2 for uint32 tokens, the token count), every document after
the separator, shards of exactly N tokens but the last.

  check_shards.py PRINTED.jsonl SEPARATOR VERSION SHARD_TOKENS FILE...
"""
import json
import struct
import sys


def main():
    printed, separator, version, shard_tokens = sys.argv[1:5]
    separator, version, shard_tokens = (int(separator), int(version),
                                        int(shard_tokens))
    expected = []
    with open(printed, encoding="utf-8") as f:
        for line in f:
            expected += [separator] + json.loads(line)["ids"]
    tokens = []
    files = sys.argv[5:]
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        header = struct.unpack("<256i", data[:1024])
        assert header[0] == 20240520, (path, header[0])
        assert header[1] == version, (path, header[1])
        width = 2 if version == 1 else 4
        count = header[2]
        assert len(data) == 1024 + width * count, (path, len(data), count)
        if shard_tokens and i + 1 < len(files):
            assert count == shard_tokens, (path, count)
        tokens += struct.unpack("<%d%s" % (count, "H" if width == 2 else "I"),
                                data[1024:])
    assert tokens == expected, (len(tokens), len(expected))
    print("%d files, %d tokens as printed" % (len(files), len(tokens)))


if __name__ == "__main__":
    main()
