//===- HostStepOpInterface.td - ops that stay plan steps ---*- tablegen -*-===//
//
// What stays on the host when kernels are formed, said by the ops
// themselves instead of `isa<...>` lists and attribute checks in every pass
// that cares: kernel formation (a host step ends a group and is never
// outlined), the outlining API (it refuses a group holding one) and mixed
// precision all ask this interface.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_KERNEL_HOSTSTEPOPINTERFACE_TD
#define GROWC_DIALECT_KERNEL_HOSTSTEPOPINTERFACE_TD

include "mlir/IR/OpBase.td"

def GrowK_HostStepOpInterface : OpInterface<"HostStepOpInterface"> {
  let cppNamespace = "::growc::growk";
  let description = [{
    An op the plan runs as a step of its own (a library call: cuBLASLt or
    OpenBLAS GEMMs, the collective engine's all-reduce, the kernel
    library's attention), never part of a generated kernel. Kernel
    formation ends a group at such an op and leaves it in the host
    function; the plan emitter writes one step for it (docs/plan.md), so a
    new op implementing this interface needs a step kind there too.

    An op can be a host step dynamically: `growk.attention` is one only
    when `growc-attention-to-tensor-cores` has named its library kernel
    (`growc.library_kernel`); otherwise it is a kernel of its own.
  }];
  let methods = [
    InterfaceMethod<[{
        Whether this op runs as a plan step on the host rather than inside
        a generated kernel.
      }],
      "bool", "isHostStep", (ins), /*methodBody=*/[{}],
      /*defaultImplementation=*/[{ return true; }]>,
    InterfaceMethod<[{
        Whether the step reads and writes its operands as views (a buffer
        plus a byte offset, docs/plan.md), so that a slice feeding it or
        a slice it writes stays a view on the host instead of becoming a
        copy in a kernel. False for steps that work on whole buffers.
      }],
      "bool", "takesViews", (ins), /*methodBody=*/[{}],
      /*defaultImplementation=*/[{ return false; }]>,
  ];
}

#endif // GROWC_DIALECT_KERNEL_HOSTSTEPOPINTERFACE_TD
