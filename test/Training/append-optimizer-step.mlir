// RUN: growc-opt %s --split-input-file --growc-append-optimizer-step --verify-diagnostics | FileCheck %s
// RUN: growc-opt %s --split-input-file --growc-append-optimizer-step=accumulate=4 --verify-diagnostics | FileCheck %s --check-prefix=ACC
// RUN: not growc-opt %s --split-input-file --growc-append-optimizer-step=accumulate=0 2>&1 | FileCheck %s --check-prefix=ZERO

// A grad function of two parameters becomes one growk.adamw step: lr and
// step after the targets, both moments of each parameter after the
// parameters, and the non-finite flag, the gradient norm, the updated
// parameters and moments after the loss, named as checkpoints name them.
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
  // A NaN/Inf loss (summed over the ranks) sets the step's flag.
  // CHECK: %[[LB:.+]] = linalg.generic {{.*}} ins(%[[LOSS]] : tensor<1xf32>)
  // CHECK: math.absf
  // CHECK-NEXT: arith.cmpf uge
  // CHECK: %[[LBR:.+]] = growk.all_reduce %[[LB]] {reduction = "sum"} : tensor<1xf32>
  // Then the whole optimizer is one in-place step over every parameter
  // (no per-parameter norm or AdamW kernels): the clip, the flag and
  // AdamW, with the norm and the flag as fresh [1] results.
  // CHECK-NOT: linalg.generic
  // CHECK: %[[N0:.+]] = tensor.empty() : tensor<1xf32>
  // CHECK: %[[F0:.+]] = tensor.empty() : tensor<1xf32>
  // CHECK-NOT: linalg.generic
  // CHECK: %[[S:.+]]:8 = growk.adamw params(%[[W]], %[[B]] : tensor<8x4xf32>, tensor<4xf32>) grads(%[[RW]], %[[RB]] : tensor<8x4xf32>, tensor<4xf32>) exp_avg(%[[MW]], %[[MB]] : tensor<8x4xf32>, tensor<4xf32>) exp_avg_sq(%[[VW]], %[[VB]] : tensor<8x4xf32>, tensor<4xf32>) lr(%[[LR]] : tensor<1xf32>) step(%[[STEP]] : tensor<1xf32>) loss_nonfinite(%[[LBR]] : tensor<1xf32>) outs(%[[N0]], %[[F0]] : tensor<1xf32>, tensor<1xf32>) {beta1 = 9.000000e-01 : f64, beta2 = 0.94999999999999996 : f64, eps = 1.000000e-08 : f64, max_grad_norm = 1.000000e+00 : f64, weight_decay = 1.000000e-02 : f64}
  // The outputs are its results, in the interface's order.
  // CHECK-NEXT: return %[[LOSS]], %[[S]]#7, %[[S]]#6, %[[S]]#0, %[[S]]#1, %[[S]]#2, %[[S]]#3, %[[S]]#4, %[[S]]#5 :

  // With accumulation, an apply flag and the running sums: each gradient
  // joins its sum, only the applying micro-batch reduces and updates, and
  // the step resets the sums in place (no kernels carry them).
  // ACC-LABEL: func.func @m(
  // ACC-SAME: %[[LR:[^:]+]]: tensor<1xf32>, %[[STEP:[^:]+]]: tensor<1xf32>, %[[APPLY:[^:]+]]: tensor<1xf32>, %[[W:[^:]+]]: tensor<8x4xf32>
  // ACC-SAME: %[[SW:[^:]+]]: tensor<8x4xf32>, %[[SB:[^:]+]]: tensor<4xf32>)
  // ACC-SAME: growc.input_names = ["tokens", "targets", "lr", "step", "apply"], growc.micro_batches = 4 : i64
  // ACC-SAME: "optimizer.grad_sum.w", "optimizer.grad_sum.b"]
  // ACC: %[[DW:.+]] = tensor.empty() : tensor<8x4xf32>
  // ACC: %[[TW:.+]] = linalg.generic {{.*}} ins(%[[SW]], %[[DW]] :
  // ACC: arith.constant 2.500000e-01 : f32
  // ACC: %[[TB:.+]] = linalg.generic {{.*}} ins(%[[SB]], %{{.*}} :
  // ACC-NOT: ins(%[[TW]]
  // ACC: %[[RW:.+]] = growk.all_reduce %[[TW]] when(%[[APPLY]] : tensor<1xf32>)
  // ACC: %[[RB:.+]] = growk.all_reduce %[[TB]] when(%[[APPLY]] : tensor<1xf32>)
  // ACC: growk.all_reduce %{{.*}} when(%[[APPLY]] : tensor<1xf32>) {reduction = "sum"}
  // ACC: %[[S:.+]]:10 = growk.adamw params(%[[W]], %{{.*}}) grads(%[[RW]], %[[RB]] : {{.*}}) exp_avg({{.*}}) exp_avg_sq({{.*}}) grad_sums(%[[SW]], %[[SB]] : tensor<8x4xf32>, tensor<4xf32>) lr(%[[LR]] : tensor<1xf32>) step(%[[STEP]] : tensor<1xf32>) apply(%[[APPLY]] : tensor<1xf32>)
  // ACC-NEXT: return {{.*}}, %[[S]]#6, %[[S]]#7 :
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
// CHECK: growk.adamw params(%{{[^ ]+}} : tensor<4xf32>) grads(%{{[^ ]+}} : tensor<4xf32>)
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
