//===- PtxInterpreterTest.cpp - The test-only PTX interpreter's own tests -===//
//
// The fake driver's PTX interpreter (PtxInterpreter.h) is what lets CI run
// growc's GPU artifacts; these tests check it against values worked out by
// hand from the PTX ISA, not against itself: the rounding and saturation
// of conversions, funnel shifts, carry chains, bit-field extraction, NaN
// rules; barriers and (dynamic) shared memory; the bounds checks, the
// shared-memory race check and the load errors; and nvcc's own PTX for the toy
// kernels (ToyKernels.cu), where nvcc exists.
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

using growc::ptx::Launch;
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

TEST(PtxInterpreterTest, WhatItCannotRunFailsToLoadWithTheLine) {
  std::string error;
  std::string ptx = R"(.version 8.0
.target sm_90
.address_size 64
.visible .entry warp(.param .u64 out)
{
  .reg .b32 %r<4>;
  mov.u32 %r1, %tid.x;
  shfl.sync.bfly.b32 %r2, %r1, 1, 31, -1;
  ret;
}
)";
  EXPECT_FALSE(Module::parse(ptx, error));
  EXPECT_EQ(error, "PTX line 8: unsupported instruction 'shfl.sync.bfly.b32'");

  std::string undeclared = ptx;
  undeclared.replace(undeclared.find("shfl"),
                     undeclared.find(";", undeclared.find("shfl")) -
                         undeclared.find("shfl"),
                     "add.s32 %r2, %r9, 1");
  EXPECT_FALSE(Module::parse(undeclared, error));
  EXPECT_EQ(error, "PTX line 8: unknown register '%r9'");
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
