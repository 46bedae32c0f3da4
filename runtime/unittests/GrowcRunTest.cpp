//===- GrowcRunTest.cpp - Tests for the growc-run command line ------------===//
//
// Runs the built growc-run binary on the toy artifact (ToyModel.h): a
// successful forward run writes the outputs and prints nothing; every
// usage error, bad file and unsupported device is one line on stderr with
// exit status 1 and no output file.
//
//===----------------------------------------------------------------------===//

#include "ToyModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/wait.h>

using namespace growc::rt;
using namespace growc::rt::test;
namespace fs = std::filesystem;

namespace {

struct RunResult {
  int exitCode = -1;
  std::string stdoutText;
  std::string stderrText;
};

/// Single-quotes `s` for the shell.
std::string shellQuote(const std::string &s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class GrowcRunTest : public TempDirTest {
protected:
  RunResult run(const std::vector<std::string> &args) {
    std::string command = shellQuote(GROWC_RUN_PATH);
    for (const std::string &arg : args)
      command += " " + shellQuote(arg);
    command += " >" + shellQuote(file("stdout.txt")) + " 2>" +
               shellQuote(file("stderr.txt"));
    int status = std::system(command.c_str());
    RunResult result;
    if (status != -1 && WIFEXITED(status))
      result.exitCode = WEXITSTATUS(status);
    result.stdoutText = readAll(file("stdout.txt"));
    result.stderrText = readAll(file("stderr.txt"));
    return result;
  }

  /// The toy artifact, weights and tokens [2, 3] in the test directory.
  void writeInputs(const std::vector<int32_t> &tokens = {0, 4, 2, 3, 3, 1},
                   std::vector<int64_t> shape = {kBatch, kSeq}) {
    writeArtifact();
    writeTensors("w.safetensors", weights.tensors());
    writeTensors("t.safetensors", {{"tokens", DType::I32, std::move(shape),
                                    tokens.data(), tokens.size() * 4}});
  }

  std::vector<std::string> forwardArgs() {
    return {
        "forward",  file("fwd.so"),        "--weights", file("w.safetensors"),
        "--tokens", file("t.safetensors"), "--out",     file("o.safetensors")};
  }

  /// The command must fail with exit status 1, a single "growc-run: " line
  /// containing `part` on stderr, and no output file.
  void expectFails(const std::vector<std::string> &args,
                   const std::string &part) {
    RunResult result = run(args);
    EXPECT_EQ(result.exitCode, 1) << result.stderrText;
    EXPECT_EQ(result.stderrText.rfind("growc-run: ", 0), 0u)
        << result.stderrText;
    EXPECT_NE(result.stderrText.find(part), std::string::npos)
        << "stderr '" << result.stderrText << "' lacks '" << part << "'";
    EXPECT_EQ(
        std::count(result.stderrText.begin(), result.stderrText.end(), '\n'), 1)
        << result.stderrText;
    EXPECT_FALSE(fs::exists(file("o.safetensors")));
  }

  ToyWeights weights;
};

TEST_F(GrowcRunTest, ForwardWritesOutputs) {
  std::vector<int32_t> tokens = {0, 4, 2, 3, 3, 1};
  writeInputs(tokens);
  RunResult result = run(forwardArgs());
  ASSERT_EQ(result.exitCode, 0) << result.stderrText;
  EXPECT_EQ(result.stdoutText, "");
  EXPECT_EQ(result.stderrText, "");

  StatusOr<SafetensorsFile> out = SafetensorsFile::open(file("o.safetensors"));
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ(out->tensors().size(), 2u);
  ToyReference ref = toyReference(weights, tokens);
  const TensorView *logits = out->find("logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(logits->dtype, DType::F32);
  EXPECT_EQ(logits->shape, (std::vector<int64_t>{kBatch, kSeq, kVocab}));
  ASSERT_EQ(logits->byteSize, ref.logits.size() * 4);
  std::vector<float> values(ref.logits.size());
  std::memcpy(values.data(), logits->data, logits->byteSize);
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(values[i], ref.logits[i], 1e-5f) << "logits[" << i << "]";
  const TensorView *hidden = out->find("hidden");
  ASSERT_NE(hidden, nullptr);
  EXPECT_EQ(hidden->shape, (std::vector<int64_t>{kBatch, kSeq, kDim}));
}

TEST_F(GrowcRunTest, ForwardWithFewerTokensAndOtherSpellings) {
  // The plan itself as ART, --opt=value, --device=cpu, and a tokens file
  // whose only tensor has another name.
  std::vector<int32_t> tokens = {3, 1};
  writeArtifact();
  writeTensors("w.safetensors", weights.tensors());
  writeTensors("t.safetensors",
               {{"input_ids", DType::I32, {1, 2}, tokens.data(), 8}});
  RunResult result =
      run({"forward", "--device=cpu", "--weights=" + file("w.safetensors"),
           file("fwd.plan.json"), "--tokens", file("t.safetensors"),
           "--out=" + file("o.safetensors")});
  ASSERT_EQ(result.exitCode, 0) << result.stderrText;
  StatusOr<SafetensorsFile> out = SafetensorsFile::open(file("o.safetensors"));
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const TensorView *logits = out->find("logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(logits->shape, (std::vector<int64_t>{1, 2, kVocab}));
}

TEST_F(GrowcRunTest, VerbosePrintsTimings) {
  writeInputs();
  std::vector<std::string> args = forwardArgs();
  args.push_back("--verbose");
  RunResult result = run(args);
  ASSERT_EQ(result.exitCode, 0) << result.stderrText;
  EXPECT_NE(result.stderrText.find("forward graph of model 'toy'"),
            std::string::npos)
      << result.stderrText;
  EXPECT_NE(result.stderrText.find("kernel      2 calls"), std::string::npos)
      << result.stderrText;
  EXPECT_NE(result.stderrText.find("gemm        1 calls"), std::string::npos)
      << result.stderrText;
  EXPECT_NE(result.stderrText.find("wrote logits F32 [2, 3, 5]"),
            std::string::npos)
      << result.stderrText;
}

TEST_F(GrowcRunTest, Help) {
  for (const char *flag : {"--help", "-h"}) {
    RunResult result = run({flag});
    EXPECT_EQ(result.exitCode, 0);
    EXPECT_NE(result.stdoutText.find("Usage: growc-run"), std::string::npos);
  }
  RunResult result = run({"forward", "--help"});
  EXPECT_EQ(result.exitCode, 0);
  EXPECT_NE(result.stdoutText.find("--weights"), std::string::npos);
}

TEST_F(GrowcRunTest, UsageErrors) {
  writeInputs();
  expectFails({}, "missing command");
  expectFails({"frobnicate"}, "unknown command 'frobnicate'");
  expectFails({"--frobnicate"}, "unknown option '--frobnicate'");

  std::vector<std::string> args = forwardArgs();
  args.push_back("--bogus");
  expectFails(args, "unknown option '--bogus'");

  args = forwardArgs();
  args.resize(args.size() - 2); // Drop --out O.
  expectFails(args, "forward: --out is required");

  args = forwardArgs();
  args.push_back("--out");
  expectFails(args, "--out needs a value");

  args = forwardArgs();
  args.push_back("extra");
  expectFails(args, "unexpected argument 'extra'");

  args = forwardArgs();
  args.insert(args.end(), {"--weights", file("w.safetensors")});
  expectFails(args, "--weights is given more than once");

  expectFails({"forward", "--weights", file("w.safetensors")},
              "forward: ART is required");
}

TEST_F(GrowcRunTest, Devices) {
  writeInputs();
  std::vector<std::string> args = forwardArgs();
  args.push_back("--device=cuda");
  expectFails(args, "is a CPU artifact; --device=cuda runs GPU artifacts");
  args = forwardArgs();
  args.push_back("--device=tpu");
  expectFails(args, "bad value 'tpu' for --device: must be cpu or cuda");

  // A GPU artifact: with --device=cpu, an error; without --device, the CUDA
  // executor, which on a machine without a driver (or a binary without
  // CUDA support) says so. LD_LIBRARY_PATH cannot hide an installed
  // driver, so where one exists this only checks that the run failed on
  // the test kernels' fake PTX rather than crashed.
  writeText("fwd.so.plan.json", gpuPlan());
  args = forwardArgs();
  args.push_back("--device=cpu");
  expectFails(args, "is a GPU (nvptx) artifact and cannot run with "
                    "--device=cpu");
#ifdef GROWC_HAVE_CUDA
  expectFails(forwardArgs(), "growc-run: ");
#else
  expectFails(forwardArgs(), "is a GPU (nvptx) artifact, and this growc-run "
                             "was built without the CUDA headers");
#endif
}

TEST_F(GrowcRunTest, BadFiles) {
  writeInputs();
  std::vector<std::string> args = forwardArgs();
  args[1] = file("missing.so");
  expectFails(args, file("missing.so.plan.json") + ": cannot open");

  args = forwardArgs();
  args[3] = file("missing.safetensors");
  expectFails(args, file("missing.safetensors") + ": cannot open");

  args = forwardArgs();
  args[5] = file("missing.safetensors");
  expectFails(args, file("missing.safetensors") + ": cannot open");

  // Weights of another model.
  args = forwardArgs();
  args[3] = file("t.safetensors");
  expectFails(args, "missing parameter");

  // Overwriting an input.
  args = forwardArgs();
  args[7] = file("w.safetensors");
  RunResult result = run(args);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.stderrText.find("would overwrite an input"),
            std::string::npos)
      << result.stderrText;
}

TEST_F(GrowcRunTest, BadTokens) {
  writeInputs({0, 1, 2, 3, 9, 0});
  expectFails(forwardArgs(), file("t.safetensors") +
                                 ": tokens: token 9 at [1, 1] is outside the "
                                 "vocabulary [0, 5)");

  std::vector<int32_t> a = {1}, b = {2};
  writeTensors("t.safetensors", {{"a", DType::I32, {1, 1}, a.data(), 4},
                                 {"b", DType::I32, {1, 1}, b.data(), 4}});
  expectFails(forwardArgs(), "no tensor named 'tokens' (it has 'a', 'b')");
}

} // namespace
