//===- KernelOps.cpp - the kernel-level growk dialect ---------------------===//

#include "dialects/Kernel/KernelOps.h"

using namespace mlir;
using namespace growc::growk;

#include "dialects/Kernel/KernelDialect.cpp.inc"

void GrowKDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Kernel/KernelOps.cpp.inc"
      >();
}

LogicalResult MatmulOp::verify() {
  ArrayRef<int64_t> a = getLhs().getType().getShape();
  ArrayRef<int64_t> b = getRhs().getType().getShape();
  ArrayRef<int64_t> c = getResult().getType().getShape();
  if (a[1] != b[1])
    return emitOpError("contraction sizes differ: A is ")
           << getLhs().getType() << " and B is " << getRhs().getType()
           << " (B is [N, K])";
  if (c[0] != a[0] || c[1] != b[0])
    return emitOpError("result must be [")
           << a[0] << ", " << b[0] << "], got " << getResult().getType();
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Kernel/KernelOps.cpp.inc"
