//===- GrowInterfaces.td - grow dialect interfaces ---------*- tablegen -*-===//
//
// The interfaces through which the model verifier, growth and lowering learn
// which parameters an op reads and what shapes it expects them to have, and
// how reverse mode differentiates an op.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_GROW_INTERFACES_TD
#define GROWC_DIALECT_GROW_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Grow_ParameterUserOpInterface : OpInterface<"ParameterUserOpInterface"> {
  let cppNamespace = "::growc::grow";
  let description = [{
    An op that reads model parameters. It lists each parameter by its
    checkpoint name together with the shape the model configuration demands.
  }];
  let methods = [
    InterfaceMethod<
      "Appends (name, expected shape) for every parameter this op reads.",
      "void", "getParameterRequirements",
      (ins "::growc::grow::ConfigAttr":$config,
           "::llvm::SmallVectorImpl<::growc::grow::ParameterRequirement> &":$out)>
  ];
}

def Grow_VjpOpInterface : OpInterface<"VjpOpInterface"> {
  let cppNamespace = "::growc::grow";
  let description = [{
    An op that reverse mode can differentiate: given the cotangents of its
    results (null for a result nothing downstream depends on), it adds the
    cotangents of its operands and the gradients of the parameters it
    reads to the `VjpContext` (dialects/Grow/Vjp.h), using the lowering's
    tensor-level rules. `growc-lower-model-to-tensors` builds the grad and
    train graphs by walking a model's ops last to first through this
    interface.
  }];
  let methods = [
    InterfaceMethod<
      "Adds the cotangents of this op's inputs and parameters; fails with a "
      "diagnostic where the op cannot be differentiated.",
      "::llvm::LogicalResult", "buildVjp",
      (ins "::growc::grow::VjpContext &":$context,
           "::mlir::ValueRange":$resultCotangents)>
  ];
}

#endif // GROWC_DIALECT_GROW_INTERFACES_TD
