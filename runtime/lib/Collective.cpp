//===- Collective.cpp - single-process, MPI and TCP collectives -----------===//
//
// The host-memory engines of Collective.h and the factory that picks one
// from the environment. The MPI engine is compiled only where CMake found
// MPI (GROWC_HAVE_MPI); the TCP engine needs nothing but POSIX sockets.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Collective.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef GROWC_HAVE_MPI
#include <mpi.h>
#endif

namespace growc::rt {

Collective::~Collective() = default;

Status Collective::allReduceDevice(uint64_t, int64_t, ReduceOp, void *) {
  return Status::error(std::string("the ") + engine() +
                       " collective engine reduces host memory only; device "
                       "memory needs the nccl engine");
}

void Collective::abort(int code) { std::_Exit(code); }

namespace {

size_t elementSize(ElementType type) {
  return type == ElementType::F32 ? sizeof(float) : sizeof(double);
}

/// data[i] *= 1 / ranks, in the element type (Mean after a Sum).
void scaleByRanks(void *data, int64_t count, ElementType type, int ranks) {
  if (type == ElementType::F32) {
    float scale = float(1.0 / double(ranks));
    float *p = static_cast<float *>(data);
    for (int64_t i = 0; i < count; ++i)
      p[i] *= scale;
  } else {
    double scale = 1.0 / double(ranks);
    double *p = static_cast<double *>(data);
    for (int64_t i = 0; i < count; ++i)
      p[i] *= scale;
  }
}

/// An integer environment variable, or `fallback` when unset; an error
/// when set to something else than an integer in [min, max].
StatusOr<long> envInteger(const char *name, long fallback, long min, long max) {
  const char *text = std::getenv(name);
  if (!text || !*text)
    return fallback;
  char *end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || errno || value < min || value > max)
    return Status::error(std::string("environment variable ") + name + "='" +
                         text + "' is not an integer in [" +
                         std::to_string(min) + ", " + std::to_string(max) +
                         "]");
  return value;
}

//===----------------------------------------------------------------------===//
// single
//===----------------------------------------------------------------------===//

class SingleProcess final : public Collective {
public:
  using Collective::allReduce;
  const char *engine() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int localRank() const override { return 0; }
  int localSize() const override { return 1; }
  Status allReduce(void *, int64_t count, ElementType, ReduceOp) override {
    if (count < 0)
      return Status::error("allReduce: negative count");
    return Status::ok();
  }
  Status broadcast(void *, int64_t, int root) override {
    if (root != 0)
      return Status::error("broadcast: root " + std::to_string(root) +
                           " is not a rank of a one-process run");
    return Status::ok();
  }
  Status barrier() override { return Status::ok(); }
};

//===----------------------------------------------------------------------===//
// mpi
//===----------------------------------------------------------------------===//

#ifdef GROWC_HAVE_MPI
class Mpi final : public Collective {
public:
  using Collective::allReduce;
  static StatusOr<std::unique_ptr<Collective>> create() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    bool owns = false;
    if (!initialized) {
      // Only the thread that calls the executor communicates; the
      // executor's worker threads never do.
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
          MPI_SUCCESS)
        return Status::error("MPI_Init_thread failed");
      owns = true;
    }
    // Errors come back as codes (turned into messages) instead of
    // MPI's default of aborting the job without saying where.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    auto engine = std::unique_ptr<Mpi>(new Mpi(owns));
    MPI_Comm_rank(MPI_COMM_WORLD, &engine->rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &engine->size_);
    MPI_Comm local;
    if (Status s = engine->check(MPI_Comm_split_type(MPI_COMM_WORLD,
                                                     MPI_COMM_TYPE_SHARED, 0,
                                                     MPI_INFO_NULL, &local),
                                 "MPI_Comm_split_type");
        !s.isOk())
      return s;
    MPI_Comm_rank(local, &engine->localRank_);
    MPI_Comm_size(local, &engine->localSize_);
    MPI_Comm_free(&local);
    return std::unique_ptr<Collective>(std::move(engine));
  }

  ~Mpi() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_ && !finalized)
      MPI_Finalize();
  }

  const char *engine() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int localRank() const override { return localRank_; }
  int localSize() const override { return localSize_; }

  Status allReduce(void *data, int64_t count, ElementType type,
                   ReduceOp op) override {
    MPI_Datatype datatype = type == ElementType::F32 ? MPI_FLOAT : MPI_DOUBLE;
    // MPI counts are ints.
    constexpr int64_t kChunk = INT_MAX / 2;
    auto *bytes = static_cast<char *>(data);
    for (int64_t begin = 0; begin < count; begin += kChunk) {
      int n = int(std::min(kChunk, count - begin));
      if (Status s = check(MPI_Allreduce(MPI_IN_PLACE,
                                         bytes + begin * elementSize(type), n,
                                         datatype, MPI_SUM, MPI_COMM_WORLD),
                           "MPI_Allreduce");
          !s.isOk())
        return s;
    }
    if (op == ReduceOp::Mean && size_ > 1)
      scaleByRanks(data, count, type, size_);
    return Status::ok();
  }

  Status broadcast(void *data, int64_t bytes, int root) override {
    constexpr int64_t kChunk = INT_MAX / 2;
    auto *p = static_cast<char *>(data);
    for (int64_t begin = 0; begin < bytes; begin += kChunk)
      if (Status s =
              check(MPI_Bcast(p + begin, int(std::min(kChunk, bytes - begin)),
                              MPI_BYTE, root, MPI_COMM_WORLD),
                    "MPI_Bcast");
          !s.isOk())
        return s;
    return Status::ok();
  }

  Status barrier() override {
    return check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

private:
  explicit Mpi(bool owns) : owns_(owns) {}
  Status check(int code, const char *call) const {
    if (code == MPI_SUCCESS)
      return Status::ok();
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
      length = 0;
    return Status::error(std::string(call) + " failed on rank " +
                         std::to_string(rank_) + ": " +
                         (length ? std::string(text, size_t(length))
                                 : "MPI error " + std::to_string(code)));
  }

  bool owns_;
  int rank_ = 0, size_ = 1, localRank_ = 0, localSize_ = 1;
};
#endif

//===----------------------------------------------------------------------===//
// tcp
//===----------------------------------------------------------------------===//

/// The handshake a rank sends rank 0, and rank 0's answer.
constexpr uint32_t kTcpMagic = 0x67726463; // "grdc"
struct Hello {
  uint32_t magic;
  int32_t rank;
  int32_t size;
};

/// Everything through rank 0: each other rank holds one socket to it.
/// Simple and deterministic (rank 0 adds the ranks' values in rank order),
/// at the cost of rank 0's bandwidth: the right engine for control
/// messages, the NCCL bootstrap and small CPU runs; MPI is the engine for
/// large CPU ones.
class Tcp final : public Collective {
public:
  using Collective::allReduce;
  static StatusOr<std::unique_ptr<Collective>> create(const Rendezvous &r);

  ~Tcp() override {
    for (int fd : peers_)
      if (fd >= 0)
        ::close(fd);
  }

  const char *engine() const override { return "tcp"; }
  int rank() const override { return r_.rank; }
  int size() const override { return r_.size; }
  int localRank() const override { return r_.localRank; }
  int localSize() const override { return r_.localSize; }

  Status allReduce(void *data, int64_t count, ElementType type,
                   ReduceOp op) override {
    if (count < 0)
      return Status::error("allReduce: negative count");
    const size_t width = elementSize(type);
    auto *bytes = static_cast<char *>(data);
    // In pieces, so that rank 0 needs one piece of scratch memory.
    const int64_t piece = int64_t(kPieceBytes / width);
    for (int64_t begin = 0; begin < count; begin += piece) {
      int64_t n = std::min(piece, count - begin);
      char *p = bytes + begin * width;
      size_t length = size_t(n) * width;
      if (r_.rank != 0) {
        if (Status s = sendAll(peers_[0], p, length, 0); !s.isOk())
          return s;
        if (Status s = recvAll(peers_[0], p, length, 0); !s.isOk())
          return s;
        continue;
      }
      scratch_.resize(length);
      for (int from = 1; from < r_.size; ++from) {
        if (Status s = recvAll(peers_[from], scratch_.data(), length, from);
            !s.isOk())
          return s;
        if (type == ElementType::F32)
          addInto(reinterpret_cast<float *>(p),
                  reinterpret_cast<const float *>(scratch_.data()), n);
        else
          addInto(reinterpret_cast<double *>(p),
                  reinterpret_cast<const double *>(scratch_.data()), n);
      }
      if (op == ReduceOp::Mean && r_.size > 1)
        scaleByRanks(p, n, type, r_.size);
      for (int to = 1; to < r_.size; ++to)
        if (Status s = sendAll(peers_[to], p, length, to); !s.isOk())
          return s;
    }
    return Status::ok();
  }

  Status broadcast(void *data, int64_t bytes, int root) override {
    if (root < 0 || root >= r_.size)
      return Status::error("broadcast: root " + std::to_string(root) +
                           " is not a rank (size " + std::to_string(r_.size) +
                           ")");
    auto *p = static_cast<char *>(data);
    size_t length = size_t(bytes);
    if (r_.rank != 0) {
      if (r_.rank == root)
        return sendAll(peers_[0], p, length, 0);
      return recvAll(peers_[0], p, length, 0);
    }
    if (root != 0)
      if (Status s = recvAll(peers_[root], p, length, root); !s.isOk())
        return s;
    for (int to = 1; to < r_.size; ++to)
      if (to != root)
        if (Status s = sendAll(peers_[to], p, length, to); !s.isOk())
          return s;
    return Status::ok();
  }

  Status barrier() override {
    double token = 0;
    return allReduce(&token, 1, ElementType::F64, ReduceOp::Sum);
  }

  [[noreturn]] void abort(int code) override {
    // The others see their connection to this rank (or to rank 0) close
    // and fail in turn.
    for (int &fd : peers_)
      if (fd >= 0)
        ::close(fd), fd = -1;
    std::_Exit(code);
  }

private:
  static constexpr size_t kPieceBytes = size_t(4) << 20;

  explicit Tcp(const Rendezvous &r) : r_(r), peers_(size_t(r.size), -1) {}

  template <typename T> static void addInto(T *to, const T *from, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      to[i] += from[i];
  }
  Status lost(int peer, const std::string &what) const {
    return Status::error("tcp collective: rank " + std::to_string(r_.rank) +
                         " lost its connection to rank " +
                         std::to_string(peer) + " (" + what +
                         "); did that rank fail?");
  }
  Status sendAll(int fd, const char *p, size_t n, int peer) const {
    while (n) {
      ssize_t sent = ::send(fd, p, n, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR)
        continue;
      if (sent <= 0)
        return lost(peer, sent < 0 ? std::strerror(errno) : "closed");
      p += sent;
      n -= size_t(sent);
    }
    return Status::ok();
  }
  Status recvAll(int fd, char *p, size_t n, int peer) const {
    while (n) {
      ssize_t got = ::recv(fd, p, n, 0);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return lost(peer, got < 0 ? std::strerror(errno) : "closed");
      p += got;
      n -= size_t(got);
    }
    return Status::ok();
  }
  Status listenAndAccept();
  Status connectToRoot();

  Rendezvous r_;
  /// Rank 0: one socket per other rank (index = rank); others: peers_[0].
  std::vector<int> peers_;
  std::vector<char> scratch_;
};

using Clock = std::chrono::steady_clock;

void tuneSocket(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

Status Tcp::listenAndAccept() {
  const std::string where = "port " + std::to_string(r_.masterPort);
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0)
    return Status::error(std::string("tcp collective: socket: ") +
                         std::strerror(errno));
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(uint16_t(r_.masterPort));
  if (::bind(listener, reinterpret_cast<sockaddr *>(&address),
             sizeof address) != 0 ||
      ::listen(listener, r_.size) != 0) {
    std::string why = std::strerror(errno);
    ::close(listener);
    return Status::error("tcp collective: rank 0 cannot listen on " + where +
                         " (MASTER_PORT): " + why);
  }
  Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(r_.timeoutSeconds));
  int joined = 0;
  while (joined < r_.size - 1) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
    pollfd waiting{listener, POLLIN, 0};
    int ready =
        left > 0 ? ::poll(&waiting, 1, int(std::min<long long>(left, INT_MAX)))
                 : 0;
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0) {
      ::close(listener);
      return Status::error(
          "tcp collective: rank 0 waited " +
          std::to_string(int(r_.timeoutSeconds)) + " s on " + where + " for " +
          std::to_string(r_.size - 1 - joined) + " of " +
          std::to_string(r_.size - 1) +
          " other rank(s) (WORLD_SIZE=" + std::to_string(r_.size) +
          "); were they started with the same MASTER_ADDR and MASTER_PORT?");
    }
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    tuneSocket(fd);
    Hello hello{};
    // A connection that does not speak the protocol (a port scanner, a
    // stale rank of another job) is dropped, not fatal.
    if (!recvAll(fd, reinterpret_cast<char *>(&hello), sizeof hello, -1)
             .isOk() ||
        hello.magic != kTcpMagic || hello.size != r_.size || hello.rank < 1 ||
        hello.rank >= r_.size || peers_[size_t(hello.rank)] >= 0) {
      ::close(fd);
      continue;
    }
    Hello answer{kTcpMagic, 0, r_.size};
    if (!sendAll(fd, reinterpret_cast<char *>(&answer), sizeof answer,
                 hello.rank)
             .isOk()) {
      ::close(fd);
      continue;
    }
    peers_[size_t(hello.rank)] = fd;
    ++joined;
  }
  ::close(listener);
  return Status::ok();
}

Status Tcp::connectToRoot() {
  const std::string where =
      r_.masterAddress + ":" + std::to_string(r_.masterPort);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  if (int rc =
          ::getaddrinfo(r_.masterAddress.c_str(),
                        std::to_string(r_.masterPort).c_str(), &hints, &found);
      rc != 0)
    return Status::error("tcp collective: cannot resolve MASTER_ADDR " +
                         inQuotes(r_.masterAddress) + ": " +
                         ::gai_strerror(rc));
  Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(r_.timeoutSeconds));
  std::string lastError = "no address";
  // Rank 0 may start later than this rank: retry until the deadline.
  while (true) {
    for (addrinfo *a = found; a; a = a->ai_next) {
      int fd =
          ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0)
        continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        lastError = std::strerror(errno);
        ::close(fd);
        continue;
      }
      tuneSocket(fd);
      Hello hello{kTcpMagic, r_.rank, r_.size}, answer{};
      if (!sendAll(fd, reinterpret_cast<char *>(&hello), sizeof hello, 0)
               .isOk() ||
          !recvAll(fd, reinterpret_cast<char *>(&answer), sizeof answer, 0)
               .isOk() ||
          answer.magic != kTcpMagic) {
        ::close(fd);
        ::freeaddrinfo(found);
        return Status::error("tcp collective: rank 0 at " + where +
                             " turned rank " + std::to_string(r_.rank) +
                             " away; do all ranks agree on WORLD_SIZE=" +
                             std::to_string(r_.size) + ", and is RANK unique?");
      }
      ::freeaddrinfo(found);
      peers_[0] = fd;
      return Status::ok();
    }
    if (Clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::freeaddrinfo(found);
  return Status::error("tcp collective: rank " + std::to_string(r_.rank) +
                       " cannot reach rank 0 at " + where + " within " +
                       std::to_string(int(r_.timeoutSeconds)) +
                       " s: " + lastError);
}

StatusOr<std::unique_ptr<Collective>> Tcp::create(const Rendezvous &r) {
  if (r.size < 1 || r.rank < 0 || r.rank >= r.size)
    return Status::error("tcp collective: rank " + std::to_string(r.rank) +
                         " is not in [0, WORLD_SIZE=" + std::to_string(r.size) +
                         ")");
  auto engine = std::unique_ptr<Tcp>(new Tcp(r));
  if (r.size > 1) {
    Status s =
        r.rank == 0 ? engine->listenAndAccept() : engine->connectToRoot();
    if (!s.isOk())
      return s;
  }
  return std::unique_ptr<Collective>(std::move(engine));
}

} // namespace

//===----------------------------------------------------------------------===//
// Choosing an engine
//===----------------------------------------------------------------------===//

std::unique_ptr<Collective> singleProcessCollective() {
  return std::make_unique<SingleProcess>();
}

bool haveMpi() {
#ifdef GROWC_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int mpiWorldSizeFromEnvironment() {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char *text = std::getenv(name); text && *text)
      return std::max(1, std::atoi(text));
  return 0;
}

StatusOr<Rendezvous> rendezvousFromEnvironment(double timeoutSeconds) {
  Rendezvous r;
  StatusOr<long> size = envInteger("WORLD_SIZE", 1, 1, 1 << 20);
  if (!size.isOk())
    return size.status();
  r.size = int(*size);
  if (r.size > 1 && !std::getenv("RANK"))
    return Status::error("WORLD_SIZE=" + std::to_string(r.size) +
                         " but RANK is not set (each process needs its "
                         "RANK in [0, WORLD_SIZE))");
  StatusOr<long> rank = envInteger("RANK", 0, 0, r.size - 1);
  if (!rank.isOk())
    return Status::error(rank.status().message() +
                         " (WORLD_SIZE=" + std::to_string(r.size) + ")");
  r.rank = int(*rank);
  StatusOr<long> localSize = envInteger("LOCAL_WORLD_SIZE", r.size, 1, r.size);
  if (!localSize.isOk())
    return localSize.status();
  r.localSize = int(*localSize);
  StatusOr<long> localRank =
      envInteger("LOCAL_RANK", r.rank % r.localSize, 0, r.localSize - 1);
  if (!localRank.isOk())
    return localRank.status();
  r.localRank = int(*localRank);
  if (const char *address = std::getenv("MASTER_ADDR"); address && *address)
    r.masterAddress = address;
  StatusOr<long> port = envInteger("MASTER_PORT", 29500, 1, 65535);
  if (!port.isOk())
    return port.status();
  r.masterPort = int(*port);
  r.timeoutSeconds = timeoutSeconds;
  if (const char *text = std::getenv("GROWC_RENDEZVOUS_TIMEOUT");
      text && *text) {
    char *end = nullptr;
    double t = std::strtod(text, &end);
    if (*end != '\0' || !(t > 0) || t > 1e6)
      return Status::error(std::string("GROWC_RENDEZVOUS_TIMEOUT='") + text +
                           "' is not a number of seconds in (0, 1e6]");
    r.timeoutSeconds = t;
  }
  return r;
}

StatusOr<std::unique_ptr<Collective>>
createTcpCollective(const Rendezvous &rendezvous) {
  return Tcp::create(rendezvous);
}

StatusOr<std::unique_ptr<Collective>>
createCollective(const CollectiveOptions &options) {
  std::string name = options.engine;
  if (name.empty() || name == "auto")
    if (const char *env = std::getenv("GROWC_COLLECTIVE"); env && *env)
      name = env;
  if (name.empty() || name == "auto") {
    if (mpiWorldSizeFromEnvironment() > 0)
      name = "mpi";
    else if (const char *world = std::getenv("WORLD_SIZE");
             world && std::atoi(world) > 1)
      name = "tcp";
    else
      name = "single";
  }
  if (name == "single")
    return singleProcessCollective();
  if (name == "mpi") {
#ifdef GROWC_HAVE_MPI
    return Mpi::create();
#else
    return Status::error(
        "this growc-run was built without MPI (CMake found none: install "
        "Debian's libopenmpi-dev and reconfigure), so it cannot join an "
        "mpirun job; for CPU runs without MPI set RANK, WORLD_SIZE, "
        "MASTER_ADDR and MASTER_PORT instead (the tcp engine)");
#endif
  }
  if (name == "tcp") {
    StatusOr<Rendezvous> r =
        rendezvousFromEnvironment(options.rendezvousTimeout);
    if (!r.isOk())
      return r.status();
    return Tcp::create(*r);
  }
  if (name == "nccl")
    return Status::error("the nccl engine reduces GPU memory: it is created "
                         "by the GPU executor's caller "
                         "(createNcclCollective), not for host memory");
  return Status::error("unknown collective engine '" + name +
                       "' (GROWC_COLLECTIVE: auto, single, mpi, tcp)");
}

} // namespace growc::rt
