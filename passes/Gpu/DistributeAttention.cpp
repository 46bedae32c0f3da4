//===- DistributeAttention.cpp - attention and its gradient for the GPU ---===//
//
// growk.attention and growk.attention_grad read every key row of a sample,
// so they are kernels of their own with a decomposition of their own: one
// thread per query row (forward, and the backward's dQ) or per key row (the
// backward's dK and dV), blocks over tiles of rows, heads and samples. The
// scores are recomputed where they are needed and never stored, not even a
// tile: flash-style. No float atomics anywhere, so every result is
// reproducible.
//
//===----------------------------------------------------------------------===//

#include "passes/Gpu/Distribution.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace growc;
using namespace growc::distribution;

namespace {

/// Scalar helpers for the per-thread code of the attention kernels.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return indexConstant(b, loc, v); }
  Value f32(double v) { return f32Constant(b, loc, v); }
  Value add(Value x, Value y) {
    return isa<IndexType>(x.getType())
               ? Value(arith::AddIOp::create(b, loc, x, y))
               : Value(arith::AddFOp::create(b, loc, x, y));
  }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) {
    return isa<IndexType>(x.getType())
               ? Value(arith::MulIOp::create(b, loc, x, y))
               : Value(arith::MulFOp::create(b, loc, x, y));
  }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, loc, memref, indices);
  }
  void store(Value value, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, loc, value, memref, indices);
  }
  /// A private [n] f32 row of the thread (registers or local memory).
  Value privateRow(int64_t n) {
    return memref::AllocaOp::create(b, loc,
                                    MemRefType::get({n}, b.getF32Type()));
  }
  /// for d in [0, n): body(d), with the builder inside the loop.
  void forEach(int64_t n, function_ref<void(Value)> body) {
    stridedLoop(b, loc, idx(0), n, 1, [&](OpBuilder &nb, Value d) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
      body(d);
    });
  }
  /// Σ_{d < n} term(d), in order.
  Value sum(int64_t n, function_ref<Value(Value)> term) {
    return foldLoop(b, loc, idx(0), idx(n), idx(1), f32(0.0),
                    [&](OpBuilder &nb, Value d, Value acc) {
                      OpBuilder::InsertionGuard guard(b);
                      b.setInsertionPoint(nb.getInsertionBlock(),
                                          nb.getInsertionPoint());
                      return add(acc, term(d));
                    });
  }
  /// `if (cond)`, with the builder inside its then-block.
  void ifThen(Value cond) {
    auto guard = scf::IfOp::create(b, loc, cond, /*withElse=*/false);
    b.setInsertionPoint(guard.thenBlock()->getTerminator());
  }
  Value less(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
};

/// The shared shape of both attention ops.
struct AttentionShape {
  int64_t batch, seq, heads, kvHeads, headDim, group, tile, tiles;
  double scale;

  template <typename OpT> static AttentionShape of(OpT op) {
    AttentionShape s;
    s.batch = op.getBatch();
    s.seq = op.getSeqLen();
    s.heads = op.getHeads();
    s.kvHeads = op.getKvHeads();
    s.headDim = op.getHeadDim();
    s.group = s.heads / s.kvHeads;
    s.tile = std::min<int64_t>(op.getKeyBlock(), s.seq);
    s.tiles = (s.seq + s.tile - 1) / s.tile;
    s.scale = 1.0 / std::sqrt(double(s.headDim));
    return s;
  }
};

/// Builds, at `b`, the grid of (row tile, head, sample) blocks with one
/// thread per row of the tile, and leaves the builder inside the guard
/// `position < seq`; returns (position, head, sample).
std::tuple<Value, Value, Value>
rowPerThreadGrid(Emitter &e, const AttentionShape &s, int64_t heads) {
  MLIRContext *ctx = e.b.getContext();
  auto blocks =
      createForall(e.b, e.loc, {s.tiles, heads, s.batch},
                   {blockDim(ctx, 0), blockDim(ctx, 1), blockDim(ctx, 2)});
  Value tileIndex = blocks.getInductionVar(0);
  Value head = blocks.getInductionVar(1), sample = blocks.getInductionVar(2);
  auto threads = createForall(e.b, e.loc, {s.tile}, {threadX(ctx)});
  Value position =
      e.add(e.mul(tileIndex, e.idx(s.tile)), threads.getInductionVar(0));
  e.ifThen(e.less(position, e.idx(s.seq)));
  return {position, head, sample};
}

/// Walks the keys 0..position of one query (scaled, in `query`) with an
/// online softmax; returns the running (max, sum).
std::pair<Value, Value>
onlineSoftmax(Emitter &e, const AttentionShape &s, Value query, Value k,
              Value sampleBase, Value kvColumn, Value position,
              function_ref<void(Value, Value, Value, Value)> perKey = nullptr) {
  Value negInf = e.f32(-std::numeric_limits<double>::infinity());
  auto keys = scf::ForOp::create(
      e.b, e.loc, e.idx(0), e.add(position, e.idx(1)), e.idx(1),
      ValueRange{negInf, e.f32(0.0)},
      [&](OpBuilder &kb, Location, Value key, ValueRange state) {
        OpBuilder::InsertionGuard guard(e.b);
        e.b.setInsertionPoint(kb.getInsertionBlock(), kb.getInsertionPoint());
        Value keyRow = e.add(sampleBase, key);
        Value score = e.sum(s.headDim, [&](Value d) {
          return e.mul(e.load(query, d),
                       e.load(k, {keyRow, e.add(kvColumn, d)}));
        });
        Value maxNew = arith::MaximumFOp::create(e.b, e.loc, state[0], score);
        Value correction = e.exp(e.sub(state[0], maxNew));
        Value prob = e.exp(e.sub(score, maxNew));
        Value sumNew = e.add(e.mul(state[1], correction), prob);
        if (perKey)
          perKey(keyRow, correction, prob, maxNew);
        scf::YieldOp::create(e.b, e.loc, ValueRange{maxNew, sumNew});
      });
  return {keys.getResult(0), keys.getResult(1)};
}

} // namespace

namespace growc {
namespace distribution {

LogicalResult distributeAttention(func::FuncOp kernel,
                                  growk::AttentionOp attention) {
  for (Operation &op : kernel.getBody().front())
    if (&op != attention.getOperation() &&
        !isa<arith::ConstantOp, func::ReturnOp>(op))
      return op.emitOpError("must not share a kernel with attention");
  AttentionShape s = AttentionShape::of(attention);
  Value q = attention.getQ(), k = attention.getK(), v = attention.getV();
  Value out = attention.getInit();
  OpBuilder b(attention);
  Emitter e{b, attention.getLoc()};
  auto [position, head, sample] = rowPerThreadGrid(e, s, s.heads);
  Value sampleBase = e.mul(sample, e.idx(s.seq));
  Value row = e.add(sampleBase, position);
  Value qColumn = e.mul(head, e.idx(s.headDim));
  Value kvColumn = e.mul(arith::DivUIOp::create(b, e.loc, head, e.idx(s.group)),
                         e.idx(s.headDim));
  // Private per thread: the scaled query row and the output accumulator.
  Value query = e.privateRow(s.headDim), acc = e.privateRow(s.headDim);
  Value scale = e.f32(s.scale), zero = e.f32(0.0);
  e.forEach(s.headDim, [&](Value d) {
    e.store(e.mul(e.load(q, {row, e.add(qColumn, d)}), scale), query, d);
    e.store(zero, acc, d);
  });
  // Keys 0..position (causal), online softmax; the accumulator is rescaled
  // whenever the running max grows.
  Value sum =
      onlineSoftmax(
          e, s, query, k, sampleBase, kvColumn, position,
          [&](Value keyRow, Value correction, Value prob, Value) {
            e.forEach(s.headDim, [&](Value d) {
              Value vd = e.load(v, {keyRow, e.add(kvColumn, d)});
              e.store(e.add(e.mul(e.load(acc, d), correction), e.mul(prob, vd)),
                      acc, d);
            });
          })
          .second;
  e.forEach(s.headDim, [&](Value d) {
    e.store(arith::DivFOp::create(b, e.loc, e.load(acc, d), sum), out,
            {row, e.add(qColumn, d)});
  });
  attention.erase();
  return success();
}

/// Flash-attention-2's backward, with S = scale · Q·Kᵀ (causal), P =
/// softmax(S), O = P·V:
///   D_i = dO_i · O_i, dP_ij = dO_i · V_j, dS_ij = P_ij (dP_ij − D_i),
///   dQ_i = scale Σ_j dS_ij K_j, dK_j = scale Σ_i dS_ij Q_i,
///   dV_j = Σ_i P_ij dO_i.
/// Two launches, so that each output has exactly one writer and no float
/// atomics are needed:
///  1. the kernel itself, one thread per (query row, head): the row's
///     log-sum-exp L_i by an online softmax over its keys, D_i, both saved
///     to scratch [B·T, heads], then dQ_i over the keys again with
///     P_ij = exp(S_ij − L_i);
///  2. a follower, one thread per (key row, KV head): for each query head
///     of the group and each query row at or after the key, P_ij and dS_ij
///     from the saved L_i and D_i, dK_j and dV_j accumulated privately.
/// Threads of a block walk the same rows in the same order, so a warp's
/// loads of a K, Q or dO row are one broadcast.
LogicalResult distributeAttentionGrad(func::FuncOp kernel,
                                      growk::AttentionGradOp op,
                                      HostChanges &changes) {
  for (Operation &other : kernel.getBody().front())
    if (&other != op.getOperation() &&
        !isa<arith::ConstantOp, func::ReturnOp>(other))
      return other.emitOpError("must not share a kernel with "
                               "growk.attention_grad");
  AttentionShape s = AttentionShape::of(op);
  int64_t rows = s.batch * s.seq;
  auto rowsByHeads =
      MemRefType::get({rows, s.heads}, Float32Type::get(kernel.getContext()));
  changes.scratch = {rowsByHeads, rowsByHeads};
  SmallVector<Value> scratch = addScratchArguments(kernel, changes.scratch);
  // The follower starts as a copy of the kernel, its own attention_grad
  // included; launch 2 is built from that copy's operands.
  func::FuncOp follower = createFollower(kernel, "dkv");
  changes.followers.push_back(follower);
  growk::AttentionGradOp copy;
  follower.walk([&](growk::AttentionGradOp found) { copy = found; });
  Location loc = op.getLoc();

  // Launch 1: L, D and dQ per (query row, head).
  {
    Value q = op.getQ(), k = op.getK(), v = op.getV(), o = op.getO(),
          dout = op.getDout(), dq = op.getDqInit();
    Value lse = scratch[0], delta = scratch[1];
    OpBuilder b(op);
    Emitter e{b, loc};
    auto [position, head, sample] = rowPerThreadGrid(e, s, s.heads);
    Value sampleBase = e.mul(sample, e.idx(s.seq));
    Value row = e.add(sampleBase, position);
    Value qColumn = e.mul(head, e.idx(s.headDim));
    Value kvColumn = e.mul(arith::DivUIOp::create(b, loc, head, e.idx(s.group)),
                           e.idx(s.headDim));
    Value query = e.privateRow(s.headDim), dOut = e.privateRow(s.headDim),
          acc = e.privateRow(s.headDim);
    Value scale = e.f32(s.scale), zero = e.f32(0.0);
    e.forEach(s.headDim, [&](Value d) {
      Value column = e.add(qColumn, d);
      e.store(e.mul(e.load(q, {row, column}), scale), query, d);
      e.store(e.load(dout, {row, column}), dOut, d);
      e.store(zero, acc, d);
    });
    auto [max, sum] =
        onlineSoftmax(e, s, query, k, sampleBase, kvColumn, position);
    Value logSumExp = e.add(max, math::LogOp::create(b, loc, sum));
    Value rowDot = e.sum(s.headDim, [&](Value d) {
      return e.mul(e.load(dOut, d), e.load(o, {row, e.add(qColumn, d)}));
    });
    e.store(logSumExp, lse, {row, head});
    e.store(rowDot, delta, {row, head});
    stridedLoop(b, loc, e.idx(0), e.add(position, e.idx(1)), e.idx(1),
                [&](OpBuilder &kb, Value key) {
                  OpBuilder::InsertionGuard guard(b);
                  b.setInsertionPoint(kb.getInsertionBlock(),
                                      kb.getInsertionPoint());
                  Value keyRow = e.add(sampleBase, key);
                  Value score = e.sum(s.headDim, [&](Value d) {
                    return e.mul(e.load(query, d),
                                 e.load(k, {keyRow, e.add(kvColumn, d)}));
                  });
                  Value prob = e.exp(e.sub(score, logSumExp));
                  Value dProb = e.sum(s.headDim, [&](Value d) {
                    return e.mul(e.load(dOut, d),
                                 e.load(v, {keyRow, e.add(kvColumn, d)}));
                  });
                  Value dScore = e.mul(prob, e.sub(dProb, rowDot));
                  e.forEach(s.headDim, [&](Value d) {
                    Value kd = e.load(k, {keyRow, e.add(kvColumn, d)});
                    e.store(e.add(e.load(acc, d), e.mul(dScore, kd)), acc, d);
                  });
                });
    e.forEach(s.headDim, [&](Value d) {
      e.store(e.mul(e.load(acc, d), scale), dq, {row, e.add(qColumn, d)});
    });
  }

  // Launch 2: dK and dV per (key row, KV head).
  {
    Value q = copy.getQ(), k = copy.getK(), v = copy.getV(),
          dout = copy.getDout(), dk = copy.getDkInit(), dv = copy.getDvInit();
    Block &entry = follower.getBody().front();
    unsigned first = entry.getNumArguments() - 2;
    Value lse = entry.getArgument(first), delta = entry.getArgument(first + 1);
    OpBuilder b(copy);
    Emitter e{b, loc};
    MLIRContext *ctx = b.getContext();
    auto blocks =
        createForall(b, loc, {s.tiles, s.kvHeads, s.batch},
                     {blockDim(ctx, 0), blockDim(ctx, 1), blockDim(ctx, 2)});
    Value tileStart = e.mul(blocks.getInductionVar(0), e.idx(s.tile));
    Value kvHead = blocks.getInductionVar(1);
    Value sample = blocks.getInductionVar(2);
    auto threads = createForall(b, loc, {s.tile}, {threadX(ctx)});
    Value position = e.add(tileStart, threads.getInductionVar(0));
    e.ifThen(e.less(position, e.idx(s.seq)));
    Value sampleBase = e.mul(sample, e.idx(s.seq));
    Value keyRow = e.add(sampleBase, position);
    Value kvColumn = e.mul(kvHead, e.idx(s.headDim));
    Value key = e.privateRow(s.headDim), value = e.privateRow(s.headDim);
    Value dKey = e.privateRow(s.headDim), dValue = e.privateRow(s.headDim);
    Value scale = e.f32(s.scale), zero = e.f32(0.0);
    e.forEach(s.headDim, [&](Value d) {
      Value column = e.add(kvColumn, d);
      e.store(e.mul(e.load(k, {keyRow, column}), scale), key, d);
      e.store(e.load(v, {keyRow, column}), value, d);
      e.store(zero, dKey, d);
      e.store(zero, dValue, d);
    });
    stridedLoop(b, loc, e.idx(0), s.group, 1, [&](OpBuilder &gb, Value g) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(gb.getInsertionBlock(), gb.getInsertionPoint());
      Value head = e.add(e.mul(kvHead, e.idx(s.group)), g);
      Value qColumn = e.mul(head, e.idx(s.headDim));
      // Queries from the tile's first row on, the same for every thread;
      // a query before the thread's key is masked (causal).
      stridedLoop(b, loc, tileStart, s.seq, 1, [&](OpBuilder &qb, Value query) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(qb.getInsertionBlock(), qb.getInsertionPoint());
        e.ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, query,
                                       position));
        Value queryRow = e.add(sampleBase, query);
        Value score = e.sum(s.headDim, [&](Value d) {
          return e.mul(e.load(q, {queryRow, e.add(qColumn, d)}),
                       e.load(key, d));
        });
        Value prob = e.exp(e.sub(score, e.load(lse, {queryRow, head})));
        Value dProb = e.sum(s.headDim, [&](Value d) {
          return e.mul(e.load(dout, {queryRow, e.add(qColumn, d)}),
                       e.load(value, d));
        });
        Value dScore =
            e.mul(prob, e.sub(dProb, e.load(delta, {queryRow, head})));
        e.forEach(s.headDim, [&](Value d) {
          Value column = e.add(qColumn, d);
          Value qd = e.load(q, {queryRow, column});
          Value dod = e.load(dout, {queryRow, column});
          e.store(e.add(e.load(dKey, d), e.mul(dScore, qd)), dKey, d);
          e.store(e.add(e.load(dValue, d), e.mul(prob, dod)), dValue, d);
        });
      });
    });
    e.forEach(s.headDim, [&](Value d) {
      Value column = e.add(kvColumn, d);
      e.store(e.mul(e.load(dKey, d), scale), dk, {keyRow, column});
      e.store(e.load(dValue, d), dv, {keyRow, column});
    });
  }
  copy.erase();
  op.erase();
  return success();
}

} // namespace distribution
} // namespace growc
