//===- GrowInterfaces.td - grow dialect interfaces ---------*- tablegen -*-===//
//
// The interface through which the model verifier, growth and lowering learn
// which parameters an op reads and what shapes it expects them to have.
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

#endif // GROWC_DIALECT_GROW_INTERFACES_TD
