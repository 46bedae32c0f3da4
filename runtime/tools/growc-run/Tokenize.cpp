//===- Tokenize.cpp - growc-run tokenize ----------------------------------===//
//
//   growc-run tokenize --tokenizer T IN.txt|IN.jsonl... -o OUT.bin
//       [--field text] [--separator TOKEN|none] [--shard-tokens N]
//   growc-run tokenize --tokenizer T IN... --print
//
// Text to llm.c token shards, the format `--data tokens:OUT.bin` (and
// llm.c's own train_gpt2) reads: 256 little-endian int32 (magic 20240520,
// version 1 for uint16 tokens or 2 for uint32, chosen by the vocabulary
// size, the token count), then the tokens. Documents are laid out as llm.c's
// fineweb.py lays them out: each one preceded by the document separator
// (<|endoftext|>), so a model sees where one ends and the next begins; with
// --shard-tokens, every shard but the last holds exactly N tokens and a
// document that does not fit continues in the next shard. --print shows the
// ids (and their decoding) of each document instead, one JSON line each.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/runtime/Json.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/ThreadPool.h"
#include "growc/runtime/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

using namespace growc::rt;

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::vector<std::string> inputs;
  std::string out;
  std::string field = "text";
  std::string separator;
  long long shardTokens = 0, threads = 0;
  bool print = false;
};

/// Documents encoded in parallel at a time: enough to keep every thread
/// busy, little next to the tokens held for a shard.
constexpr size_t kBatchBytes = 8 << 20;
constexpr size_t kBatchDocuments = 4096;

/// llm.c's shard header (dev/data/data_common.py), as Data.cpp reads it.
constexpr int32_t kShardMagic = 20240520;
constexpr size_t kHeaderInts = 256;
/// The header's token count is an int32.
constexpr long long kMaxShardTokens = INT32_MAX;

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Collects tokens and writes them as llm.c shards.
class ShardWriter {
public:
  ShardWriter(std::string out, long long shardTokens, bool wide)
      : out(std::move(out)), shardTokens(shardTokens), wide(wide) {}

  Status add(const std::vector<int32_t> &ids) {
    for (int32_t id : ids) {
      tokens.push_back(uint32_t(id));
      if (shardTokens && (long long)tokens.size() == shardTokens)
        if (Status s = flush(); !s.isOk())
          return s;
    }
    if (!shardTokens && (long long)tokens.size() > kMaxShardTokens)
      return Status::error("more than 2^31 - 1 tokens for one llm.c file "
                           "(its header counts them in an int32): use "
                           "--shard-tokens");
    return Status::ok();
  }

  /// Writes what is left (a last, shorter shard; the only file without
  /// --shard-tokens, even when empty).
  Status finish() {
    if (!tokens.empty() || written.empty())
      return flush();
    return Status::ok();
  }

  const std::vector<std::string> &files() const { return written; }

private:
  std::string nextPath() const {
    if (!shardTokens)
      return out;
    // OUT.bin -> OUT_000000.bin, as llm.c names its shards.
    std::string stem =
        endsWith(out, ".bin") ? out.substr(0, out.size() - 4) : out;
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "_%06zu.bin", written.size());
    return stem + suffix;
  }

  Status flush() {
    std::string path = nextPath();
    Status status = writeFileAtomically(path, [&](std::FILE *file) -> Status {
      int32_t header[kHeaderInts] = {};
      header[0] = kShardMagic;
      header[1] = wide ? 2 : 1;
      header[2] = int32_t(tokens.size());
      if (std::fwrite(header, sizeof header, 1, file) != 1)
        return Status::error("cannot write " + path);
      // Little-endian on every host, a block at a time (no second copy of
      // the tokens in memory).
      size_t width = wide ? 4 : 2;
      std::vector<unsigned char> bytes;
      for (size_t first = 0; first < tokens.size(); first += kBlockTokens) {
        size_t count = std::min(kBlockTokens, tokens.size() - first);
        bytes.resize(count * width);
        for (size_t i = 0; i < count; ++i)
          for (size_t b = 0; b < width; ++b)
            bytes[i * width + b] =
                (unsigned char)(tokens[first + i] >> (8 * b));
        if (std::fwrite(bytes.data(), bytes.size(), 1, file) != 1)
          return Status::error("cannot write " + path + ": " +
                               std::strerror(errno));
      }
      return Status::ok();
    });
    if (!status.isOk())
      return status;
    written.push_back(path);
    tokens.clear();
    return Status::ok();
  }

  static constexpr size_t kBlockTokens = 1 << 20;
  std::string out;
  long long shardTokens;
  bool wide;
  std::vector<uint32_t> tokens;
  std::vector<std::string> written;
};

/// Progress over the input bytes: a bar on a terminal, else a plain line
/// every 10% of a large input (what train does for its steps).
class Progress {
public:
  explicit Progress(uint64_t totalBytes)
      : total(totalBytes), terminal(::isatty(2)),
        start(std::chrono::steady_clock::now()), lastDraw(start) {}

  void update(uint64_t bytes, uint64_t tokens) {
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - start).count();
    double fraction = total ? double(bytes) / double(total) : 1.0;
    if (terminal) {
      if (now - lastDraw < std::chrono::milliseconds(200) && bytes < total)
        return;
      lastDraw = now;
      int width = 30, done = int(width * fraction);
      std::fprintf(stderr, "\r[%.*s%*s] %.0f%% %llu tokens %.0f tok/s ", done,
                   "##############################", width - done, "",
                   100 * fraction, (unsigned long long)tokens,
                   seconds > 0 ? double(tokens) / seconds : 0.0);
      drew = true;
    } else if (total >= kPlainLineBytes) {
      int tenth = int(fraction * 10);
      if (tenth > lastTenth && tenth < 10) {
        lastTenth = tenth;
        std::fprintf(stderr,
                     "growc-run: tokenize: %d%% (%llu tokens, %.0f tok/s)\n",
                     tenth * 10, (unsigned long long)tokens,
                     seconds > 0 ? double(tokens) / seconds : 0.0);
      }
    }
  }
  void end() {
    if (drew)
      std::fputc('\n', stderr);
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

private:
  static constexpr uint64_t kPlainLineBytes = 16 << 20;
  uint64_t total;
  bool terminal, drew = false;
  int lastTenth = 0;
  std::chrono::steady_clock::time_point start, lastDraw;
};

int runTokenize(const TokenizeOptions &opts) {
  if (opts.print == !opts.out.empty())
    return fail("tokenize: give either -o OUT.bin or --print");
  if (opts.print && opts.shardTokens)
    return fail("tokenize: --shard-tokens writes shards, not with --print");
  StatusOr<std::unique_ptr<Tokenizer>> loaded = loadTokenizer(opts.tokenizer);
  if (!loaded.isOk())
    return fail("tokenize: " + loaded.status().message());
  const Tokenizer &tokenizer = **loaded;

  std::optional<int32_t> separator;
  if (opts.separator.empty()) {
    separator = tokenizer.documentSeparator();
    if (!separator && !opts.print)
      return fail("tokenize: " + tokenizer.describe() +
                  " has no document separator (<|endoftext|>, or the "
                  "eos_token of a tokenizer_config.json beside it): name "
                  "one with --separator TOKEN, or --separator none");
  } else if (opts.separator != "none") {
    separator = tokenizer.tokenId(opts.separator);
    if (!separator)
      return fail("tokenize: --separator '" + opts.separator +
                  "' is not a token of " + tokenizer.describe());
  }

  uint64_t totalBytes = 0;
  for (const std::string &input : opts.inputs) {
    struct stat info;
    if (::stat(input.c_str(), &info) != 0)
      return fail("tokenize: cannot open " + input + ": " +
                  std::strerror(errno));
    if (S_ISDIR(info.st_mode))
      return fail("tokenize: " + input + " is a directory");
    totalBytes += uint64_t(info.st_size);
  }

  bool wide = tokenizer.vocabSize() > 65536;
  ShardWriter writer(opts.out, opts.shardTokens, wide);
  Progress progress(totalBytes);
  uint64_t doneBytes = 0, tokens = 0, documents = 0;

  // Documents are encoded in batches, in parallel (the tokenizer is
  // thread-safe), and written in their order.
  ThreadPool pool(opts.threads ? int(opts.threads)
                               : ThreadPool::defaultThreads());
  struct Document {
    std::string text, where;
    uint64_t bytesAfter;
  };
  std::vector<Document> batch;
  size_t batchBytes = 0;
  auto flush = [&]() -> Status {
    std::vector<std::vector<int32_t>> encoded(batch.size());
    std::vector<Status> errors(batch.size());
    pool.parallelFor(int64_t(batch.size()), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        StatusOr<std::vector<int32_t>> ids = tokenizer.encode(batch[i].text);
        if (ids.isOk())
          encoded[i] = std::move(*ids);
        else
          errors[i] = ids.status();
      }
    });
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string &where = batch[i].where;
      if (!errors[i].isOk())
        return Status::error(where + ": " + errors[i].message());
      std::vector<int32_t> &ids = encoded[i];
      ++documents;
      if (opts.print) {
        // What a person or a test compares: the ids and their decoding.
        StatusOr<std::string> decoded = tokenizer.decode(ids);
        if (!decoded.isOk())
          return Status::error(where + ": " + decoded.status().message());
        JsonValue line = JsonValue::object(), list = JsonValue::array();
        for (int32_t id : ids)
          list.push(JsonValue::number(id));
        line.set("ids", std::move(list))
            .set("decoded", JsonValue::string(*decoded));
        std::printf("%s\n", toJson(line).c_str());
        continue;
      }
      if (separator)
        ids.insert(ids.begin(), *separator);
      tokens += ids.size();
      if (Status s = writer.add(ids); !s.isOk())
        return s;
      progress.update(batch[i].bytesAfter, tokens);
    }
    batch.clear();
    batchBytes = 0;
    return Status::ok();
  };
  auto document = [&](std::string text, std::string where) -> Status {
    batchBytes += text.size();
    batch.push_back({std::move(text), std::move(where), doneBytes});
    if (batchBytes < kBatchBytes && batch.size() < kBatchDocuments)
      return Status::ok();
    return flush();
  };

  for (const std::string &input : opts.inputs) {
    std::ifstream in(input, std::ios::binary);
    if (!in)
      return fail("tokenize: cannot open " + input + ": " +
                  std::strerror(errno));
    if (endsWith(input, ".jsonl")) {
      // One document per line, in field --field (a Hugging Face dataset
      // saved with to_json, or any JSON lines); blank lines are skipped.
      std::string line;
      for (long long number = 1; std::getline(in, line); ++number) {
        doneBytes += line.size() + 1;
        std::string where = input + ":" + std::to_string(number);
        if (line.find_first_not_of(" \t\r") == std::string::npos)
          continue;
        StatusOr<JsonValue> value = parseJson(line);
        if (!value.isOk())
          return fail("tokenize: " + where + ": " + value.status().message());
        const JsonValue *text =
            value->isObject() ? value->find(opts.field) : nullptr;
        if (!text || !text->isString())
          return fail("tokenize: " + where + ": no string field \"" +
                      opts.field + "\" (--field names another)");
        if (Status s = document(text->asString(), where); !s.isOk())
          return fail("tokenize: " + s.message());
      }
    } else {
      // Any other file is one document.
      std::string text((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      doneBytes += text.size();
      if (Status s = document(std::move(text), input); !s.isOk())
        return fail("tokenize: " + s.message());
    }
    if (in.bad())
      return fail("tokenize: cannot read " + input);
  }
  if (Status s = flush(); !s.isOk())
    return fail("tokenize: " + s.message());
  if (!opts.print)
    if (Status s = writer.finish(); !s.isOk())
      return fail("tokenize: " + s.message());
  progress.end();
  if (opts.print)
    return 0;

  double seconds = progress.seconds();
  const std::vector<std::string> &files = writer.files();
  std::fprintf(stderr,
               "growc-run: tokenize: %llu documents, %llu tokens (uint%d) "
               "from %.1f MB in %.2f s: %.0f tokens/s, %.1f MB/s -> %s%s\n",
               (unsigned long long)documents, (unsigned long long)tokens,
               wide ? 32 : 16, double(totalBytes) / 1e6, seconds,
               seconds > 0 ? double(tokens) / seconds : 0.0,
               seconds > 0 ? double(totalBytes) / 1e6 / seconds : 0.0,
               files.front().c_str(),
               files.size() > 1 ? (" ... " + files.back() + " (" +
                                   std::to_string(files.size()) + " shards)")
                                      .c_str()
                                : "");
  return 0;
}

} // namespace

Command growc::rt::addTokenizeCommand(CLI::App &app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App *command = addCommand(
      app, "tokenize", "Tokenize text into llm.c token shards",
      "Tokenizes text with a Hugging Face tokenizer.json (byte-level BPE)\n"
      "into llm.c's token file format (a 256 x int32 header: magic\n"
      "20240520, version 1 = uint16 tokens or 2 = uint32 when the\n"
      "vocabulary exceeds 65,536, the token count; then the tokens), which\n"
      "--data tokens:OUT.bin reads. A .jsonl input holds one document per\n"
      "line (field --field); any other file is one document. Every\n"
      "document is preceded by the separator (<|endoftext|>, as llm.c's\n"
      "fineweb.py does). --print prints each document's ids and their\n"
      "decoding as JSON lines instead. docs/tokenizer.md.");
  command
      ->add_option("--tokenizer", opts->tokenizer,
                   "tokenizer.json, or the folder holding it")
      ->required();
  command->add_option("IN", opts->inputs, "Text or .jsonl files")->required();
  command->add_option("-o,--out", opts->out,
                      "The token file (with --shard-tokens: OUT_000000.bin, "
                      "OUT_000001.bin, ...)");
  command->add_option("--field", opts->field,
                      "The text field of .jsonl documents (text)");
  command->add_option("--separator", opts->separator,
                      "The token before every document (default: "
                      "<|endoftext|> or the eos_token), or none");
  integerIn(command->add_option("--shard-tokens", opts->shardTokens,
                                "Tokens per shard (one file when absent)"),
            1, kMaxShardTokens);
  integerIn(command->add_option("--threads", opts->threads,
                                "Threads encoding documents (default: "
                                "GROWC_NUM_THREADS, else the cores)"),
            1, 1024);
  addFlag(*command, "--print", opts->print,
          "Print each document's ids and decoding (JSON lines)");
  return {command, [opts] { return runTokenize(*opts); }};
}
