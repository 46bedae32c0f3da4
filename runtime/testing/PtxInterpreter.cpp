//===- PtxInterpreter.cpp - Runs PTX kernels on the host, for tests -------===//
//
// Test infrastructure (see PtxInterpreter.h): the interpreter that runs each
// thread of a block to its next barrier, warp-collective instructions for
// the whole warp, and every memory access checked against its state space
// and, in shared memory, against races; where the caller asks, what the
// accesses did at the warp level (MemoryStats). The module comes parsed
// (PtxParser.cpp); what one instruction computes is PtxArithmetic.cpp's.
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"
#include "PtxArithmetic.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

namespace growc::ptx {
namespace {

/// A cp.async the thread issued and has not waited for: the bytes it read
/// (the source is read at issue; the rest of a partial copy is zeros), where
/// they go in shared memory, and its group (kUncommitted until a commit).
struct PendingCopy {
  uint64_t destination;
  uint32_t group;
  uint8_t bytes;
  uint8_t data[16];
};
constexpr uint32_t kUncommitted = ~uint32_t(0);

struct Thread {
  uint64_t *regs;
  uint64_t local;
  uint32_t pc = 0;
  bool carry = false;
  enum : uint8_t { Running, Waiting, AtCollective, Done } state = Running;
  unsigned tid[3];
  int32_t index = 0; // in the block
  /// cp.async: the copies not yet waited for, the groups committed so far.
  std::vector<PendingCopy> copies;
  uint32_t groups = 0;
};

/// What a 2-byte granule of shared memory saw since the last barrier:
/// the thread that wrote it and the thread(s) that read it, each with the
/// barrier interval ("epoch") it happened in.
struct Shadow {
  uint32_t writeEpoch = 0, readEpoch = 0;
  int32_t writer = -1, reader = -1; // reader -2: several threads
};
constexpr int32_t kSeveralReaders = -2;

/// One lane's global or shared access, recorded for MemoryStats: the
/// memory instruction (its index among the kernel's ld/st), how many times
/// this thread had run it before, the lane, and what it touched.
struct Access {
  uint32_t mem, occurrence;
  uint8_t lane, bytes;
  bool shared;
  uint64_t address;
};

/// The most distinct 4-byte words that `words` addresses in one of the 32
/// banks: the wavefronts one phase of a shared request takes.
uint64_t wavefrontsOf(std::vector<uint64_t> &words) {
  if (words.empty())
    return 0;
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  unsigned perBank[32] = {};
  unsigned most = 0;
  for (uint64_t word : words)
    most = std::max(most, ++perBank[word % 32]);
  return most;
}

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

class Executor {
public:
  Executor(const Module &module, const Kernel &k, const Launch &launch,
           const GlobalCheck &isGlobal, MemoryStats *stats)
      : module(module), k(k), launch(launch), isGlobal(isGlobal), stats(stats) {
  }

  std::string run() {
    unsigned threads = launch.block[0] * launch.block[1] * launch.block[2];
    if (threads == 0 || threads > 1024)
      return "a block of " + std::to_string(threads) + " threads";
    if (k.maxThreads && threads > k.maxThreads)
      return "a block of " + std::to_string(threads) +
             " threads, more than the kernel's .maxntid " +
             std::to_string(k.maxThreads);
    if (k.staticShared > 48 * 1024)
      return "more than 48 KiB of static shared memory";
    if (launch.params.size() < k.paramBytes)
      return "parameters of " + std::to_string(launch.params.size()) +
             " bytes for a kernel that takes " + std::to_string(k.paramBytes);
    sharedBytes = k.usesDynamicShared ? k.dynamicOffset + launch.dynamicShared
                                      : k.staticShared;
    shared.assign(std::max<uint64_t>(sharedBytes, 1), 0);
    shadow.assign(sharedBytes / 2 + 1, Shadow{});
    registers.assign(size_t(threads) * std::max(1u, k.registers), 0);
    local.assign(size_t(threads) * std::max<uint64_t>(k.localBytes, 1), 0);
    pool.resize(threads);
    if (stats) {
      ++stats->launches;
      memIndex.assign(k.code.size(), 0);
      for (size_t pc = 0; pc < k.code.size(); ++pc)
        if (isMemory(k.code[pc].op))
          memIndex[pc] = memCount++;
      occurrences.resize(size_t(threads) * memCount);
      pending.resize((threads + 31) / 32);
    }
    uint64_t blocks =
        uint64_t(launch.grid[0]) * launch.grid[1] * launch.grid[2];
    for (uint64_t i = 0; i < blocks; ++i) {
      uint64_t linear = launch.reverseBlocks ? blocks - 1 - i : i;
      ctaid[0] = unsigned(linear % launch.grid[0]);
      ctaid[1] = unsigned(linear / launch.grid[0] % launch.grid[1]);
      ctaid[2] = unsigned(linear / launch.grid[0] / launch.grid[1]);
      if (std::string e = block(threads); !e.empty())
        return e;
    }
    return "";
  }

private:
  std::string block(unsigned threads) {
    std::fill(shared.begin(), shared.end(), 0);
    std::fill(registers.begin(), registers.end(), 0);
    std::fill(local.begin(), local.end(), 0);
    std::fill(occurrences.begin(), occurrences.end(), 0);
    for (unsigned i = 0; i < threads; ++i) {
      Thread &t = pool[i];
      t = Thread{};
      t.regs = registers.data() + size_t(i) * std::max(1u, k.registers);
      t.local = reinterpret_cast<uint64_t>(local.data()) +
                i * std::max<uint64_t>(k.localBytes, 1);
      t.tid[0] = i % launch.block[0];
      t.tid[1] = (i / launch.block[0]) % launch.block[1];
      t.tid[2] = i / (launch.block[0] * launch.block[1]);
      t.index = int32_t(i);
    }
    unsigned live = threads;
    ++epoch;
    auto where = [&](const Thread &t) {
      return " (thread " + std::to_string(t.tid[0]) + "," +
             std::to_string(t.tid[1]) + "," + std::to_string(t.tid[2]) +
             " of block " + std::to_string(ctaid[0]) + "," +
             std::to_string(ctaid[1]) + "," + std::to_string(ctaid[2]) + ")";
    };
    // Each pass runs every running thread to a barrier, a warp-collective
    // instruction or its end. Then warps whose lanes all wait at the same
    // collective run it and go on; when nothing can go on, every live
    // thread waits at the barrier, which releases.
    for (;;) {
      for (unsigned i = 0; i < threads; ++i) {
        Thread &t = pool[i];
        if (t.state != Thread::Running)
          continue;
        if (std::string e = step(t); !e.empty())
          return e + where(t);
        if (t.state == Thread::Done)
          --live;
        // A warp whose lanes are all done adds no more to its requests.
        if (stats && (i % 32 == 31 || i + 1 == threads) &&
            std::all_of(&pool[i - i % 32], &pool[i] + 1, [](const Thread &l) {
              return l.state == Thread::Done;
            }))
          flush(i / 32);
      }
      bool resumed = false;
      for (unsigned first = 0; first < threads; first += 32) {
        unsigned end = std::min(threads, first + 32);
        bool any = false, all = true;
        for (unsigned i = first; i < end; ++i) {
          if (pool[i].state == Thread::AtCollective)
            any = true;
          else if (pool[i].state != Thread::Done)
            all = false;
        }
        if (!any || !all)
          continue;
        if (std::string e = collective(first, end); !e.empty())
          return e + where(pool[first]);
        resumed = true;
      }
      if (resumed)
        continue;
      if (live == 0 || stats) // a barrier releases, or the block is done
        for (unsigned w = 0; w < pending.size(); ++w)
          flush(w);
      if (live == 0)
        return "";
      for (unsigned i = 0; i < threads; ++i)
        if (pool[i].state == Thread::AtCollective)
          return "kernel '" + k.name + "', PTX line " +
                 std::to_string(k.code[pool[i].pc].line) +
                 ": a warp-collective instruction that not every lane of "
                 "the warp reached (the others wait at a barrier)" +
                 where(pool[i]);
      ++epoch;
      for (unsigned i = 0; i < threads; ++i)
        if (pool[i].state == Thread::Waiting)
          pool[i].state = Thread::Running;
    }
  }

  /// The instructions whose accesses MemoryStats records.
  static bool isMemory(Op op) {
    return op == Op::Ld || op == Op::St || op == Op::Red || op == Op::Atom ||
           op == Op::CpAsync;
  }

  static float bf16ToFloat(uint64_t bits) {
    return asF32((bits & 0xffff) << 16);
  }

  /// Runs the collective instruction the lanes [first, end) of a warp wait
  /// at, as the PTX ISA defines it for the whole warp, and resumes them.
  std::string collective(unsigned first, unsigned end) {
    const Inst &in = k.code[pool[first].pc];
    std::vector<Thread *> lanes(32, nullptr);
    for (unsigned i = first; i < end; ++i) {
      if (pool[i].state != Thread::AtCollective)
        continue;
      if (&k.code[pool[i].pc] != &in)
        return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
               ": the lanes of a warp wait at different collective "
               "instructions (lines " +
               std::to_string(in.line) + " and " +
               std::to_string(k.code[pool[i].pc].line) + ")";
      lanes[i - first] = &pool[i];
    }
    auto fail = [&](const std::string &why) {
      return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
             ": " + why;
    };
    bool whole = std::all_of(lanes.begin(), lanes.end(),
                             [](Thread *t) { return t != nullptr; });
    if (in.op == Op::Shfl) {
      uint32_t values[32] = {};
      for (unsigned l = 0; l < 32; ++l)
        if (lanes[l])
          values[l] = uint32_t(value(in.ops[1], *lanes[l]));
      for (unsigned lane = 0; lane < 32; ++lane) {
        Thread *t = lanes[lane];
        if (!t)
          continue;
        uint32_t b = uint32_t(value(in.ops[2], *t)) & 31;
        uint32_t c = uint32_t(value(in.ops[3], *t));
        uint32_t clamp = c & 31, segmask = (c >> 8) & 31;
        uint32_t maxLane = (lane & segmask) | (clamp & ~segmask);
        uint32_t minLane = lane & segmask;
        int32_t j;
        bool inRange;
        switch (in.mode) {
        case 0: // up
          j = int32_t(lane) - int32_t(b);
          inRange = j >= int32_t(maxLane);
          break;
        case 1: // down
          j = int32_t(lane + b);
          inRange = j <= int32_t(maxLane);
          break;
        case 2: // bfly
          j = int32_t(lane ^ b);
          inRange = j <= int32_t(maxLane);
          break;
        default: // idx
          j = int32_t(minLane | (b & ~segmask));
          inRange = j <= int32_t(maxLane);
          break;
        }
        if (!inRange)
          j = int32_t(lane);
        if (!lanes[j])
          return fail("shfl reads lane " + std::to_string(j) +
                      ", which is not taking part");
        write(*t, in.ops[0], values[j], Ty::B32);
        if (in.predicate >= 0)
          t->regs[in.predicate] = inRange;
      }
    } else if (in.op == Op::Mma) {
      if (!whole)
        return fail("mma.sync needs all 32 lanes of the warp");
      // Fragments of m16n8k16 with bf16 A (row-major) and B (column-major),
      // f32 C/D (PTX ISA, "Matrix Fragments for mma.m16n8k16"): lane l
      // has group g = l / 4 and index q = l % 4 in it.
      double a[16][16], b[16][8], c[16][8];
      for (unsigned l = 0; l < 32; ++l) {
        const Thread &t = *lanes[l];
        unsigned g = l / 4, q = l % 4;
        for (unsigned i = 0; i < 8; ++i) {
          uint64_t reg = t.regs[in.ops[1].regs[i / 2]] >> (16 * (i % 2));
          unsigned row = g + ((i / 2) % 2) * 8,
                   col = 2 * q + i % 2 + (i / 4) * 8;
          a[row][col] = bf16ToFloat(reg);
        }
        for (unsigned i = 0; i < 4; ++i) {
          uint64_t reg = t.regs[in.ops[2].regs[i / 2]] >> (16 * (i % 2));
          b[2 * q + i % 2 + (i / 2) * 8][g] = bf16ToFloat(reg);
          c[g + (i / 2) * 8][2 * q + i % 2] = asF32(t.regs[in.ops[3].regs[i]]);
        }
      }
      for (unsigned l = 0; l < 32; ++l) {
        unsigned g = l / 4, q = l % 4;
        for (unsigned i = 0; i < 4; ++i) {
          unsigned row = g + (i / 2) * 8, col = 2 * q + i % 2;
          double sum = c[row][col];
          for (unsigned kk = 0; kk < 16; ++kk)
            sum += a[row][kk] * b[kk][col];
          lanes[l]->regs[in.ops[0].regs[i]] = ofF32(float(sum));
        }
      }
    } else { // ldmatrix
      if (!whole)
        return fail("ldmatrix needs all 32 lanes of the warp");
      // Matrix m's row r is at the address lane 8m + r gives; each row is
      // eight b16.
      uint16_t m[4][8][8];
      for (unsigned mat = 0; mat < in.matrices; ++mat) {
        // A matrix's rows are one phase of the request: 8 x 16 bytes.
        words.clear();
        for (unsigned r = 0; r < 8; ++r) {
          Thread &t = *lanes[8 * mat + r];
          uint64_t address = value(in.ops[1], t) + uint64_t(in.ops[1].offset);
          if (!accessible(Space::Shared, address, 16, t))
            return fail("out-of-bounds ldmatrix row at lane " +
                        std::to_string(8 * mat + r));
          if (address % 16 != 0)
            return fail("ldmatrix row at lane " + std::to_string(8 * mat + r) +
                        " is not 16-byte aligned");
          Inst read = in;
          read.op = Op::Ld;
          if (std::string race = checkRace(read, t, address, 16); !race.empty())
            return race;
          std::memcpy(m[mat][r], reinterpret_cast<void *>(address), 16);
          // Banks count from the start of shared memory.
          uint64_t offset = address - reinterpret_cast<uint64_t>(shared.data());
          for (uint64_t w = 0; stats && w < 4; ++w)
            words.push_back(offset / 4 + w);
        }
        if (stats)
          stats->wavefronts += wavefrontsOf(words);
      }
      if (stats) {
        ++stats->sharedRequests;
        stats->sharedBytes += 128 * in.matrices;
        stats->idealWavefronts += in.matrices;
      }
      for (unsigned l = 0; l < 32; ++l)
        for (unsigned mat = 0; mat < in.matrices; ++mat) {
          unsigned row = l / 4, col = 2 * (l % 4);
          uint64_t lo = in.transposed ? m[mat][col][row] : m[mat][row][col];
          uint64_t hi =
              in.transposed ? m[mat][col + 1][row] : m[mat][row][col + 1];
          lanes[l]->regs[in.ops[0].regs[mat]] = lo | hi << 16;
        }
    }
    for (Thread *t : lanes)
      if (t) {
        ++t->pc;
        t->state = Thread::Running;
      }
    return "";
  }

  uint64_t special(uint8_t s, const Thread &t) const {
    switch (s) {
    case TidX:
      return t.tid[0];
    case TidY:
      return t.tid[1];
    case TidZ:
      return t.tid[2];
    case NtidX:
      return launch.block[0];
    case NtidY:
      return launch.block[1];
    case NtidZ:
      return launch.block[2];
    case CtaidX:
      return ctaid[0];
    case CtaidY:
      return ctaid[1];
    case CtaidZ:
      return ctaid[2];
    case NctaidX:
      return launch.grid[0];
    case NctaidY:
      return launch.grid[1];
    case NctaidZ:
      return launch.grid[2];
    case LaneId:
      return t.tid[0] % 32;
    default:
      return t.tid[0] / 32;
    }
  }

  uint64_t value(const Operand &o, const Thread &t) const {
    switch (o.kind) {
    case Kind::Reg:
      return t.regs[o.reg];
    case Kind::Imm:
      return o.imm;
    case Kind::Shared:
      return reinterpret_cast<uint64_t>(shared.data()) + o.imm;
    case Kind::Local:
      return t.local + o.imm;
    case Kind::Global:
      return o.imm;
    case Kind::Param:
      return reinterpret_cast<uint64_t>(launch.params.data()) + o.imm;
    case Kind::Special:
      return special(o.special, t);
    default:
      return 0;
    }
  }

  bool inside(uint64_t address, uint64_t bytes, uint64_t base,
              uint64_t size) const {
    return address >= base && address + bytes <= base + size;
  }

  /// Whether an access of `bytes` at `address` in `space` is in bounds.
  bool accessible(Space space, uint64_t address, uint64_t bytes,
                  const Thread &t) const {
    uint64_t sharedBase = reinterpret_cast<uint64_t>(shared.data());
    bool inShared = inside(address, bytes, sharedBase, sharedBytes);
    bool inLocal = inside(address, bytes, t.local, k.localBytes);
    bool inParam =
        inside(address, bytes, reinterpret_cast<uint64_t>(launch.params.data()),
               k.paramBytes);
    auto inGlobal = [&] {
      // Most accesses hit the allocation the last one did.
      if (inside(address, bytes, lastGlobalBase, lastGlobalSize))
        return true;
      uint64_t base = 0, size = 0;
      if (!module.findGlobal(address, base, size) &&
          !isGlobal(address, base, size))
        return false;
      lastGlobalBase = base;
      lastGlobalSize = size;
      return inside(address, bytes, base, size);
    };
    switch (space) {
    case Space::Shared:
      return inShared;
    case Space::Local:
      return inLocal;
    case Space::Param:
      return inParam;
    case Space::Global:
    case Space::Const:
      return inGlobal();
    case Space::Generic:
      return inShared || inLocal || inGlobal();
    }
    return false;
  }

  void write(Thread &t, const Operand &d, uint64_t v, Ty type) {
    if (d.kind == Kind::Reg)
      t.regs[d.reg] = v & mask(bitsOf(type));
  }

  uint64_t integer(const Inst &in, uint64_t a, uint64_t b, uint64_t c,
                   Thread &t) {
    unsigned w = bitsOf(in.type);
    bool s = isSigned(in.type);
    int64_t sa = signExtend(a, w), sb = signExtend(b, w);
    uint64_t ua = a & mask(w), ub = b & mask(w);
    switch (in.op) {
    case Op::Add:
      return ua + ub;
    case Op::Sub:
      return ua - ub;
    case Op::Mul:
    case Op::Mad:
    case Op::Madc: {
      uint64_t product, high;
      if (in.wide) {
        product = s ? uint64_t(sa * sb) : ua * ub;
        high = 0;
      } else if (w == 64) {
        __int128 p =
            s ? __int128(sa) * sb : __int128((unsigned __int128)ua * ub);
        product = uint64_t(p);
        high = uint64_t((unsigned __int128)p >> 64);
      } else {
        uint64_t p = s ? uint64_t(sa * sb) : ua * ub;
        product = p & mask(w);
        high = (p >> w) & mask(w);
      }
      uint64_t r = in.hi ? high : product;
      if (in.op == Op::Mul)
        return r;
      unsigned rw = in.wide ? 2 * w : w;
      uint64_t addend = c & mask(rw);
      uint64_t carryIn = in.op == Op::Madc && t.carry ? 1 : 0;
      uint64_t sum = (r & mask(rw)) + addend + carryIn;
      if (in.cc)
        t.carry = rw == 64 ? (sum < addend || (carryIn && sum == addend))
                           : (sum >> rw) & 1;
      return sum;
    }
    case Op::Div:
      if (ub == 0)
        return ~uint64_t(0);
      return s ? uint64_t(sa / sb) : ua / ub;
    case Op::Rem:
      if (ub == 0)
        return ua;
      return s ? uint64_t(sa % sb) : ua % ub;
    case Op::Min:
      return s ? uint64_t(std::min(sa, sb)) : std::min(ua, ub);
    case Op::Max:
      return s ? uint64_t(std::max(sa, sb)) : std::max(ua, ub);
    case Op::Neg:
      return uint64_t(-sa);
    case Op::Abs:
      return uint64_t(sa < 0 ? -sa : sa);
    default:
      return 0;
    }
  }

  /// Threads run one at a time, so a kernel that reads shared memory
  /// another thread wrote without a barrier in between would still get
  /// the value here; on a GPU it races. Like compute-sanitizer's racecheck,
  /// every shared access is checked against what other threads did to
  /// the same bytes since the last barrier.
  std::string checkRace(const Inst &in, const Thread &t, uint64_t address,
                        uint64_t bytes) {
    uint64_t base = reinterpret_cast<uint64_t>(shared.data());
    if (address < base || address >= base + sharedBytes)
      return "";
    bool store = in.op == Op::St;
    for (uint64_t g = (address - base) / 2;
         g < (address - base + bytes + 1) / 2; ++g) {
      Shadow &s = shadow[g];
      int32_t other = -1;
      const char *what = nullptr;
      if (s.writeEpoch == epoch && s.writer != t.index) {
        other = s.writer;
        what = store ? "writes shared memory that thread %d wrote"
                     : "reads shared memory that thread %d wrote";
      } else if (store && s.readEpoch == epoch && s.reader != t.index) {
        other = s.reader;
        what = "writes shared memory that thread %d read";
      }
      if (what) {
        char message[160];
        std::snprintf(message, sizeof message, what,
                      other == kSeveralReaders ? -1 : int(other));
        std::string text = message;
        if (other == kSeveralReaders)
          text.replace(text.find("thread -1"), 9, "other threads");
        return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
               ": shared-memory race: this thread " + text +
               " since the last barrier (offset " + std::to_string(2 * g) + ")";
      }
      if (store) {
        s.writeEpoch = epoch;
        s.writer = t.index;
      } else if (s.readEpoch != epoch) {
        s.readEpoch = epoch;
        s.reader = t.index;
      } else if (s.reader != t.index) {
        s.reader = kSeveralReaders;
      }
    }
    return "";
  }

  /// Records `t`'s access of `bytes` at `address` by `in` (global or
  /// shared; local and parameter accesses are not memory traffic here),
  /// for flush() to combine with the other lanes'.
  void record(const Inst &in, const Thread &t, uint64_t address,
              unsigned bytes) {
    uint64_t sharedBase = reinterpret_cast<uint64_t>(shared.data());
    bool inShared = inside(address, bytes, sharedBase, sharedBytes);
    if (in.space == Space::Generic
            ? !inShared && inside(address, bytes, t.local, k.localBytes)
            : in.space != Space::Global && in.space != Space::Shared)
      return;
    bool isShared =
        in.space == Space::Shared || (in.space == Space::Generic && inShared);
    if (!isShared) {
      // cp.async loads from global memory; red and atom count as stores.
      (in.op == Op::Ld || in.op == Op::CpAsync ? stats->loadBytes
                                               : stats->storeBytes) += bytes;
      if (bytes == 8)
        stats->bytes64 += bytes;
      else if (bytes == 16)
        stats->bytes128 += bytes;
    }
    if (isShared) // banks count from the start of shared memory
      address -= sharedBase;
    uint32_t mem = memIndex[&in - k.code.data()];
    uint32_t occurrence = occurrences[size_t(t.index) * memCount + mem]++;
    pending[t.index / 32].push_back({mem, occurrence, uint8_t(t.index % 32),
                                     uint8_t(bytes), isShared, address});
  }

  /// Combines the accesses warp `w` recorded into warp-level requests: the
  /// lanes' accesses at the same instruction and occurrence.
  void flush(unsigned w) {
    std::vector<Access> &accesses = pending[w];
    std::sort(
        accesses.begin(), accesses.end(), [](const Access &a, const Access &b) {
          return a.mem != b.mem                 ? a.mem < b.mem
                 : a.occurrence != b.occurrence ? a.occurrence < b.occurrence
                                                : a.lane < b.lane;
        });
    for (size_t first = 0, end; first < accesses.size(); first = end) {
      uint64_t bytes = 0;
      for (end = first;
           end < accesses.size() && accesses[end].mem == accesses[first].mem &&
           accesses[end].occurrence == accesses[first].occurrence;
           ++end)
        bytes += accesses[end].bytes;
      words.clear();
      if (!accesses[first].shared) {
        // The distinct 32-byte sectors the request touched.
        for (size_t i = first; i < end; ++i)
          for (uint64_t s = accesses[i].address / 32;
               s <= (accesses[i].address + accesses[i].bytes - 1) / 32; ++s)
            words.push_back(s);
        std::sort(words.begin(), words.end());
        ++stats->requests;
        stats->sectors +=
            std::unique(words.begin(), words.end()) - words.begin();
        stats->idealSectors += ceilDiv(bytes, 32);
        continue;
      }
      // Phases of 128 bytes: lanes [p * perPhase, (p + 1) * perPhase).
      unsigned perPhase = 128 / std::max<unsigned>(4, accesses[first].bytes);
      ++stats->sharedRequests;
      stats->sharedBytes += bytes;
      stats->idealWavefronts += ceilDiv(bytes, 128);
      for (size_t i = first; i < end; ++i) {
        if (i > first &&
            accesses[i].lane / perPhase != accesses[i - 1].lane / perPhase) {
          stats->wavefronts += wavefrontsOf(words);
          words.clear();
        }
        for (uint64_t word = accesses[i].address / 4;
             word <= (accesses[i].address + accesses[i].bytes - 1) / 4; ++word)
          words.push_back(word);
      }
      stats->wavefronts += wavefrontsOf(words);
    }
    accesses.clear();
  }

  std::string fault(const Inst &in, const std::string &why) const {
    return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
           ": " + why;
  }

  /// red/atom add: one thread runs at a time, so the read-modify-write is
  /// atomic by construction. f32 adds round to nearest and flush
  /// subnormals, as the PTX ISA says of atom.add.f32. red.v2/.v4.f32 adds
  /// each element on its own (the ISA makes each element's add atomic, not
  /// the vector's), as one access of the vector's size: aligned to it, and
  /// counted as one 8- or 16-byte access in MemoryStats.
  std::string atomic(const Inst &in, Thread &t) {
    const Operand &m = in.ops[in.op == Op::Red ? 0 : 1];
    const Operand &source = in.ops[in.op == Op::Red ? 1 : 2];
    uint64_t address = value(m, t) + uint64_t(m.offset);
    unsigned bytes = bitsOf(in.type) / 8, total = bytes * in.vec;
    uint64_t sharedBase = reinterpret_cast<uint64_t>(shared.data());
    if (inside(address, total, sharedBase, sharedBytes))
      return fault(in, "atomics on shared memory are not supported");
    if (!accessible(Space::Global, address, total, t))
      return fault(in, "out-of-bounds atomic of " + std::to_string(total) +
                           " bytes");
    if (address % total != 0)
      return fault(in,
                   "misaligned atomic of " + std::to_string(total) + " bytes");
    if (stats)
      record(in, t, address, total);
    for (unsigned e = 0; e < in.vec; ++e) {
      uint64_t operand = in.vec > 1 ? t.regs[source.regs[e]] : value(source, t);
      void *at = reinterpret_cast<void *>(address + e * bytes);
      uint64_t old = 0;
      std::memcpy(&old, at, bytes);
      uint64_t sum = in.type == Ty::F32
                         ? ofF32(ptx::flush(ptx::flush(asF32(old)) +
                                            ptx::flush(asF32(operand))))
                         : (old + operand) & mask(8 * bytes);
      std::memcpy(at, &sum, bytes);
      if (in.op == Op::Atom)
        write(t, in.ops[0], old, in.type);
    }
    return "";
  }

  /// cp.async: checks and reads the source now; the destination is
  /// written when the thread waits for the copy's group (the latest time
  /// the ISA allows), so a kernel that reads a tile before waiting for it
  /// sees stale data. The destination counts as written from the issue
  /// on: another thread that touches it in the same barrier interval
  /// races with the copy.
  std::string copyAsync(const Inst &in, Thread &t) {
    uint64_t destination = value(in.ops[0], t) + uint64_t(in.ops[0].offset);
    uint64_t source = value(in.ops[1], t) + uint64_t(in.ops[1].offset);
    unsigned bytes = unsigned(in.ops[2].imm);
    uint64_t sourceBytes =
        in.count == 4 ? value(in.ops[3], t) & 0xffffffff : bytes;
    if (sourceBytes > bytes)
      return fault(in, "cp.async source size " + std::to_string(sourceBytes) +
                           " over the copy's " + std::to_string(bytes));
    if (!accessible(Space::Shared, destination, bytes, t))
      return fault(in, "out-of-bounds cp.async into shared memory");
    if (sourceBytes && !accessible(Space::Global, source, sourceBytes, t))
      return fault(in, "out-of-bounds cp.async from global memory");
    if (destination % bytes != 0 || source % bytes != 0)
      return fault(in, "misaligned cp.async of " + std::to_string(bytes) +
                           " bytes");
    Inst store = in;
    store.op = Op::St;
    if (std::string race = checkRace(store, t, destination, bytes);
        !race.empty())
      return race;
    if (stats && sourceBytes)
      record(in, t, source, unsigned(sourceBytes));
    PendingCopy copy{destination, kUncommitted, uint8_t(bytes), {}};
    std::memcpy(copy.data, reinterpret_cast<void *>(source), sourceBytes);
    t.copies.push_back(copy);
    return "";
  }

  void commitCopies(Thread &t) {
    for (PendingCopy &copy : t.copies)
      if (copy.group == kUncommitted)
        copy.group = t.groups;
    ++t.groups;
  }

  /// cp.async.wait_group n: the copies of all but the n most recent
  /// committed groups land in shared memory.
  std::string waitCopies(const Inst &in, Thread &t) {
    if (in.mode) // wait_all
      commitCopies(t);
    uint64_t keep = in.mode ? 0 : in.ops[0].imm;
    Inst store = in;
    store.op = Op::St;
    size_t kept = 0;
    for (PendingCopy &copy : t.copies) {
      if (copy.group == kUncommitted || copy.group + keep >= t.groups) {
        t.copies[kept++] = copy;
        continue;
      }
      if (std::string race = checkRace(store, t, copy.destination, copy.bytes);
          !race.empty())
        return race;
      std::memcpy(reinterpret_cast<void *>(copy.destination), copy.data,
                  copy.bytes);
    }
    t.copies.resize(kept);
    return "";
  }

  /// Runs `t` to its next barrier or its end.
  std::string step(Thread &t) {
    const Inst *code = k.code.data();
    for (uint64_t budget = uint64_t(1) << 32; budget; --budget) {
      const Inst &in = code[t.pc++];
      if (in.guard >= 0 && (bool(t.regs[in.guard] & 1) == in.guardNegated))
        continue;
      const Operand &d = in.ops[0];
      switch (in.op) {
      case Op::Bra:
        t.pc = uint32_t(in.target);
        continue;
      case Op::Ret:
        t.state = Thread::Done;
        return "";
      case Op::Bar:
        t.state = Thread::Waiting;
        return "";
      case Op::Nop:
        continue;
      case Op::Red:
      case Op::Atom:
        if (std::string e = atomic(in, t); !e.empty())
          return e;
        continue;
      case Op::CpAsync:
        if (std::string e = copyAsync(in, t); !e.empty())
          return e;
        continue;
      case Op::CpAsyncCommit:
        commitCopies(t);
        continue;
      case Op::CpAsyncWait:
        if (std::string e = waitCopies(in, t); !e.empty())
          return e;
        continue;
      case Op::Shfl:
      case Op::Mma:
      case Op::Ldmatrix:
        // The warp's lanes meet here; block() runs it for all of them.
        --t.pc;
        t.state = Thread::AtCollective;
        return "";
      case Op::Ld:
      case Op::St: {
        const Operand &m = in.op == Op::Ld ? in.ops[1] : in.ops[0];
        const Operand &r = in.op == Op::Ld ? in.ops[0] : in.ops[1];
        uint64_t address = value(m, t) + uint64_t(m.offset);
        unsigned bytes = std::max(1u, bitsOf(in.type) / 8);
        unsigned lanes = r.kind == Kind::Vector ? r.count : 1;
        if (!accessible(in.space, address, uint64_t(bytes) * lanes, t))
          return "kernel '" + k.name + "', PTX line " +
                 std::to_string(in.line) + ": out-of-bounds " +
                 (in.op == Op::Ld ? "load" : "store") + " of " +
                 std::to_string(bytes * lanes) + " bytes at 0x" + [&] {
                   std::ostringstream s;
                   s << std::hex << address;
                   return s.str();
                 }();
        // PTX requires accesses aligned to their size (a vector's whole
        // size); a GPU faults on a misaligned one.
        if (address % (uint64_t(bytes) * lanes) != 0)
          return "kernel '" + k.name + "', PTX line " +
                 std::to_string(in.line) + ": misaligned " +
                 (in.op == Op::Ld ? "load" : "store") + " of " +
                 std::to_string(bytes * lanes) + " bytes at offset " +
                 std::to_string(address % 256) + " mod 256";
        if (std::string race = checkRace(in, t, address, bytes * lanes);
            !race.empty())
          return race;
        if (stats)
          record(in, t, address, bytes * lanes);
        for (unsigned lane = 0; lane < lanes; ++lane) {
          void *at = reinterpret_cast<void *>(address + lane * bytes);
          int32_t reg = r.kind == Kind::Vector ? r.regs[lane] : r.reg;
          if (in.op == Op::Ld) {
            uint64_t v = 0;
            std::memcpy(&v, at, bytes);
            if (isSigned(in.type))
              v = uint64_t(signExtend(v, bytes * 8));
            if (reg >= 0)
              t.regs[reg] = v;
          } else {
            uint64_t v = r.kind == Kind::Reg || r.kind == Kind::Vector
                             ? (reg >= 0 ? t.regs[reg] : r.constants[lane])
                             : value(r, t);
            std::memcpy(at, &v, bytes);
          }
        }
        continue;
      }
      case Op::Mov: {
        const Operand &a = in.ops[1];
        if (d.kind == Kind::Vector) { // unpack
          uint64_t v = value(a, t);
          unsigned part = bitsOf(in.type) / d.count;
          for (unsigned i = 0; i < d.count; ++i)
            if (d.regs[i] >= 0)
              t.regs[d.regs[i]] = (v >> (i * part)) & mask(part);
          continue;
        }
        if (a.kind == Kind::Vector) { // pack
          unsigned part = bitsOf(in.type) / a.count;
          uint64_t v = 0;
          for (unsigned i = 0; i < a.count; ++i)
            v |= ((a.regs[i] >= 0 ? t.regs[a.regs[i]] : a.constants[i]) &
                  mask(part))
                 << (i * part);
          write(t, d, v, in.type);
          continue;
        }
        write(t, d, value(a, t), in.type);
        continue;
      }
      case Op::Cvta:
        write(t, d, value(in.ops[1], t), in.type);
        continue;
      case Op::Cvt:
        if (in.type == Ty::BF16X2) { // a into the upper half, b the lower
          uint64_t hi = toBf16(f32(in, value(in.ops[1], t)), in.rounding);
          uint64_t lo = toBf16(f32(in, value(in.ops[2], t)), in.rounding);
          write(t, d, hi << 16 | lo, in.type);
          continue;
        }
        write(t, d, convert(in, value(in.ops[1], t)), in.type);
        continue;
      case Op::Setp:
        t.regs[d.reg] = compare(in, value(in.ops[1], t), value(in.ops[2], t));
        continue;
      case Op::Selp:
        write(t, d,
              (value(in.ops[3], t) & 1) ? value(in.ops[1], t)
                                        : value(in.ops[2], t),
              in.type);
        continue;
      default:
        break;
      }
      uint64_t a = in.count > 1 ? value(in.ops[1], t) : 0;
      uint64_t b = in.count > 2 ? value(in.ops[2], t) : 0;
      uint64_t c = in.count > 3 ? value(in.ops[3], t) : 0;
      unsigned w = bitsOf(in.type);
      uint64_t r = 0;
      switch (in.op) {
      case Op::And:
        r = a & b;
        break;
      case Op::Or:
        r = a | b;
        break;
      case Op::Xor:
        r = a ^ b;
        break;
      case Op::Not:
        r = in.type == Ty::Pred ? !(a & 1) : ~a;
        break;
      case Op::Shl: {
        uint64_t n = b & 0xffffffff;
        r = n >= w ? 0 : a << n;
        break;
      }
      case Op::Shr: {
        uint64_t n = b & 0xffffffff;
        if (isSigned(in.type))
          r = uint64_t(signExtend(a, w) >> std::min<uint64_t>(n, w - 1));
        else
          r = n >= w ? 0 : (a & mask(w)) >> n;
        break;
      }
      case Op::Shf: {
        uint32_t lo = uint32_t(a), hi = uint32_t(b);
        uint32_t n = uint32_t(c);
        n = in.shfWrap ? n & 31 : std::min(n, 32u);
        uint64_t both = (uint64_t(hi) << 32) | lo;
        r = in.shfLeft ? uint32_t((both << n) >> 32) : uint32_t(both >> n);
        break;
      }
      case Op::Bfe: {
        unsigned pos = unsigned(b & 0xff), len = unsigned(c & 0xff);
        if (len == 0) {
          r = 0;
          break;
        }
        unsigned msb = w - 1;
        bool sbit =
            isSigned(in.type) && ((a >> std::min(pos + len - 1, msb)) & 1);
        for (unsigned i = 0; i <= msb; ++i) {
          bool bit = i < len && pos + i <= msb ? (a >> (pos + i)) & 1 : sbit;
          r |= uint64_t(bit) << i;
        }
        break;
      }
      case Op::Popc:
        r = uint64_t(__builtin_popcountll(a & mask(w)));
        break;
      case Op::Clz:
        r = (a & mask(w)) == 0
                ? w
                : uint64_t(__builtin_clzll(a & mask(w))) - (64 - w);
        break;
      default:
        if (isFloat(in.type))
          r = floating(in, a, b, c);
        else
          r = integer(in, a, b, c, t);
        break;
      }
      unsigned resultBits =
          (in.op == Op::Mul || in.op == Op::Mad) && in.wide ? 2 * w : w;
      if (in.op == Op::Popc || in.op == Op::Clz)
        resultBits = 32;
      if (d.kind == Kind::Reg)
        t.regs[d.reg] = r & mask(resultBits);
    }
    return "kernel '" + k.name + "' ran 2^32 instructions in one thread " +
           "without reaching a barrier or its end";
  }

  const Module &module;
  const Kernel &k;
  const Launch &launch;
  const GlobalCheck &isGlobal;
  std::vector<uint8_t> shared, local;
  std::vector<uint64_t> registers;
  std::vector<Thread> pool;
  uint64_t sharedBytes = 0;
  unsigned ctaid[3] = {0, 0, 0};
  std::vector<Shadow> shadow;
  uint32_t epoch = 0;
  /// The global allocation the last checked access was in.
  mutable uint64_t lastGlobalBase = 0, lastGlobalSize = 0;
  /// MemoryStats: where to add them (null: nothing is recorded), each
  /// instruction's index among the kernel's ld/st, how many times each
  /// thread ran each of them in this block, each warp's accesses not yet
  /// combined, and scratch for sectors and words.
  MemoryStats *stats;
  std::vector<uint32_t> memIndex, occurrences;
  uint32_t memCount = 0;
  std::vector<std::vector<Access>> pending;
  std::vector<uint64_t> words;
};

} // namespace

void MemoryStats::add(const MemoryStats &o) {
  launches += o.launches;
  loadBytes += o.loadBytes;
  storeBytes += o.storeBytes;
  bytes64 += o.bytes64;
  bytes128 += o.bytes128;
  requests += o.requests;
  sectors += o.sectors;
  idealSectors += o.idealSectors;
  sharedRequests += o.sharedRequests;
  sharedBytes += o.sharedBytes;
  wavefronts += o.wavefronts;
  idealWavefronts += o.idealWavefronts;
}

std::string run(const Module &module, const Kernel &kernel,
                const Launch &launch, const GlobalCheck &isGlobal,
                MemoryStats *stats) {
  return Executor(module, kernel, launch, isGlobal, stats).run();
}
} // namespace growc::ptx
