// The baselines of bench/tokenize.py: what `growc-run tokenize --tokenizer
// T DOCS.jsonl -o OUT.bin` does, with another implementation of Hugging
// Face tokenizers: read the JSON lines, encode every document
// (add_special_tokens off), each preceded by the separator id, and write
// llm.c's token file (256 int32 header: magic 20240520, version 1 = uint16
// / 2 = uint32 tokens, the count), so the outputs can be compared byte for
// byte with growc's.
//
//   node bench/tokenize.mjs js|rust TOKENIZER.json DOCS.jsonl SEPARATOR_ID|-1
//       OUT.bin
//
// js: @huggingface/tokenizers, pure JS, one document at a time (the
// package test/Tokenizer/js pins; scripts/setup.sh installs it). rust: the
// Rust library itself through a Node binding (bench/js, optional: npm ci
// there), encodeBatch on batches of documents, on RAYON_NUM_THREADS
// threads.
//
// Prints one JSON line: start_s (node's own start-up until this module
// runs), load_s (loading the package and building the tokenizer),
// encode_s (reading, encoding and writing: the part growc-run's own
// "in N s" covers), documents, tokens. One process per measurement, so the
// tokenizer's word cache starts cold each time, as growc-run's does.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const startS = performance.now() / 1e3;
const [impl, tokenizerPath, docsPath, separatorArg, outPath] =
  process.argv.slice(2);
const separator = Number(separatorArg);
const tokenizerJson = JSON.parse(readFileSync(tokenizerPath, "utf8"));

/// Documents encoded per encodeBatch call: enough for every thread, a
/// bounded number of Encoding objects (ids, offsets, strings) alive.
const kBatchDocuments = 512;

// Each package lives in its own node_modules, not beside this file.
let encodeAll;
if (impl === "js") {
  const { Tokenizer } = createRequire(
    new URL("../test/Tokenizer/js/package.json", import.meta.url),
  )("@huggingface/tokenizers");
  const tokenizer = new Tokenizer(tokenizerJson, {});
  encodeAll = async (texts, emit) => {
    for (const text of texts)
      emit(tokenizer.encode(text, { add_special_tokens: false }).ids);
  };
} else if (impl === "rust") {
  const { Tokenizer } = createRequire(
    new URL("js/package.json", import.meta.url),
  )("@anush008/tokenizers");
  const tokenizer = Tokenizer.fromFile(tokenizerPath);
  encodeAll = async (texts, emit) => {
    for (let i = 0; i < texts.length; i += kBatchDocuments) {
      const encodings = await tokenizer.encodeBatch(
        texts.slice(i, i + kBatchDocuments),
        { addSpecialTokens: false },
      );
      for (const encoding of encodings) emit(encoding.getIds());
    }
  };
} else {
  throw new Error("bench/tokenize.mjs: implementation js or rust, not " + impl);
}
const loadS = performance.now() / 1e3 - startS;

const begin = performance.now();
let ids = new Uint32Array(1 << 20);
let count = 0;
let documents = 0;
const push = (id) => {
  if (count === ids.length) {
    const grown = new Uint32Array(ids.length * 2);
    grown.set(ids);
    ids = grown;
  }
  ids[count++] = id;
};
const texts = [];
for (const line of readFileSync(docsPath, "utf8").split("\n"))
  if (line.trim() !== "") texts.push(JSON.parse(line).text);
await encodeAll(texts, (documentIds) => {
  if (separator >= 0) push(separator);
  for (const id of documentIds) push(id);
  ++documents;
});
// The version follows the vocabulary size (the largest id + 1), as
// growc-run's: uint16 up to 65,536 ids.
let vocabSize = 0;
for (const id of Object.values(tokenizerJson.model.vocab))
  vocabSize = Math.max(vocabSize, id + 1);
for (const added of tokenizerJson.added_tokens ?? [])
  vocabSize = Math.max(vocabSize, added.id + 1);
const wide = vocabSize > 65536;
const header = new Int32Array(256);
header[0] = 20240520;
header[1] = wide ? 2 : 1;
header[2] = count;
const body = wide
  ? ids.subarray(0, count)
  : Uint16Array.from(ids.subarray(0, count));
const file = Buffer.alloc(1024 + body.byteLength);
Buffer.from(header.buffer).copy(file, 0);
Buffer.from(body.buffer, body.byteOffset, body.byteLength).copy(file, 1024);
writeFileSync(outPath, file);
const encodeS = (performance.now() - begin) / 1e3;

process.stdout.write(
  JSON.stringify({
    start_s: startS,
    load_s: loadS,
    encode_s: encodeS,
    documents,
    tokens: count,
  }) + "\n",
);
