//===- CollectiveTest.cpp - Collectives and the executor's all_reduce -----===//
//
// The one-process engine, the engine choice from the environment, the tcp
// engine between two real processes (a fork: rank 0 here, rank 1 in the
// child) including its failure paths (nobody there, a rank that dies), and
// the CPU executor's all_reduce steps against a collective that records
// what it is asked. The MPI engine runs under mpirun in the lit tests
// (test/Runtime/train-data-parallel.test).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Collective.h"
#include "growc/runtime/CpuExecutor.h"

#include "EchoCollective.h"
#include "ToyModel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace growc::rt;
using namespace growc::rt::test;

namespace {

//===----------------------------------------------------------------------===//
// Choosing an engine
//===----------------------------------------------------------------------===//

/// Sets environment variables for one test and restores them after.
class ScopedEnv {
public:
  void set(const char *name, const char *value) {
    const char *old = std::getenv(name);
    saved.push_back({name, old ? std::optional<std::string>(old)
                               : std::optional<std::string>()});
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }

private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
};

/// A process started by nobody: no launcher variables.
void clearLauncherEnvironment(ScopedEnv &env) {
  for (const char *name :
       {"GROWC_COLLECTIVE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE",
        "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "GROWC_RENDEZVOUS_TIMEOUT"})
    env.set(name, nullptr);
}

TEST(CollectiveTest, SingleProcessIsTheIdentity) {
  std::unique_ptr<Collective> single = singleProcessCollective();
  EXPECT_STREQ(single->engine(), "single");
  EXPECT_EQ(single->rank(), 0);
  EXPECT_EQ(single->size(), 1);
  std::vector<float> values = {1.5f, -2.0f};
  ASSERT_TRUE(single->allReduce(values.data(), 2, ReduceOp::Mean).isOk());
  EXPECT_EQ(values, (std::vector<float>{1.5f, -2.0f}));
  ASSERT_TRUE(single->broadcast(values.data(), 8, 0).isOk());
  ASSERT_TRUE(single->barrier().isOk());
  EXPECT_TRUE(contains(single->broadcast(values.data(), 8, 1).message(),
                       "root 1 is not a rank"));
  EXPECT_TRUE(
      contains(single->allReduceDevice(0, 1, ReduceOp::Sum, nullptr).message(),
               "device memory needs the nccl engine"));
}

TEST(CollectiveTest, EngineFromTheEnvironment) {
  ScopedEnv env;
  clearLauncherEnvironment(env);
  StatusOr<std::unique_ptr<Collective>> plain = createCollective();
  ASSERT_TRUE(plain.isOk()) << plain.status().message();
  EXPECT_STREQ((*plain)->engine(), "single");

  env.set("GROWC_COLLECTIVE", "bogus");
  auto bogus = createCollective();
  ASSERT_FALSE(bogus.isOk());
  EXPECT_TRUE(
      contains(bogus.status().message(), "unknown collective engine 'bogus'"));
  env.set("GROWC_COLLECTIVE", nullptr);

  auto nccl = createCollective({"nccl"});
  ASSERT_FALSE(nccl.isOk());
  EXPECT_TRUE(contains(nccl.status().message(), "createNcclCollective"));

  // WORLD_SIZE > 1 means the tcp engine, which needs this process's RANK.
  env.set("WORLD_SIZE", "2");
  auto noRank = createCollective();
  ASSERT_FALSE(noRank.isOk());
  EXPECT_TRUE(
      contains(noRank.status().message(), "WORLD_SIZE=2 but RANK is not set"));
  env.set("RANK", "2");
  auto badRank = createCollective();
  ASSERT_FALSE(badRank.isOk());
  EXPECT_TRUE(contains(badRank.status().message(), "RANK='2'"));
  env.set("RANK", "1");
  env.set("MASTER_PORT", "70000");
  auto badPort = createCollective();
  ASSERT_FALSE(badPort.isOk());
  EXPECT_TRUE(contains(badPort.status().message(), "MASTER_PORT='70000'"));
}

TEST(CollectiveTest, RendezvousDefaults) {
  ScopedEnv env;
  clearLauncherEnvironment(env);
  env.set("WORLD_SIZE", "4");
  env.set("RANK", "3");
  StatusOr<Rendezvous> r = rendezvousFromEnvironment(7);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->size, 4);
  EXPECT_EQ(r->rank, 3);
  EXPECT_EQ(r->localSize, 4); // one machine unless told otherwise
  EXPECT_EQ(r->localRank, 3);
  EXPECT_EQ(r->masterAddress, "127.0.0.1");
  EXPECT_EQ(r->masterPort, 29500);
  EXPECT_EQ(r->timeoutSeconds, 7);
  env.set("LOCAL_WORLD_SIZE", "2");
  env.set("GROWC_RENDEZVOUS_TIMEOUT", "0.5");
  r = rendezvousFromEnvironment(7);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->localRank, 1);
  EXPECT_EQ(r->timeoutSeconds, 0.5);
}

//===----------------------------------------------------------------------===//
// The tcp engine between two processes
//===----------------------------------------------------------------------===//

/// A port nobody listens on right now.
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
    return 29517;
  int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

Rendezvous rendezvousOf(int rank, int port, double timeout = 20) {
  Rendezvous r;
  r.rank = rank;
  r.size = 2;
  r.localRank = rank;
  r.localSize = 2;
  r.masterPort = port;
  r.timeoutSeconds = timeout;
  return r;
}

/// Runs `body(rank 1's collective)` in a child process; its exit status is
/// 0 when the body returns true.
pid_t spawnRankOne(int port, const std::function<bool(Collective &)> &body) {
  pid_t child = ::fork();
  if (child == 0) {
    auto engine = createTcpCollective(rendezvousOf(1, port));
    bool ok = engine.isOk() && body(**engine);
    std::_Exit(ok ? 0 : 1);
  }
  return child;
}

int waitFor(pid_t child) {
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// What each rank contributes to the large reduction: spans several of
/// the engine's 4 MiB pieces.
std::vector<float> contribution(int rank) {
  std::vector<float> values(1500000);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = float(i % 1000) * (rank + 1) + 0.25f * rank;
  return values;
}

TEST(CollectiveTest, TcpEngineReducesAndBroadcasts) {
  int port = freePort();
  pid_t child = spawnRankOne(port, [](Collective &c) {
    std::vector<float> big = contribution(1);
    double total[2] = {2.0, 10.0};
    char text[6] = "-----";
    return c.rank() == 1 && c.size() == 2 &&
           c.allReduce(big.data(), int64_t(big.size()), ReduceOp::Mean)
               .isOk() &&
           big[999] == (999.0f * 1 + 999.0f * 2 + 0.25f) * 0.5f &&
           c.allReduce(total, 2, ReduceOp::Sum).isOk() && total[0] == 3.0 &&
           total[1] == 30.0 && c.broadcast(text, 6, 0).isOk() &&
           std::string(text) == "hello" && c.barrier().isOk();
  });
  auto engine = createTcpCollective(rendezvousOf(0, port));
  ASSERT_TRUE(engine.isOk()) << engine.status().message();
  Collective &c = **engine;
  EXPECT_STREQ(c.engine(), "tcp");
  std::vector<float> big = contribution(0);
  ASSERT_TRUE(
      c.allReduce(big.data(), int64_t(big.size()), ReduceOp::Mean).isOk());
  std::vector<float> one = contribution(1), zero = contribution(0);
  for (size_t i = 0; i < big.size(); i += 4099)
    EXPECT_EQ(big[i], (zero[i] + one[i]) * 0.5f) << i;
  EXPECT_EQ(big.back(), (zero.back() + one.back()) * 0.5f);
  double total[2] = {1.0, 20.0};
  ASSERT_TRUE(c.allReduce(total, 2, ReduceOp::Sum).isOk());
  EXPECT_EQ(total[0], 3.0);
  EXPECT_EQ(total[1], 30.0);
  char text[6] = "hello";
  ASSERT_TRUE(c.broadcast(text, 6, 0).isOk());
  ASSERT_TRUE(c.barrier().isOk());
  EXPECT_EQ(waitFor(child), 0);
}

TEST(CollectiveTest, TcpBroadcastFromAnotherRank) {
  int port = freePort();
  pid_t child = spawnRankOne(port, [](Collective &c) {
    uint64_t value = 0x1234;
    return c.broadcast(&value, sizeof value, 1).isOk();
  });
  auto engine = createTcpCollective(rendezvousOf(0, port));
  ASSERT_TRUE(engine.isOk()) << engine.status().message();
  uint64_t value = 0;
  ASSERT_TRUE((*engine)->broadcast(&value, sizeof value, 1).isOk());
  EXPECT_EQ(value, 0x1234u);
  EXPECT_FALSE((*engine)->broadcast(&value, sizeof value, 2).isOk());
  EXPECT_EQ(waitFor(child), 0);
}

TEST(CollectiveTest, TcpRankThatDiesIsAnError) {
  int port = freePort();
  pid_t child = spawnRankOne(port, [](Collective &) { return true; });
  auto engine = createTcpCollective(rendezvousOf(0, port));
  ASSERT_TRUE(engine.isOk()) << engine.status().message();
  EXPECT_EQ(waitFor(child), 0);
  float value = 1;
  Status status = (*engine)->allReduce(&value, 1, ReduceOp::Sum);
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(
      contains(status.message(), "rank 0 lost its connection to rank 1"));
}

TEST(CollectiveTest, TcpRendezvousTimesOut) {
  int port = freePort();
  auto root = createTcpCollective(rendezvousOf(0, port, 0.3));
  ASSERT_FALSE(root.isOk());
  EXPECT_TRUE(contains(root.status().message(), "rank 0 waited"));
  EXPECT_TRUE(contains(root.status().message(), "MASTER_PORT"));
  auto other = createTcpCollective(rendezvousOf(1, port, 0.3));
  ASSERT_FALSE(other.isOk());
  EXPECT_TRUE(contains(other.status().message(),
                       "rank 1 cannot reach rank 0 at 127.0.0.1:"));
}

//===----------------------------------------------------------------------===//
// The CPU executor's all_reduce steps
//===----------------------------------------------------------------------===//

/// Rank 0 of two ranks whose other rank always holds the same values: a
/// sum doubles them, a mean leaves them. Records every call.
class EchoCollective : public EchoCollectiveBase {
public:
  using Collective::allReduce;
  Status allReduce(void *data, int64_t count, ElementType type,
                   ReduceOp op) override {
    calls.push_back(count);
    if (fail)
      return Status::error("the other rank is gone");
    if (type == ElementType::F32 && op == ReduceOp::Sum)
      for (int64_t i = 0; i < count; ++i)
        static_cast<float *>(data)[i] *= 2;
    return Status::ok();
  }

  std::vector<int64_t> calls;
  bool fail = false;
};

class AllReduceStepTest : public TempDirTest {
protected:
  /// The toy plan with an all_reduce of the logits buffer (5) after the
  /// last kernel, gated by the first float of buffer `when`.
  std::unique_ptr<CpuExecutor> load(const std::string &reduction,
                                    int when = -1) {
    std::string plan = replaceOnce(
        kToyPlan, R"({"op": "kernel", "kernel": 1, "args": [4, 5]})",
        R"({"op": "kernel", "kernel": 1, "args": [4, 5]},
           {"op": "all_reduce", "buffers": [5], "reduction": ")" +
            reduction + R"(", "when": )" + std::to_string(when) + "}");
    writeArtifact(plan);
    auto executor = CpuExecutor::load(file("fwd.so"));
    EXPECT_TRUE(executor.isOk()) << executor.status().message();
    return executor.isOk() ? std::move(*executor) : nullptr;
  }
  std::vector<float> logits(CpuExecutor &exec, const ToyWeights &weights) {
    writeTensors("w.safetensors", weights.tensors());
    auto checkpoint = SafetensorsFile::open(file("w.safetensors"));
    EXPECT_TRUE(checkpoint.isOk());
    EXPECT_TRUE(exec.loadParams(*checkpoint).isOk());
    std::vector<int32_t> tokens = {1, 2, 3, 4, 0, 1};
    TensorView view{"tokens",
                    DType::I32,
                    {kBatch, kSeq},
                    reinterpret_cast<const uint8_t *>(tokens.data()),
                    tokens.size() * 4};
    auto outputs = exec.forward(view);
    if (!outputs.isOk()) {
      lastError = outputs.status().message();
      return {};
    }
    const OutputTensor &out = outputs->at("logits");
    return std::vector<float>(out.data, out.data + out.numElements);
  }
  /// The reference logits, times `scale`.
  std::vector<float> reference(const ToyWeights &weights, float scale = 1) {
    std::vector<float> out = toyReference(weights, {1, 2, 3, 4, 0, 1}).logits;
    for (float &x : out)
      x *= scale;
    return out;
  }
  void expectNear(const std::vector<float> &actual,
                  const std::vector<float> &expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i)
      EXPECT_NEAR(actual[i], expected[i], 1e-5f) << i;
  }
  std::string lastError;
};

TEST_F(AllReduceStepTest, ReducesTheBucketThroughTheCollective) {
  auto exec = load("sum");
  ASSERT_TRUE(exec);
  ToyWeights weights;
  // Without a collective, and with a one-process one, nothing happens.
  expectNear(logits(*exec, weights), reference(weights));
  std::unique_ptr<Collective> single = singleProcessCollective();
  exec->setCollective(single.get());
  expectNear(logits(*exec, weights), reference(weights));
  EchoCollective echo;
  exec->setCollective(&echo);
  expectNear(logits(*exec, weights), reference(weights, 2));
  // The whole 128-byte buffer: 32 floats.
  EXPECT_EQ(echo.calls, (std::vector<int64_t>{32}));
  EXPECT_EQ(exec->timings().allReduce.calls, 1);
  echo.fail = true;
  EXPECT_TRUE(logits(*exec, weights).empty());
  EXPECT_TRUE(contains(lastError, "all_reduce step: the other rank is gone"));
}

TEST_F(AllReduceStepTest, FlagGatesTheStep) {
  // Gated by the first embedding weight (buffer 1).
  auto exec = load("sum", 1);
  ASSERT_TRUE(exec);
  EchoCollective echo;
  exec->setCollective(&echo);
  ToyWeights weights;
  weights.embed[0] = 0.0f;
  expectNear(logits(*exec, weights), reference(weights));
  EXPECT_TRUE(echo.calls.empty());
  weights.embed[0] = 1.0f;
  expectNear(logits(*exec, weights), reference(weights, 2));
  EXPECT_EQ(echo.calls.size(), 1u);
}

} // namespace
