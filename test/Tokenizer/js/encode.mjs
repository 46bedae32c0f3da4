// The reference side of test/Tokenizer/compare-js.test: encodes every
// document of a .jsonl file ({"text": ...}) with @huggingface/tokenizers,
// a pure-JS implementation of Hugging Face tokenizers independent of
// growc's C++ one, and prints what `growc-run tokenize --print` prints:
// {"ids": [...], "decoded": "..."} per document (add_special_tokens off,
// special tokens skipped in decoding, no clean-up of spaces, as the Rust
// library's encode/decode).
//
//   node encode.mjs tokenizer.json docs.jsonl
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [tokenizerPath, docsPath] = process.argv.slice(2);
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(tokenizerPath, "utf8")),
  {},
);
const lines = readFileSync(docsPath, "utf8").split("\n");
for (const line of lines) {
  if (line.trim() === "") continue;
  const { text } = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  const decoded =
    ids.length === 0
      ? ""
      : tokenizer.decode(ids, {
          skip_special_tokens: true,
          clean_up_tokenization_spaces: false,
        });
  process.stdout.write(JSON.stringify({ ids, decoded }) + "\n");
}
