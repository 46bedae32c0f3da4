//===- PtxInterpreterTest.cpp - The test-only PTX interpreter's own tests -===//
//
// The fake driver's PTX interpreter (PtxInterpreter.h) is what lets CI run
// growc's GPU artifacts; these tests check it against values worked out by
// hand from the PTX ISA, not against itself: the rounding and saturation
// of conversions, funnel shifts, carry chains, bit-field extraction, NaN
// rules; barriers and (dynamic) shared memory; warp shuffles and
// tensor-core mma with ldmatrix fragments; atomic adds; cp.async and its
// groups (a copy lands only once waited for); the bounds checks, the
// shared-memory race check and the load errors; the memory behaviour it
// measures (bytes, access widths, sectors per request, bank conflicts) on
// kernels whose numbers follow from their access patterns; and nvcc's own
// PTX for the toy kernels (ToyKernels.cu), where nvcc exists.
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

using growc::ptx::Launch;
using growc::ptx::MemoryStats;
using growc::ptx::Module;

namespace {

/// Buffers the test hands to kernels, as the "device allocations".
struct Memory {
  std::vector<std::vector<uint8_t> *> buffers;
  growc::ptx::GlobalCheck check() {
    return [this](uint64_t address, uint64_t &base, uint64_t &size) {
      for (std::vector<uint8_t> *b : buffers) {
        uint64_t start = reinterpret_cast<uint64_t>(b->data());
        if (address >= start && address < start + b->size()) {
          base = start;
          size = b->size();
          return true;
        }
      }
      return false;
    };
  }
};

void addPointer(Launch &launch, const void *pointer) {
  uint64_t value = reinterpret_cast<uint64_t>(pointer);
  size_t at = launch.params.size();
  launch.params.resize(at + 8);
  std::memcpy(launch.params.data() + at, &value, 8);
}

uint32_t word(const std::vector<uint8_t> &out, size_t index) {
  uint32_t v;
  std::memcpy(&v, out.data() + 4 * index, 4);
  return v;
}

const char *kSemantics = R"(
.version 8.0
.target sm_90
.address_size 64

.visible .entry semantics(.param .u64 out)
{
  .reg .b16 %rs<4>;
  .reg .b32 %r<40>;
  .reg .b64 %rd<8>;
  .reg .pred %p<4>;
  ld.param.b64 %rd1, [out];
  cvta.to.global.u64 %rd1, %rd1;
  // 1 + 2^-8 is halfway between two bf16 values: to even, 1.0.
  mov.b32 %r1, 0f3F808000;
  cvt.rn.bf16.f32 %rs1, %r1;
  cvt.u32.u16 %r2, %rs1;
  st.global.b32 [%rd1], %r2;
  // 1 + 3 * 2^-8 is halfway too: to even, 0x3F82.
  mov.b32 %r3, 0f3F818000;
  cvt.rn.bf16.f32 %rs2, %r3;
  cvt.u32.u16 %r4, %rs2;
  st.global.b32 [%rd1+4], %r4;
  // -3.7 to s32 toward zero: -3; 1e10 saturates.
  mov.b32 %r5, 0fC06CCCCD;
  cvt.rzi.s32.f32 %r6, %r5;
  st.global.b32 [%rd1+8], %r6;
  mov.b32 %r7, 0f501502F9;
  cvt.rni.s32.f32 %r8, %r7;
  st.global.b32 [%rd1+12], %r8;
  // A funnel shift left by 36 & 31 = 4 of 3:0x80000001.
  mov.b32 %r9, -2147483647;
  mov.b32 %r10, 3;
  shf.l.wrap.b32 %r11, %r9, %r10, 36;
  st.global.b32 [%rd1+16], %r11;
  // 0xFFFFFFFF * 2 + 3 as a carry chain: low word 1, high word 2.
  mov.b32 %r12, -1;
  mov.b32 %r13, 2;
  mad.lo.cc.u32 %r14, %r12, %r13, 3;
  madc.hi.u32 %r15, %r12, %r13, 0;
  st.global.b32 [%rd1+20], %r14;
  st.global.b32 [%rd1+24], %r15;
  // Bits 8..11 of 0xF00, signed: -1.
  bfe.s32 %r16, 3840, 8, 4;
  st.global.b32 [%rd1+28], %r16;
  // max.NaN propagates NaN; max ignores it.
  mov.b32 %r17, 0f7FC00000;
  max.NaN.f32 %r18, 0f3F800000, %r17;
  max.f32 %r19, 0f3F800000, %r17;
  st.global.b32 [%rd1+32], %r18;
  st.global.b32 [%rd1+36], %r19;
  // 1 * 1 + 2^-30 rounded down and up.
  fma.rm.f32 %r20, 0f3F800000, 0f3F800000, 0f30800000;
  fma.rp.f32 %r21, 0f3F800000, 0f3F800000, 0f30800000;
  st.global.b32 [%rd1+40], %r20;
  st.global.b32 [%rd1+44], %r21;
  // NaN < 0: unordered-or-less is true, ordered less is false.
  setp.ltu.f32 %p1, %r17, 0f00000000;
  selp.b32 %r22, 1, 0, %p1;
  setp.lt.f32 %p2, %r17, 0f00000000;
  selp.b32 %r23, 1, 0, %p2;
  st.global.b32 [%rd1+48], %r22;
  st.global.b32 [%rd1+52], %r23;
  ex2.approx.ftz.f32 %r24, 0f40400000;
  st.global.b32 [%rd1+56], %r24;
  // -2 * 3 widened to 64 bits; -16 >> 40 (clamped): -1; sat(1.5) = 1.
  mov.b32 %r25, -2;
  mul.wide.s32 %rd2, %r25, 3;
  st.global.b64 [%rd1+64], %rd2;
  mov.b32 %r26, -16;
  shr.s32 %r27, %r26, 40;
  st.global.b32 [%rd1+72], %r27;
  cvt.sat.f32.f32 %r28, 0f3FC00000;
  st.global.b32 [%rd1+76], %r28;
  ret;
}
)";

TEST(PtxInterpreterTest, InstructionSemanticsFollowTheIsa) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kSemantics, error);
  ASSERT_TRUE(module) << error;
  std::vector<uint8_t> out(80, 0xAB);
  Memory memory{{&out}};
  Launch launch;
  addPointer(launch, out.data());
  ASSERT_EQ(growc::ptx::run(*module, *module->find("semantics"), launch,
                            memory.check()),
            "");
  EXPECT_EQ(word(out, 0), 0x3F80u);
  EXPECT_EQ(word(out, 1), 0x3F82u);
  EXPECT_EQ(int32_t(word(out, 2)), -3);
  EXPECT_EQ(word(out, 3), 0x7FFFFFFFu);
  EXPECT_EQ(word(out, 4), 0x38u);
  EXPECT_EQ(word(out, 5), 1u);
  EXPECT_EQ(word(out, 6), 2u);
  EXPECT_EQ(int32_t(word(out, 7)), -1);
  float f;
  uint32_t bits = word(out, 8);
  std::memcpy(&f, &bits, 4);
  EXPECT_TRUE(std::isnan(f));
  EXPECT_EQ(word(out, 9), 0x3F800000u);
  EXPECT_EQ(word(out, 10), 0x3F800000u);
  EXPECT_EQ(word(out, 11), 0x3F800001u);
  EXPECT_EQ(word(out, 12), 1u);
  EXPECT_EQ(word(out, 13), 0u);
  EXPECT_EQ(word(out, 14), 0x41000000u); // 8.0f
  int64_t wide;
  std::memcpy(&wide, out.data() + 64, 8);
  EXPECT_EQ(wide, -6);
  EXPECT_EQ(int32_t(word(out, 18)), -1);
  EXPECT_EQ(word(out, 19), 0x3F800000u);
}

// Every thread squares its index into dynamic shared memory; after the
// barrier each reads another thread's value and thread 0 sums them all.
const char *kReduce = R"(
.version 8.0
.target sm_90
.address_size 64
.extern .shared .align 16 .b8 buffer[];

.visible .entry reduce(.param .u64 out)
.maxntid 64, 1, 1
{
  .reg .b32 %r<10>;
  .reg .b64 %rd<10>;
  .reg .pred %p<3>;
  ld.param.b64 %rd1, [out];
  cvta.to.global.u64 %rd1, %rd1;
  mov.u32 %r1, %tid.x;
  mul.lo.s32 %r2, %r1, %r1;
  mov.b64 %rd2, buffer;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd2, %rd3;
  st.shared.b32 [%rd4], %r2;
  bar.sync 0;
  mov.b32 %r3, 63;
  sub.s32 %r4, %r3, %r1;
  mul.wide.u32 %rd5, %r4, 4;
  add.s64 %rd6, %rd2, %rd5;
  ld.shared.b32 %r5, [%rd6];
  add.s64 %rd7, %rd1, %rd3;
  st.global.b32 [%rd7+4], %r5;
  setp.ne.s32 %p1, %r1, 0;
  @%p1 bra $L_done;
  mov.b32 %r6, 0;
  mov.b32 %r7, 0;
$L_loop:
  mul.wide.u32 %rd8, %r7, 4;
  add.s64 %rd9, %rd2, %rd8;
  ld.shared.b32 %r8, [%rd9];
  add.s32 %r6, %r6, %r8;
  add.s32 %r7, %r7, 1;
  setp.lt.u32 %p2, %r7, 64;
  @%p2 bra $L_loop;
  st.global.b32 [%rd1], %r6;
$L_done:
  ret;
}
)";

TEST(PtxInterpreterTest, BarriersOrderSharedMemoryAcrossThreads) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kReduce, error);
  ASSERT_TRUE(module) << error;
  std::vector<uint8_t> out(65 * 4, 0);
  Memory memory{{&out}};
  Launch launch;
  launch.grid[0] = 2;
  launch.block[0] = 64;
  launch.dynamicShared = 64 * 4;
  addPointer(launch, out.data());
  const growc::ptx::Kernel &kernel = *module->find("reduce");
  ASSERT_EQ(growc::ptx::run(*module, kernel, launch, memory.check()), "");
  EXPECT_EQ(word(out, 0), 63u * 64u * 127u / 6u);
  for (uint32_t t = 0; t < 64; ++t)
    EXPECT_EQ(word(out, 1 + t), (63 - t) * (63 - t)) << t;

  // Too little dynamic shared memory: thread 32 stores past its end.
  launch.dynamicShared = 32 * 4;
  error = growc::ptx::run(*module, kernel, launch, memory.check());
  EXPECT_NE(error.find("kernel 'reduce', PTX line 20: out-of-bounds store"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("thread 32,0,0 of block 0,0,0"), std::string::npos)
      << error;

  // More threads than the kernel's .maxntid.
  launch.dynamicShared = 128 * 4;
  launch.block[0] = 128;
  error = growc::ptx::run(*module, kernel, launch, memory.check());
  EXPECT_NE(error.find("more than the kernel's .maxntid 64"), std::string::npos)
      << error;
}

/// Runs `ptx`'s `reduce` on one block of 64 threads (256 bytes of dynamic
/// shared memory) with an output of `outWords` words; returns its error.
std::string runOneBlock(const std::string &ptx, size_t outWords) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(ptx, error);
  if (!module)
    return "parse: " + error;
  std::vector<uint8_t> out(outWords * 4, 0);
  Memory memory{{&out}};
  Launch launch;
  launch.block[0] = 64;
  launch.dynamicShared = 64 * 4;
  addPointer(launch, out.data());
  return growc::ptx::run(*module, *module->find("reduce"), launch,
                         memory.check());
}

// Without the barrier the kernel races: on a GPU thread 0 may read its
// neighbours' squares before they are written. Threads run one at a time
// here, so the race detector has to say so.
TEST(PtxInterpreterTest, AMissingBarrierIsASharedMemoryRace) {
  std::string ptx = kReduce;
  ptx.replace(ptx.find("  bar.sync 0;\n"), 14, "  // no barrier\n");
  std::string error = runOneBlock(ptx, 65);
  EXPECT_NE(error.find("PTX line 20: shared-memory race: this thread writes "
                       "shared memory that thread 0 read since the last "
                       "barrier"),
            std::string::npos)
      << error;
}

TEST(PtxInterpreterTest, GlobalAccessesOutsideTheAllocationsAreFaults) {
  // Room for out[0..32]: thread 32 writes out[33].
  std::string error = runOneBlock(kReduce, 33);
  EXPECT_NE(error.find("PTX line 28: out-of-bounds store of 4 bytes"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("thread 32,0,0"), std::string::npos) << error;
}

// A vector access must be aligned to its whole size, as on a GPU, which
// faults otherwise: 16 bytes read from 4 bytes into an allocation.
TEST(PtxInterpreterTest, MisalignedAccessesAreFaults) {
  const char *ptx = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry misaligned(.param .u64 in)
{
  .reg .b32 %r<5>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [in];
  ld.global.v4.b32 {%r1, %r2, %r3, %r4}, [%rd1+4];
  ret;
}
)";
  std::string error;
  std::unique_ptr<Module> module = Module::parse(ptx, error);
  ASSERT_TRUE(module) << error;
  std::vector<uint8_t> in(64); // 16-byte aligned, as operator new gives
  ASSERT_EQ(reinterpret_cast<uintptr_t>(in.data()) % 16, 0u);
  Memory memory{{&in}};
  Launch launch;
  addPointer(launch, in.data());
  error = growc::ptx::run(*module, *module->find("misaligned"), launch,
                          memory.check());
  EXPECT_NE(error.find("PTX line 9: misaligned load of 16 bytes"),
            std::string::npos)
      << error;
}

TEST(PtxInterpreterTest, WhatItCannotRunFailsToLoadWithTheLine) {
  std::string error;
  std::string ptx = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry warp(.param .u64 out)
{
  .reg .b32 %r<4>;
  mov.u32 %r1, %tid.x;
  vote.sync.ballot.b32 %r2, %p1, -1;
  ret;
}
)";
  EXPECT_FALSE(Module::parse(ptx, error));
  EXPECT_EQ(error,
            "PTX line 8: unsupported instruction 'vote.sync.ballot.b32'");

  std::string undeclared = ptx;
  undeclared.replace(undeclared.find("vote"),
                     undeclared.find(";", undeclared.find("shfl")) -
                         undeclared.find("shfl"),
                     "add.s32 %r2, %r9, 1");
  EXPECT_FALSE(Module::parse(undeclared, error));
  EXPECT_EQ(error, "PTX line 8: unknown register '%r9'");
}

// Warp shuffles, two warps of 32: each lane offers 10 * its thread index.
const char *kShuffle = R"(
.version 8.0
.target sm_90
.address_size 64
.visible .entry shuffle(.param .u64 out)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<8>;
  .reg .pred %p<4>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  mul.lo.s32 %r2, %r1, 10;
  shfl.sync.bfly.b32 %r3, %r2, 1, 31, -1;
  shfl.sync.idx.b32 %r4, %r2, 5, 31, -1;
  shfl.sync.down.b32 %r5|%p1, %r2, 1, 31, -1;
  selp.b32 %r6, 1, 0, %p1;
  shfl.sync.up.b32 %r7|%p2, %r2, 1, 0, -1;
  selp.b32 %r8, 1, 0, %p2;
  mul.wide.u32 %rd2, %r1, 24;
  add.s64 %rd3, %rd1, %rd2;
  st.global.b32 [%rd3], %r3;
  st.global.b32 [%rd3+4], %r4;
  st.global.b32 [%rd3+8], %r5;
  st.global.b32 [%rd3+12], %r6;
  st.global.b32 [%rd3+16], %r7;
  st.global.b32 [%rd3+20], %r8;
  ret;
}
)";

TEST(PtxInterpreterTest, ShufflesFollowTheIsaPerWarp) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kShuffle, error);
  ASSERT_TRUE(module) << error;
  std::vector<uint8_t> out(64 * 24, 0);
  Memory memory{{&out}};
  Launch launch;
  launch.block[0] = 64;
  addPointer(launch, out.data());
  ASSERT_EQ(growc::ptx::run(*module, *module->find("shuffle"), launch,
                            memory.check()),
            "");
  for (uint32_t t = 0; t < 64; ++t) {
    uint32_t lane = t % 32, warp = t - lane;
    EXPECT_EQ(word(out, 6 * t), (t ^ 1) * 10) << t;        // butterfly
    EXPECT_EQ(word(out, 6 * t + 1), (warp + 5) * 10) << t; // lane 5
    // down by 1 within [0, 31]: the last lane keeps its own value.
    EXPECT_EQ(word(out, 6 * t + 2), lane < 31 ? (t + 1) * 10 : t * 10) << t;
    EXPECT_EQ(word(out, 6 * t + 3), lane < 31 ? 1u : 0u) << t;
    // up by 1: the first lane keeps its own.
    EXPECT_EQ(word(out, 6 * t + 4), lane > 0 ? (t - 1) * 10 : t * 10) << t;
    EXPECT_EQ(word(out, 6 * t + 5), lane > 0 ? 1u : 0u) << t;
  }
}

// One warp: D = A * B + C with m16n8k16 (bf16 in, f32 accumulators),
// A's fragments from ldmatrix.x4 of a row-major 16x16 tile, B's from
// ldmatrix.x2 of B transposed (8x16, as mma's "col" layout wants) and,
// again, from ldmatrix.x2.trans of B row-major (16x8): the recipe of
// CUTLASS and FlashAttention-2. Both products must equal the host's.
const char *kMma = R"(
.version 8.0
.target sm_90
.address_size 64
.visible .entry mma(.param .u64 pA, .param .u64 pBt, .param .u64 pB,
                    .param .u64 pC, .param .u64 pD1, .param .u64 pD2)
.reqntid 32, 1, 1
{
  .reg .b32 %r<64>;
  .reg .b64 %rd<32>;
  .reg .f32 %f<16>;
  .shared .align 16 .b8 sA[512];
  .shared .align 16 .b8 sBt[256];
  .shared .align 16 .b8 sB[256];
  ld.param.u64 %rd1, [pA];
  ld.param.u64 %rd2, [pBt];
  ld.param.u64 %rd3, [pB];
  ld.param.u64 %rd4, [pC];
  ld.param.u64 %rd5, [pD1];
  ld.param.u64 %rd6, [pD2];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd7, %r1, 16;
  add.s64 %rd8, %rd1, %rd7;
  ld.global.v4.b32 {%r2, %r3, %r4, %r5}, [%rd8];
  mov.u64 %rd9, sA;
  add.s64 %rd10, %rd9, %rd7;
  st.shared.v4.b32 [%rd10], {%r2, %r3, %r4, %r5};
  mul.wide.u32 %rd11, %r1, 8;
  add.s64 %rd12, %rd2, %rd11;
  ld.global.v2.b32 {%r6, %r7}, [%rd12];
  mov.u64 %rd13, sBt;
  add.s64 %rd14, %rd13, %rd11;
  st.shared.v2.b32 [%rd14], {%r6, %r7};
  add.s64 %rd15, %rd3, %rd11;
  ld.global.v2.b32 {%r8, %r9}, [%rd15];
  mov.u64 %rd16, sB;
  add.s64 %rd17, %rd16, %rd11;
  st.shared.v2.b32 [%rd17], {%r8, %r9};
  bar.sync 0;
  // A: lane l gives row l % 8 + 8 * ((l / 8) % 2), column 8 * (l / 16).
  and.b32 %r10, %r1, 7;
  shr.u32 %r11, %r1, 3;
  and.b32 %r12, %r11, 1;
  shl.b32 %r13, %r12, 3;
  add.s32 %r14, %r10, %r13;
  shr.u32 %r15, %r1, 4;
  shl.b32 %r16, %r15, 3;
  shl.b32 %r17, %r14, 4;
  add.s32 %r18, %r17, %r16;
  mul.wide.u32 %rd18, %r18, 2;
  add.s64 %rd19, %rd9, %rd18;
  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r20, %r21, %r22, %r23}, [%rd19];
  // B transposed: lane l gives row (n) l % 8, column (k) 8 * ((l / 8) % 2).
  shl.b32 %r24, %r10, 4;
  add.s32 %r25, %r24, %r13;
  mul.wide.u32 %rd20, %r25, 2;
  add.s64 %rd21, %rd13, %rd20;
  ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%r26, %r27}, [%rd21];
  // B row-major, transposed by ldmatrix: lane l gives row (k) l % 16.
  and.b32 %r28, %r1, 15;
  mul.wide.u32 %rd22, %r28, 16;
  add.s64 %rd23, %rd16, %rd22;
  ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r29, %r30}, [%rd23];
  // C and D: lane l holds row l / 4 (and + 8), columns 2 * (l % 4) + 0, 1.
  shr.u32 %r31, %r1, 2;
  and.b32 %r32, %r1, 3;
  shl.b32 %r33, %r31, 3;
  shl.b32 %r34, %r32, 1;
  add.s32 %r35, %r33, %r34;
  mul.wide.u32 %rd24, %r35, 4;
  add.s64 %rd25, %rd4, %rd24;
  ld.global.v2.f32 {%f1, %f2}, [%rd25];
  ld.global.v2.f32 {%f3, %f4}, [%rd25+256];
  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f5, %f6, %f7, %f8}, {%r20, %r21, %r22, %r23}, {%r26, %r27}, {%f1, %f2, %f3, %f4};
  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f9, %f10, %f11, %f12}, {%r20, %r21, %r22, %r23}, {%r29, %r30}, {%f1, %f2, %f3, %f4};
  add.s64 %rd26, %rd5, %rd24;
  st.global.v2.f32 [%rd26], {%f5, %f6};
  st.global.v2.f32 [%rd26+256], {%f7, %f8};
  add.s64 %rd27, %rd6, %rd24;
  st.global.v2.f32 [%rd27], {%f9, %f10};
  st.global.v2.f32 [%rd27+256], {%f11, %f12};
  ret;
}
)";

uint16_t bf16Bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return uint16_t(bits >> 16); // values chosen to be exact in bf16
}

TEST(PtxInterpreterTest, TensorCoreMmaWithLdmatrixFragments) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kMma, error);
  ASSERT_TRUE(module) << error;
  // Small integers and halves: exact in bf16, sums exact in f32.
  float a[16][16], b[16][8], c[16][8];
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k)
      a[i][k] = float((i * 7 + k * 3) % 11 - 5) * 0.5f;
  for (int k = 0; k < 16; ++k)
    for (int j = 0; j < 8; ++j)
      b[k][j] = float((k * 5 + j * 13) % 9 - 4);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j)
      c[i][j] = float(i * 8 + j) * 0.25f;
  std::vector<uint8_t> aBytes(512), btBytes(256), bBytes(256), cBytes(512),
      d1(512, 0), d2(512, 0);
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k) {
      uint16_t v = bf16Bits(a[i][k]);
      std::memcpy(aBytes.data() + 2 * (i * 16 + k), &v, 2);
    }
  for (int k = 0; k < 16; ++k)
    for (int j = 0; j < 8; ++j) {
      uint16_t v = bf16Bits(b[k][j]);
      std::memcpy(btBytes.data() + 2 * (j * 16 + k), &v, 2);
      std::memcpy(bBytes.data() + 2 * (k * 8 + j), &v, 2);
    }
  std::memcpy(cBytes.data(), c, 512);
  Memory memory{{&aBytes, &btBytes, &bBytes, &cBytes, &d1, &d2}};
  Launch launch;
  launch.block[0] = 32;
  for (std::vector<uint8_t> *buffer : memory.buffers)
    addPointer(launch, buffer->data());
  MemoryStats stats;
  ASSERT_EQ(growc::ptx::run(*module, *module->find("mma"), launch,
                            memory.check(), &stats),
            "");
  // Shared memory: the tiles' stores are conflict-free (v4: 4 quarter-warp
  // phases of 128 contiguous bytes; v2: 2 half-warp phases, twice). A's
  // and Bt's rows are 32 bytes apart, so an 8x8 matrix's eight rows of 16
  // bytes fall in the banks twice: 2 wavefronts per matrix (x4: 8, x2:
  // 4); B's 16-byte rows are contiguous: 1 per matrix (2).
  EXPECT_EQ(stats.sharedRequests, 6u);
  EXPECT_EQ(stats.sharedBytes, 512u + 256 + 256 + 512 + 256 + 256);
  EXPECT_EQ(stats.wavefronts, 4u + 2 + 2 + 8 + 4 + 2);
  EXPECT_EQ(stats.idealWavefronts, 4u + 2 + 2 + 4 + 2 + 2);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      float want = c[i][j];
      for (int k = 0; k < 16; ++k)
        want += a[i][k] * b[k][j];
      float got1, got2;
      std::memcpy(&got1, d1.data() + 4 * (i * 8 + j), 4);
      std::memcpy(&got2, d2.data() + 4 * (i * 8 + j), 4);
      EXPECT_EQ(got1, want) << i << "," << j;
      EXPECT_EQ(got2, want) << i << "," << j;
    }
}

/// A copy kernel: each thread of the grid copies the element at index
/// (its global index) x `stride` of `in` to `out`, `bytes` bytes with
/// `load` and `store` (their operand `%v`).
std::string copyKernel(unsigned bytes, const std::string &load,
                       const std::string &store) {
  return R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry copy(.param .u64 in, .param .u64 out, .param .u32 stride)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<16>;
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  ld.param.u32 %r1, [stride];
  mov.u32 %r2, %tid.x;
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mad.lo.s32 %r5, %r3, %r4, %r2;
  mul.lo.s32 %r6, %r5, %r1;
  mul.wide.u32 %rd3, %r6, )" +
         std::to_string(bytes) + R"(;
  add.s64 %rd4, %rd1, %rd3;
  add.s64 %rd5, %rd2, %rd3;
  )" + load +
         R"(, [%rd4];
  )" + store +
         R"( [%rd5], )" +
         (load.find('{') != std::string::npos
              ? load.substr(load.find('{'))
              : load.substr(load.rfind(' ') + 1)) +
         R"(;
  ret;
}
)";
}

/// The first 256-byte aligned byte of `v` (the driver's allocations are
/// aligned so; sector counts depend on it).
uint8_t *aligned(std::vector<uint8_t> &v) {
  uint64_t a = reinterpret_cast<uint64_t>(v.data());
  return v.data() + (256 - a % 256) % 256;
}

/// Runs `ptx`'s `copy` over 2 blocks of 64 threads (4 warps) with `stride`,
/// on 256-byte aligned buffers as the driver's are; returns what it
/// measured.
MemoryStats measureCopy(const std::string &ptx, unsigned bytes,
                        unsigned stride) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(ptx, error);
  EXPECT_TRUE(module) << error;
  if (!module)
    return {};
  size_t size = 128 * stride * bytes + 256;
  std::vector<uint8_t> in(size, 1), out(size, 0);
  Memory memory{{&in, &out}};
  Launch launch;
  launch.grid[0] = 2;
  launch.block[0] = 64;
  addPointer(launch, aligned(in));
  addPointer(launch, aligned(out));
  launch.params.resize(launch.params.size() + 4);
  std::memcpy(launch.params.data() + 16, &stride, 4);
  MemoryStats stats;
  EXPECT_EQ(growc::ptx::run(*module, *module->find("copy"), launch,
                            memory.check(), &stats),
            "");
  return stats;
}

// Global memory: 128 threads in 4 warps, each warp one load request and
// one store request, so 8 requests; what each touches follows from the
// addresses.
TEST(PtxInterpreterTest, MeasuresGlobalBytesWidthsAndSectors) {
  std::string f32 = copyKernel(4, "ld.global.f32 %r7", "st.global.f32");
  // Coalesced: a warp's 32 x 4 bytes are 4 whole sectors.
  MemoryStats s = measureCopy(f32, 4, 1);
  EXPECT_EQ(s.launches, 1u);
  EXPECT_EQ(s.loadBytes, 512u);
  EXPECT_EQ(s.storeBytes, 512u);
  EXPECT_EQ(s.bytes64 + s.bytes128, 0u);
  EXPECT_EQ(s.requests, 8u);
  EXPECT_EQ(s.sectors, 8u * 4);
  EXPECT_EQ(s.idealSectors, 8u * 4);
  // A stride of 32 floats: every lane its own sector, 32 per request.
  s = measureCopy(f32, 4, 32);
  EXPECT_EQ(s.loadBytes, 512u);
  EXPECT_EQ(s.requests, 8u);
  EXPECT_EQ(s.sectors, 8u * 32);
  EXPECT_EQ(s.idealSectors, 8u * 4);
  // 128-bit vectors: every byte, 16 sectors per request.
  s = measureCopy(copyKernel(16, "ld.global.v4.f32 {%r7, %r8, %r9, %r10}",
                             "st.global.v4.f32"),
                  16, 1);
  EXPECT_EQ(s.loadBytes, 2048u);
  EXPECT_EQ(s.storeBytes, 2048u);
  EXPECT_EQ(s.bytes128, 4096u);
  EXPECT_EQ(s.bytes64, 0u);
  EXPECT_EQ(s.requests, 8u);
  EXPECT_EQ(s.sectors, 8u * 16);
  EXPECT_EQ(s.idealSectors, 8u * 16);
  // 64-bit scalars: 8 sectors per request.
  s = measureCopy(copyKernel(8, "ld.global.b64 %rd6", "st.global.b64"), 8, 1);
  EXPECT_EQ(s.bytes64, 2048u);
  EXPECT_EQ(s.bytes128, 0u);
  EXPECT_EQ(s.sectors, 8u * 8);
}

// A loop: one block of 64 threads copies n floats, thread t elements t,
// t + 64, ... A warp's lanes meet at each iteration's load and store (the
// same instruction, the same occurrence in each thread), so n = 256 is 4
// iterations of 2 coalesced requests per warp; n = 240 leaves warp 1's last
// iteration to lanes 0-15 (2 sectors per request).
const char *kCopyLoop = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry copy_loop(.param .u64 in, .param .u64 out, .param .u32 n)
{
  .reg .pred %p<4>;
  .reg .b32 %r<16>;
  .reg .b64 %rd<16>;
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %tid.x;
$loop:
  setp.ge.u32 %p1, %r2, %r1;
  @%p1 bra $done;
  mul.wide.u32 %rd3, %r2, 4;
  add.s64 %rd4, %rd1, %rd3;
  add.s64 %rd5, %rd2, %rd3;
  ld.global.f32 %r3, [%rd4];
  st.global.f32 [%rd5], %r3;
  add.s32 %r2, %r2, 64;
  bra $loop;
$done:
  ret;
}
)";

TEST(PtxInterpreterTest, MeasuresRequestsPerLoopIteration) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kCopyLoop, error);
  ASSERT_TRUE(module) << error;
  for (auto [n, requests, sectors] :
       {std::tuple<uint32_t, uint64_t, uint64_t>{256, 16, 16 * 4},
        {240, 16, 14 * 4 + 2 * 2}}) {
    std::vector<uint8_t> in(256 * 4 + 256, 1), out(256 * 4 + 256, 0);
    Memory memory{{&in, &out}};
    Launch launch;
    launch.block[0] = 64;
    addPointer(launch, aligned(in));
    addPointer(launch, aligned(out));
    launch.params.resize(20);
    std::memcpy(launch.params.data() + 16, &n, 4);
    MemoryStats stats;
    ASSERT_EQ(growc::ptx::run(*module, *module->find("copy_loop"), launch,
                              memory.check(), &stats),
              "");
    EXPECT_EQ(stats.loadBytes, 4 * n) << n;
    EXPECT_EQ(stats.requests, requests) << n;
    EXPECT_EQ(stats.sectors, sectors) << n;
    EXPECT_EQ(stats.idealSectors, sectors) << n;
  }
}

// Shared memory, one warp: each lane stores its word at its index (one
// conflict-free request), then reads word lane x stride through a generic
// address (cvta), which must count as shared.
const char *kBanks = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry banks(.param .u64 out, .param .u32 stride)
.reqntid 32, 1, 1
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<16>;
  .shared .align 16 .b8 s[4096];
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [stride];
  mov.u32 %r2, %tid.x;
  mov.u64 %rd2, s;
  mul.wide.u32 %rd3, %r2, 4;
  add.s64 %rd4, %rd2, %rd3;
  st.shared.b32 [%rd4], %r2;
  bar.sync 0;
  mul.lo.s32 %r3, %r2, %r1;
  mul.wide.u32 %rd5, %r3, 4;
  add.s64 %rd6, %rd2, %rd5;
  cvta.shared.u64 %rd7, %rd6;
  ld.b32 %r4, [%rd7];
  add.s64 %rd8, %rd1, %rd3;
  st.global.b32 [%rd8], %r4;
  ret;
}
)";

TEST(PtxInterpreterTest, MeasuresSharedMemoryBankConflicts) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kBanks, error);
  ASSERT_TRUE(module) << error;
  // The read's wavefronts by stride: 0 is a broadcast of one word, 1 one
  // word per bank, 2 puts lanes l and l + 16 in one bank (2-way), 32 all
  // lanes in bank 0 (32-way).
  for (auto [stride, wavefronts] :
       {std::pair<uint32_t, uint64_t>{0, 1}, {1, 1}, {2, 2}, {32, 32}}) {
    std::vector<uint8_t> out(32 * 4, 0);
    Memory memory{{&out}};
    Launch launch;
    launch.block[0] = 32;
    addPointer(launch, out.data());
    launch.params.resize(12);
    std::memcpy(launch.params.data() + 8, &stride, 4);
    MemoryStats stats;
    ASSERT_EQ(growc::ptx::run(*module, *module->find("banks"), launch,
                              memory.check(), &stats),
              "");
    EXPECT_EQ(word(out, 3), stride * 3 < 32 ? stride * 3 : 0) << stride;
    EXPECT_EQ(stats.sharedRequests, 2u) << stride;
    EXPECT_EQ(stats.sharedBytes, 256u) << stride;
    EXPECT_EQ(stats.wavefronts, 1 + wavefronts) << stride;
    EXPECT_EQ(stats.idealWavefronts, 2u) << stride;
    // Only the output store is global.
    EXPECT_EQ(stats.requests, 1u) << stride;
    EXPECT_EQ(stats.loadBytes, 0u) << stride;
    EXPECT_EQ(stats.storeBytes, 128u) << stride;
  }
}

// Atomic adds from 2 blocks of 64 threads: 1.5 each into out[0]; 2^-24
// each into out[1] = 1.0, which every f32 add rounds back to 1.0 (a tie, to
// even), where one exact sum would not; a counter in out[2] whose old
// values (atom's result) are each taken once: each thread sets out[4 +
// old].
const char *kAtomics = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry atomics(.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd1, %rd1;
  mov.f32 %f1, 0f3FC00000;
  red.global.add.f32 [%rd1], %f1;
  mov.f32 %f2, 0f33800000;
  red.relaxed.gpu.global.add.f32 [%rd1+4], %f2;
  atom.global.add.u32 %r1, [%rd1+8], 1;
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3+16], 1;
  ret;
}
)";

TEST(PtxInterpreterTest, AtomicAddsAccumulateEveryThread) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kAtomics, error);
  ASSERT_TRUE(module) << error;
  std::vector<uint8_t> out(4 * 132, 0);
  float one = 1.0f;
  std::memcpy(out.data() + 4, &one, 4);
  Memory memory{{&out}};
  Launch launch;
  launch.grid[0] = 2;
  launch.block[0] = 64;
  addPointer(launch, out.data());
  MemoryStats stats;
  ASSERT_EQ(growc::ptx::run(*module, *module->find("atomics"), launch,
                            memory.check(), &stats),
            "");
  float sum, unchanged;
  std::memcpy(&sum, out.data(), 4);
  std::memcpy(&unchanged, out.data() + 4, 4);
  EXPECT_EQ(sum, 192.0f);
  EXPECT_EQ(unchanged, 1.0f);
  EXPECT_EQ(word(out, 2), 128u);
  for (size_t i = 4; i < 132; ++i)
    EXPECT_EQ(word(out, i), 1u) << i;
  // Three 4-byte atomics and one store per thread, counted as stored.
  EXPECT_EQ(stats.storeBytes, 128u * 16u);
  EXPECT_EQ(stats.loadBytes, 0u);

  std::string cas = kAtomics;
  cas.replace(cas.find("atom.global.add.u32"), 19, "atom.global.cas.b32");
  EXPECT_FALSE(Module::parse(cas, error));
  EXPECT_NE(error.find("PTX line 15: unsupported instruction "
                       "'atom.global.cas.b32': modifier 'cas'"),
            std::string::npos)
      << error;
}

// Vector reductions (red.global.add.v2/v4.f32, PTX ISA 8.1, sm_90), 2
// blocks of 64 threads: thread t adds {1.5, t} to words 2t, 2t + 1 of
// out (the guard, a v2 on an inline-asm scope's predicate, as the
// attention backward writes it) and {t, 2, 0.25, -t} to words 128 + 4t..,
// so each word gets both blocks' adds: {3, 2t} and {2t, 4, 0.5, -2t}.
const char *kVectorReductions = R"(.version 8.1
.target sm_90
.address_size 64
.visible .entry reductions(.param .u64 out)
{
  .reg .b32 %r<3>;
  .reg .f32 %f<6>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd1, %rd1;
  mov.u32 %r1, %tid.x;
  cvt.rn.f32.u32 %f1, %r1;
  neg.f32 %f2, %f1;
  mov.f32 %f3, 0f3FC00000;
  mov.f32 %f4, 0f40000000;
  mov.f32 %f5, 0f3E800000;
  mul.wide.u32 %rd2, %r1, 8;
  add.s64 %rd3, %rd1, %rd2;
  {
  .reg .pred pair;
  .reg .b64 low;
  and.b64 low, %rd3, 7;
  setp.eq.b64 pair, low, 0;
  @pair red.global.add.v2.f32 [%rd3], {%f3, %f1};
  @!pair red.global.add.f32 [%rd3], %f3;
  }
  mul.wide.u32 %rd4, %r1, 16;
  add.s64 %rd5, %rd1, %rd4;
  red.relaxed.gpu.global.add.v4.f32 [%rd5+512], {%f1, %f4, %f5, %f2};
  ret;
}
)";

TEST(PtxInterpreterTest, VectorReductionsAddEveryElement) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(kVectorReductions, error);
  ASSERT_TRUE(module) << error;
  std::vector<uint8_t> storage(4 * 384 + 256, 0);
  uint8_t *out = aligned(storage);
  Memory memory{{&storage}};
  Launch launch;
  launch.grid[0] = 2;
  launch.block[0] = 64;
  addPointer(launch, out);
  MemoryStats stats;
  ASSERT_EQ(growc::ptx::run(*module, *module->find("reductions"), launch,
                            memory.check(), &stats),
            "");
  auto at = [&](size_t i) {
    float v;
    std::memcpy(&v, out + 4 * i, 4);
    return v;
  };
  for (int t = 0; t < 64; ++t) {
    EXPECT_EQ(at(2 * t), 3.0f) << t;
    EXPECT_EQ(at(2 * t + 1), 2.0f * t) << t;
    EXPECT_EQ(at(128 + 4 * t), 2.0f * t) << t;
    EXPECT_EQ(at(128 + 4 * t + 1), 4.0f) << t;
    EXPECT_EQ(at(128 + 4 * t + 2), 0.5f) << t;
    EXPECT_EQ(at(128 + 4 * t + 3), -2.0f * t) << t;
  }
  // One 8-byte and one 16-byte access per thread, stored; per warp one
  // request each over 256 and 512 contiguous bytes: 8 and 16 sectors.
  EXPECT_EQ(stats.storeBytes, 128u * 24);
  EXPECT_EQ(stats.bytes64, 128u * 8);
  EXPECT_EQ(stats.bytes128, 128u * 16);
  EXPECT_EQ(stats.requests, 8u);
  EXPECT_EQ(stats.sectors, 4u * (8 + 16));
  EXPECT_EQ(stats.idealSectors, stats.sectors);

  // A vector red is one access of its whole size: misaligned, a fault.
  std::string shifted = kVectorReductions;
  shifted.replace(shifted.find("[%rd5+512]"), 10, "[%rd5+520]");
  module = Module::parse(shifted, error);
  ASSERT_TRUE(module) << error;
  error = growc::ptx::run(*module, *module->find("reductions"), launch,
                          memory.check());
  EXPECT_NE(error.find("PTX line 29: misaligned atomic of 16 bytes"),
            std::string::npos)
      << error;

  // Malformed forms fail to load, naming the line.
  const std::pair<const char *, const char *> malformed[] = {
      {"{%f1, %f4, %f5, %f2}", "%f1"},
      {"{%f1, %f4, %f5, %f2}", "{%f1, %f4}"},
      {"{%f1, %f4, %f5, %f2}", "{%f1, %f4, _, %f2}"},
      {"red.relaxed.gpu.global.add.v4.f32", "red.global.add.v4.u32"},
      {"red.relaxed.gpu.global.add.v4.f32 [%rd5+512],",
       "atom.global.add.v4.f32 {%f1, %f4, %f5, %f2}, [%rd5+512],"}};
  const char *messages[] = {"red.v4 takes [address], {a, b, c, d} (registers)",
                            "red.v4 takes [address], {a, b, c, d} (registers)",
                            "red.v4 takes [address], {a, b, c, d} (registers)",
                            "vector atomics only as red.add.v2/v4.f32",
                            "vector atomics only as red.add.v2/v4.f32"};
  for (size_t i = 0; i < std::size(malformed); ++i) {
    std::string ptx = kVectorReductions;
    size_t from = ptx.find(malformed[i].first);
    ASSERT_NE(from, std::string::npos) << i;
    ptx.replace(from, std::strlen(malformed[i].first), malformed[i].second);
    EXPECT_FALSE(Module::parse(ptx, error)) << i;
    EXPECT_NE(error.find("PTX line 29: "), std::string::npos) << error;
    EXPECT_NE(error.find(messages[i]), std::string::npos) << error;
  }
}

// cp.async, one warp: each thread copies 16 bytes of `in` to its slot of
// the tile's first half (a group) and 4 bytes, zero-filled to 16, to its
// slot of the second half, which it filled with ones before (another
// group). After wait_group 1 only the first group has landed; after
// wait_all and the barrier each thread reads its neighbour's (31 - tid)
// second-half slot. Out, 16 words per thread: the first slot, the second
// slot's first word before wait_all, the neighbour's second slot, and a
// vector of constants (as LLVM stores zeros: {0f00000000, ...}).
const char *kCopyAsync = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry copies(.param .u64 in, .param .u64 out)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<12>;
  .shared .align 16 .b8 tile[1024];
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 16;
  add.s64 %rd4, %rd1, %rd3;
  mov.u64 %rd5, tile;
  add.s64 %rd6, %rd5, %rd3;
  mov.b32 %r2, -1;
  st.shared.v4.b32 [%rd6+512], {%r2, %r2, %r2, %r2};
  cp.async.cg.shared.global [%rd6], [%rd4], 16;
  cp.async.commit_group;
  mov.b32 %r3, 4;
  cp.async.cg.shared.global [%rd6+512], [%rd4+512], 16, %r3;
  cp.async.commit_group;
  cp.async.wait_group 1;
  ld.shared.v4.b32 {%r4, %r5, %r6, %r7}, [%rd6];
  ld.shared.b32 %r8, [%rd6+512];
  cp.async.wait_all;
  bar.sync 0;
  mov.b32 %r9, 31;
  sub.s32 %r10, %r9, %r1;
  mul.wide.u32 %rd7, %r10, 16;
  add.s64 %rd8, %rd5, %rd7;
  ld.shared.v4.b32 {%r11, %r12, %r13, %r14}, [%rd8+512];
  mul.wide.u32 %rd9, %r1, 64;
  add.s64 %rd10, %rd2, %rd9;
  st.global.v4.b32 [%rd10], {%r4, %r5, %r6, %r7};
  st.global.b32 [%rd10+16], %r8;
  st.global.v4.b32 [%rd10+32], {%r11, %r12, %r13, %r14};
  st.global.v4.b32 [%rd10+48], {0f3F800000, 1, -1, 0};
  ret;
}
)";

/// Runs `ptx`'s `copies` on one warp; `out` gets its output.
std::string runCopies(const std::string &ptx, std::vector<uint8_t> &out,
                      MemoryStats *stats = nullptr) {
  std::string error;
  std::unique_ptr<Module> module = Module::parse(ptx, error);
  if (!module)
    return "parse: " + error;
  std::vector<uint8_t> in(1024);
  for (uint32_t w = 0; w < 256; ++w)
    std::memcpy(in.data() + 4 * w, &w, 4);
  out.assign(32 * 64, 0);
  Memory memory{{&in, &out}};
  Launch launch;
  launch.block[0] = 32;
  addPointer(launch, in.data());
  addPointer(launch, out.data());
  return growc::ptx::run(*module, *module->find("copies"), launch,
                         memory.check(), stats);
}

TEST(PtxInterpreterTest, CpAsyncLandsWhenItsGroupIsWaitedFor) {
  std::vector<uint8_t> out;
  MemoryStats stats;
  ASSERT_EQ(runCopies(kCopyAsync, out, &stats), "");
  for (uint32_t t = 0; t < 32; ++t) {
    for (uint32_t i = 0; i < 4; ++i)
      EXPECT_EQ(word(out, 16 * t + i), 4 * t + i) << t;
    EXPECT_EQ(word(out, 16 * t + 4), 0xffffffffu) << t; // not yet landed
    EXPECT_EQ(word(out, 16 * t + 8), 128 + 4 * (31 - t)) << t;
    for (uint32_t i = 9; i < 12; ++i)
      EXPECT_EQ(word(out, 16 * t + i), 0u) << t; // zero-filled
    EXPECT_EQ(word(out, 16 * t + 12), 0x3F800000u);
    EXPECT_EQ(word(out, 16 * t + 13), 1u);
    EXPECT_EQ(word(out, 16 * t + 14), 0xffffffffu);
    EXPECT_EQ(word(out, 16 * t + 15), 0u);
  }
  // The copies' global sources: 16 bytes (128-bit) and 4 bytes per thread.
  EXPECT_EQ(stats.loadBytes, 32u * 20u);
  EXPECT_EQ(stats.bytes128, 32u * 16u + 32u * 48u); // and the v4 stores

  // Without the first wait the thread reads its slot before the copy
  // lands: the zeros shared memory started with.
  std::string noWait = kCopyAsync;
  noWait.replace(noWait.find("  cp.async.wait_group 1;\n"), 25, "");
  ASSERT_EQ(runCopies(noWait, out), "");
  EXPECT_EQ(word(out, 16 * 5 + 1), 0u);
  // Without wait_all the neighbour's slot still holds its ones.
  std::string noWaitAll = kCopyAsync;
  noWaitAll.replace(noWaitAll.find("  cp.async.wait_all;\n"), 21, "");
  ASSERT_EQ(runCopies(noWaitAll, out), "");
  EXPECT_EQ(word(out, 16 * 5 + 8), 0xffffffffu);
  // Without the barrier (and the ones) thread 15 reads the slot thread
  // 16's copy fills: threads run one at a time, so thread 16's cp.async
  // (now line 20) writes what thread 15 read, from its issue on.
  std::string noBarrier = kCopyAsync;
  noBarrier.replace(noBarrier.find("  bar.sync 0;\n"), 14, "");
  noBarrier.replace(
      noBarrier.find("  st.shared.v4"),
      noBarrier.find("  cp.async.cg") - noBarrier.find("  st.shared.v4"), "");
  std::string error = runCopies(noBarrier, out);
  EXPECT_NE(error.find("PTX line 20: shared-memory race: this thread writes "
                       "shared memory that thread 15 read"),
            std::string::npos)
      << error;
}

// nvcc's PTX for the executor tests' toy kernels (a different compiler
// from growc's NVPTX path): the interpreter computes what ToyKernels.cu
// says.
TEST(PtxInterpreterTest, RunsNvccToyKernels) {
  const std::string path = GROWC_TOY_PTX_PATH;
  if (path.empty())
    GTEST_SKIP() << "nvcc was not found at build time";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string error;
  std::unique_ptr<Module> module = Module::parse(text.str(), error);
  ASSERT_TRUE(module) << error;

  std::vector<float> in(30), outValues(30, 0);
  for (int i = 0; i < 30; ++i)
    in[i] = 0.5f * float(i);
  std::vector<uint8_t> inBytes(120), outBytes(120, 0);
  std::memcpy(inBytes.data(), in.data(), 120);
  Memory memory{{&inBytes, &outBytes}};
  Launch launch;
  launch.grid[1] = 2;
  launch.grid[2] = 3;
  launch.block[0] = 32;
  launch.block[1] = 4;
  addPointer(launch, outBytes.data());
  addPointer(launch, inBytes.data());
  ASSERT_EQ(growc::ptx::run(*module, *module->find("add_one"), launch,
                            memory.check()),
            "");
  std::memcpy(outValues.data(), outBytes.data(), 120);
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(outValues[i], in[i] + 1.0f) << i;

  // embed: 6 tokens of a [5, 4] table.
  std::vector<int32_t> tokens = {4, 0, 3, 3, 1, 2};
  std::vector<float> table(20);
  for (int i = 0; i < 20; ++i)
    table[i] = float(i * i);
  std::vector<uint8_t> tokenBytes(24), tableBytes(80), embedded(96, 0);
  std::memcpy(tokenBytes.data(), tokens.data(), 24);
  std::memcpy(tableBytes.data(), table.data(), 80);
  Memory embedMemory{{&tokenBytes, &tableBytes, &embedded}};
  Launch embed;
  embed.grid[0] = 6;
  embed.block[0] = 256;
  addPointer(embed, tokenBytes.data());
  addPointer(embed, embedded.data());
  addPointer(embed, tableBytes.data());
  ASSERT_EQ(growc::ptx::run(*module, *module->find("embed"), embed,
                            embedMemory.check()),
            "");
  for (int t = 0; t < 6; ++t)
    for (int d = 0; d < 4; ++d) {
      float v;
      std::memcpy(&v, embedded.data() + 4 * (t * 4 + d), 4);
      EXPECT_EQ(v, table[tokens[t] * 4 + d]);
    }
}

} // namespace
