// RUN: growc-opt %s --split-input-file --growc-append-optimizer-step --verify-diagnostics | FileCheck %s
// RUN: growc-opt %s --split-input-file --growc-append-optimizer-step=accumulate=4 --verify-diagnostics | FileCheck %s --check-prefix=ACC
// RUN: not growc-opt %s --split-input-file --growc-append-optimizer-step=accumulate=0 2>&1 | FileCheck %s --check-prefix=ZERO

// A grad function of two parameters becomes one AdamW step: lr and step
// after the targets, both moments of each parameter after the parameters,
// and the non-finite flag, the gradient norm, the updated parameters and
// moments after the loss, named as checkpoints name them.
// CHECK-LABEL: func.func @m(
// CHECK-SAME: %{{[^:]+}}: tensor<1x4xi32>, %{{[^:]+}}: tensor<1x4xi32>, %[[LR:[^:]+]]: tensor<1xf32>, %[[STEP:[^:]+]]: tensor<1xf32>, %[[W:[^:]+]]: tensor<8x4xf32>, %[[B:[^:]+]]: tensor<4xf32>, %[[MW:[^:]+]]: tensor<8x4xf32>, %[[MB:[^:]+]]: tensor<4xf32>, %[[VW:[^:]+]]: tensor<8x4xf32>, %[[VB:[^:]+]]: tensor<4xf32>)
// CHECK-SAME: -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4xf32>)
// CHECK-SAME: growc.graph = "train", growc.input_names = ["tokens", "targets", "lr", "step"]
// CHECK-SAME: growc.output_names = ["loss", "nonfinite", "grad_norm", "w", "b", "optimizer.exp_avg.w", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.w", "optimizer.exp_avg_sq.b"]
// CHECK-SAME: growc.param_copies = [true, false, false, false, false, false]
// CHECK-SAME: growc.param_names = ["w", "b", "optimizer.exp_avg.w", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.w", "optimizer.exp_avg_sq.b"]
// CHECK-SAME: growc.param_sources = ["w0", "b", "optimizer.exp_avg.w",
func.func @m(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> (tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>) attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.output_names = ["loss", "grad.w", "grad.b"], growc.param_names = ["w", "b"], growc.param_sources = ["w0", "b"], growc.param_copies = [true, false]} {
  // CHECK: %[[LOSS:.+]] = tensor.empty() : tensor<1xf32>
  // CHECK: %[[DW:.+]] = tensor.empty() : tensor<8x4xf32>
  // CHECK: %[[DB:.+]] = tensor.empty() : tensor<4xf32>
  %loss = tensor.empty() : tensor<1xf32>
  %dw = tensor.empty() : tensor<8x4xf32>
  %db = tensor.empty() : tensor<4xf32>
  // Every gradient is averaged over the ranks before anything reads it.
  // CHECK: %[[RW:.+]] = growk.all_reduce %[[DW]] : tensor<8x4xf32> -> tensor<8x4xf32>
  // CHECK: %[[RB:.+]] = growk.all_reduce %[[DB]] : tensor<4xf32> -> tensor<4xf32>
  // The global norm from each gradient's sum of squares (an output: what
  // clip_grad_norm_ returns), and the clip coefficient from it.
  // CHECK: linalg.generic {{.*}} ins(%[[RW]] : tensor<8x4xf32>) {{.*}} attrs = {growc.own_kernel}
  // CHECK: linalg.generic {{.*}} ins(%[[RB]] : tensor<4xf32>) {{.*}} attrs = {growc.own_kernel}
  // CHECK: %[[TOTAL:.+]] = linalg.generic {{.*}} : tensor<1xf32>, tensor<1xf32>) {{.*}} attrs = {growc.own_kernel}
  // CHECK: %[[NORM:.+]] = linalg.generic {{.*}} ins(%[[TOTAL]] : tensor<1xf32>)
  // CHECK-NEXT: ^bb0
  // CHECK-NEXT: math.sqrt
  // CHECK: %[[COEF:.+]] = linalg.generic {{.*}} ins(%[[NORM]] : tensor<1xf32>)
  // CHECK: arith.minimumf
  // A NaN/Inf loss (summed over the ranks) or squared norm sets the flag,
  // and the flag turns the update off.
  // CHECK: %[[LB:.+]] = linalg.generic {{.*}} ins(%[[LOSS]] : tensor<1xf32>)
  // CHECK: math.absf
  // CHECK-NEXT: arith.cmpf uge
  // CHECK: %[[LBR:.+]] = growk.all_reduce %[[LB]] {reduction = "sum"} : tensor<1xf32>
  // CHECK: %[[BAD:.+]] = linalg.generic {{.*}} ins(%[[TOTAL]], %[[LBR]] : tensor<1xf32>, tensor<1xf32>)
  // CHECK: arith.cmpf uge
  // CHECK: %[[UPD:.+]] = linalg.generic {{.*}} ins(%[[BAD]] : tensor<1xf32>)
  // CHECK: arith.select
  // Both moments, then the parameter, for each parameter in turn; each
  // keeps its old value (a select) where the update is off.
  // CHECK: %[[MW2:.+]] = linalg.generic {{.*}} ins(%[[MW]], %[[RW]], %[[COEF]], %[[UPD]] :
  // CHECK: arith.select
  // CHECK: %[[VW2:.+]] = linalg.generic {{.*}} ins(%[[VW]], %[[RW]], %[[COEF]], %[[UPD]] :
  // CHECK: %[[W2:.+]] = linalg.generic {{.*}} ins(%[[W]], %[[MW2]], %[[VW2]], %[[LR]], %[[STEP]], %[[UPD]] :
  // CHECK: arith.select
  // CHECK: %[[MB2:.+]] = linalg.generic {{.*}} ins(%[[MB]], %[[RB]], %[[COEF]], %[[UPD]] :
  // CHECK: %[[VB2:.+]] = linalg.generic {{.*}} ins(%[[VB]], %[[RB]], %[[COEF]], %[[UPD]] :
  // CHECK: %[[B2:.+]] = linalg.generic {{.*}} ins(%[[B]], %[[MB2]], %[[VB2]], %[[LR]], %[[STEP]], %[[UPD]] :
  // CHECK: return %[[LOSS]], %[[BAD]], %[[NORM]], %[[W2]], %[[B2]], %[[MW2]], %[[MB2]], %[[VW2]], %[[VB2]]

  // With accumulation, an apply flag and the running sums: each gradient
  // joins its sum (reset when applied), and only the applying micro-batch
  // reduces and updates.
  // ACC-LABEL: func.func @m(
  // ACC-SAME: %[[LR:[^:]+]]: tensor<1xf32>, %[[STEP:[^:]+]]: tensor<1xf32>, %[[APPLY:[^:]+]]: tensor<1xf32>, %[[W:[^:]+]]: tensor<8x4xf32>
  // ACC-SAME: %[[SW:[^:]+]]: tensor<8x4xf32>, %[[SB:[^:]+]]: tensor<4xf32>)
  // ACC-SAME: growc.input_names = ["tokens", "targets", "lr", "step", "apply"], growc.micro_batches = 4 : i64
  // ACC-SAME: "optimizer.grad_sum.w", "optimizer.grad_sum.b"]
  // ACC: %[[DW:.+]] = tensor.empty() : tensor<8x4xf32>
  // ACC: %[[TW:.+]] = linalg.generic {{.*}} ins(%[[SW]], %[[DW]] :
  // ACC: arith.constant 2.500000e-01 : f32
  // ACC: %[[CW:.+]] = linalg.generic {{.*}} ins(%[[TW]], %[[APPLY]] :
  // ACC: growk.all_reduce %[[TW]] when(%[[APPLY]] : tensor<1xf32>)
  // ACC: growk.all_reduce %{{.*}} when(%[[APPLY]] : tensor<1xf32>) {reduction = "sum"}
  // ACC: %[[UPD:.+]] = linalg.generic {{.*}} ins(%{{.*}}, %[[APPLY]] : tensor<1xf32>, tensor<1xf32>)
  // ACC: linalg.generic {{.*}} ins(%[[W]], %{{.*}}, %{{.*}}, %[[LR]], %[[STEP]], %[[UPD]] :
  // ACC: return {{.*}}, %[[CW]], %{{.*}} :
  return %loss, %dw, %db : tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>
}

// ZERO: growc-append-optimizer-step: accumulate must be at least 1, got 0

// -----

// Functions of other graphs are left alone.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: growc.graph = "forward"
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {growc.graph = "forward"} {
  return %x : tensor<4xf32>
}

// -----

// The outputs must be the loss and one gradient per parameter, in order.
// expected-error @below {{a grad function returns 'loss', then 'grad.<p>' for each parameter p of growc.param_names, in order}}
func.func @swapped(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %w: tensor<4xf32>) -> (tensor<4xf32>, tensor<1xf32>) attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.output_names = ["grad.w", "loss"], growc.param_names = ["w"], growc.param_sources = ["w"], growc.param_copies = [false]} {
  %loss = tensor.empty() : tensor<1xf32>
  return %w, %loss : tensor<4xf32>, tensor<1xf32>
}

// -----

// A gradient has its parameter's type.
// expected-error @below {{the gradient of '"w"' must have the parameter's type}}
func.func @shape(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %w: tensor<4xf32>) -> (tensor<1xf32>, tensor<8xf32>) attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.output_names = ["loss", "grad.w"], growc.param_names = ["w"], growc.param_sources = ["w"], growc.param_copies = [false]} {
  %loss = tensor.empty() : tensor<1xf32>
  %dw = tensor.empty() : tensor<8xf32>
  return %loss, %dw : tensor<1xf32>, tensor<8xf32>
}

// -----

// The parameter names are part of the interface.
// expected-error @below {{a grad function records growc.param_names, growc.param_sources, growc.param_copies, growc.input_names and growc.output_names (names as strings)}}
func.func @unnamed(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>) -> tensor<1xf32> attributes {growc.graph = "grad"} {
  %loss = tensor.empty() : tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// A frozen parameter (growc-freeze-parameters) has no gradient: it gets no
// moments, no clip term and no update, and stays an input only.
// CHECK-LABEL: func.func @frozen(
// CHECK-SAME: %[[W:[^:]+]]: tensor<8x4xf32>, %{{[^:]+}}: tensor<4xf32>, %{{[^:]+}}: tensor<4xf32>, %{{[^:]+}}: tensor<4xf32>)
// CHECK-SAME: -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK-SAME: growc.output_names = ["loss", "nonfinite", "grad_norm", "b", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.b"]
// CHECK-SAME: growc.param_frozen = [true, false, false, false]
// CHECK-SAME: growc.param_names = ["w", "b", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.b"]
// CHECK-NOT: %[[W]]
// CHECK: return
// ACC-LABEL: func.func @frozen(
// ACC-SAME: growc.param_names = ["w", "b", "optimizer.exp_avg.b", "optimizer.exp_avg_sq.b", "optimizer.grad_sum.b"]
func.func @frozen(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> (tensor<1xf32>, tensor<4xf32>) attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.output_names = ["loss", "grad.b"], growc.param_names = ["w", "b"], growc.param_sources = ["w", "b"], growc.param_copies = [false, false], growc.param_frozen = [true, false]} {
  %loss = tensor.empty() : tensor<1xf32>
  %db = tensor.empty() : tensor<4xf32>
  return %loss, %db : tensor<1xf32>, tensor<4xf32>
}

// -----

// A step that would update nothing is an error.
// expected-error @below {{every parameter is frozen: a train step would update nothing}}
func.func @nothing(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %w: tensor<4xf32>) -> tensor<1xf32> attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.output_names = ["loss"], growc.param_names = ["w"], growc.param_sources = ["w"], growc.param_copies = [false], growc.param_frozen = [true]} {
  %loss = tensor.empty() : tensor<1xf32>
  return %loss : tensor<1xf32>
}
