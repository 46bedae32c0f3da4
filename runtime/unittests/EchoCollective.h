//===- EchoCollective.h - A two-rank collective for tests -------*- C++ -*-===//
//
// Test infrastructure: rank 0 of two ranks whose other rank always holds
// the same values, so a sum doubles them and a mean leaves them. The
// executors' all_reduce tests derive from it (host memory for the CPU,
// device memory through the fake driver for the GPU).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_UNITTESTS_ECHOCOLLECTIVE_H
#define GROWC_RUNTIME_UNITTESTS_ECHOCOLLECTIVE_H

#include "growc/runtime/Collective.h"

namespace growc::rt::test {

class EchoCollectiveBase : public Collective {
public:
  const char *engine() const override { return "echo"; }
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int localRank() const override { return 0; }
  int localSize() const override { return 2; }
  Status broadcast(void *, int64_t, int) override { return Status::ok(); }
  Status barrier() override { return Status::ok(); }
};

} // namespace growc::rt::test

#endif // GROWC_RUNTIME_UNITTESTS_ECHOCOLLECTIVE_H
