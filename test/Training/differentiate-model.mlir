// RUN: growc-opt %s --split-input-file --growc-differentiate-model --verify-diagnostics | FileCheck %s

// A model without layers (embedding, final norm, tied head). The tape holds
// the rotary tables (the embedding's tape; unused here), the embedding's
// rows and the normed rows; the backward is built where the tape was.
grow.model @m.model <vocab = 8, hidden = 4, ffn = 8, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%embed) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
// CHECK-NOT: grow.model
// CHECK-LABEL: func.func @m(
// CHECK-SAME: %[[TOKENS:[^:]+]]: tensor<1x4xi32>, %[[TARGETS:[^:]+]]: tensor<1x4xi32>, %[[TABLE:[^:]+]]: tensor<8x4xf32>, %[[W:[^:]+]]: tensor<4xf32>
func.func @m(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %table: tensor<8x4xf32>, %w: tensor<4xf32>) -> (tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>) attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.param_names = ["model.embed_tokens.weight", "model.norm.weight"]} {
  // CHECK: %[[H:.+]] = tensor.empty() : tensor<4x4xf32>
  // CHECK: %[[N:.+]] = tensor.empty() : tensor<4x4xf32>
  %h = tensor.empty() : tensor<4x4xf32>
  %n = tensor.empty() : tensor<4x4xf32>
  %cos = tensor.empty() : tensor<4x1xf32>
  %sin = tensor.empty() : tensor<4x1xf32>
  // The seed: the head's logits from the recorded normed rows, the mean
  // cross-entropy, and the gradients of both GEMM operands.
  // CHECK: growk.matmul %[[N]], %[[TABLE]] : tensor<4x4xf32>, tensor<8x4xf32> -> tensor<4x8xf32>
  // CHECK: %[[LOSS:.+]] = linalg.generic {{.*}} attrs = {growc.own_kernel}
  // CHECK: %[[DHEAD:.+]] = growk.matmul %[[DL:.+]], %[[N]] {transpose_lhs = true, transpose_rhs = false}
  // CHECK: %[[DN:.+]] = growk.matmul %[[DL]], %[[TABLE]] {transpose_rhs = false}
  // The final norm's VJP reads the recorded embedding rows.
  // CHECK: linalg.generic {{.*}} ins(%[[DN]], %[[W]], %[[H]] :
  // Its weight gradient: the rows' inverse RMS [1, rows] times the product
  // dy·x, a GEMM.
  // CHECK: %[[P:.+]] = linalg.generic {{.*}} ins(%[[DN]], %[[H]] :
  // CHECK: %[[R:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
  // CHECK: %[[DWROW:.+]] = growk.matmul %[[R]], %[[P]] {transpose_rhs = false} : tensor<1x4xf32>, tensor<4x4xf32> -> tensor<1x4xf32>
  // CHECK: %[[DW:.+]] = tensor.collapse_shape %[[DWROW]]
  // The embedding's scatter-add, and the tied table's two gradients summed.
  // CHECK: %[[DEMBED:.+]] = scf.forall
  // CHECK: } {growc.own_kernel}
  // CHECK: %[[DTABLE:.+]] = linalg.generic {{.*}} ins(%[[DHEAD]], %[[DEMBED]] :
  // CHECK: return %[[LOSS]], %[[DTABLE]], %[[DW]] : tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>
  // CHECK-NOT: growk.forward_tape
  %loss, %g0, %g1 = growk.forward_tape @m.model(%cos, %sin, %h, %n) {positions = array<i64: 2, 2, 2, 3>, slots = array<i64: -1, -2, 0, 0>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4x1xf32>, tensor<4x1xf32>, tensor<4x4xf32>, tensor<4x4xf32>) -> (tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>)
  return %loss, %g0, %g1 : tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>
}

// -----

// A module without a tape is left alone.
// CHECK-LABEL: func.func @forward(
// CHECK: return %arg0
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {growc.graph = "forward"} {
  return %x : tensor<4xf32>
}

// -----

// The tape names a model the module does not hold.
func.func @m(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>) -> tensor<1xf32> attributes {growc.input_names = ["tokens", "targets"], growc.param_names = []} {
  // expected-error @below {{needs to be in a function of the module that holds its grow.model @missing}}
  %loss = growk.forward_tape @missing() {positions = array<i64>, slots = array<i64>, key_block = 4 : i64, loss_rows = 0 : i64} : () -> tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// Every recorded value needs a position and a slot.
func.func @m(%x: tensor<4xf32>) -> tensor<1xf32> {
  // expected-error @below {{records 1 values but 0 positions and 1 slots}}
  %loss = growk.forward_tape @m.model(%x) {positions = array<i64>, slots = array<i64: 0>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4xf32>) -> tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// The embedding's tape is the two rotary tables; one is not enough.
grow.model @m.model <vocab = 8, hidden = 4, ffn = 8, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%embed) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
func.func @m(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %table: tensor<8x4xf32>, %w: tensor<4xf32>) -> (tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>) attributes {growc.input_names = ["tokens", "targets"], growc.param_names = ["model.embed_tokens.weight", "model.norm.weight"]} {
  %cos = tensor.empty() : tensor<4x1xf32>
  // expected-error @below {{records 1 tape entries for 'grow.embed'; a layer has 11, the embedding 2 (the rotary tables), other ops none}}
  %loss, %g0, %g1 = growk.forward_tape @m.model(%cos) {positions = array<i64: 2>, slots = array<i64: -1>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4x1xf32>) -> (tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>)
  return %loss, %g0, %g1 : tensor<1xf32>, tensor<8x4xf32>, tensor<4xf32>
}

// -----

// The same model with its (tied) embedding frozen: only the final norm's
// gradient is returned, and what only the table's gradient needed is gone:
// the head's weight-gradient GEMM, the embedding's scatter, their sum.
grow.model @m.model <vocab = 8, hidden = 4, ffn = 8, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32> frozen
  grow.param @model.norm.weight : tensor<4xf32>
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%embed) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
// CHECK-LABEL: func.func @frozen(
// CHECK-SAME: %{{[^:]+}}: tensor<1x4xi32>, %{{[^:]+}}: tensor<1x4xi32>, %[[TABLE:[^:]+]]: tensor<8x4xf32>, %[[W:[^:]+]]: tensor<4xf32>
// CHECK: growk.matmul %{{.+}}, %[[TABLE]] : tensor<4x4xf32>, tensor<8x4xf32> -> tensor<4x8xf32>
// CHECK: %[[LOSS:.+]] = linalg.generic {{.*}} attrs = {growc.own_kernel}
// CHECK-NOT: transpose_lhs = true
// CHECK: %[[DN:.+]] = growk.matmul %{{.+}}, %[[TABLE]] {transpose_rhs = false}
// CHECK: %[[DWROW:.+]] = growk.matmul %{{.+}}, %{{.+}} {transpose_rhs = false} : tensor<1x4xf32>, tensor<4x4xf32> -> tensor<1x4xf32>
// CHECK: %[[DW:.+]] = tensor.collapse_shape %[[DWROW]]
// CHECK-NOT: scf.forall
// CHECK: return %[[LOSS]], %[[DW]] : tensor<1xf32>, tensor<4xf32>
func.func @frozen(%tokens: tensor<1x4xi32>, %targets: tensor<1x4xi32>, %table: tensor<8x4xf32>, %w: tensor<4xf32>) -> (tensor<1xf32>, tensor<4xf32>) attributes {growc.graph = "grad", growc.input_names = ["tokens", "targets"], growc.param_names = ["model.embed_tokens.weight", "model.norm.weight"], growc.param_frozen = [true, false]} {
  %h = tensor.empty() : tensor<4x4xf32>
  %n = tensor.empty() : tensor<4x4xf32>
  %cos = tensor.empty() : tensor<4x1xf32>
  %sin = tensor.empty() : tensor<4x1xf32>
  %loss, %g1 = growk.forward_tape @m.model(%cos, %sin, %h, %n) {positions = array<i64: 2, 2, 2, 3>, slots = array<i64: -1, -2, 0, 0>, key_block = 4 : i64, loss_rows = 0 : i64} : (tensor<4x1xf32>, tensor<4x1xf32>, tensor<4x4xf32>, tensor<4x4xf32>) -> (tensor<1xf32>, tensor<4xf32>)
  return %loss, %g1 : tensor<1xf32>, tensor<4xf32>
}
