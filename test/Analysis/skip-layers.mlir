// RUN: %growc-opt %s -split-input-file --growc-skip-layers="layers=1" | FileCheck %s
// RUN: %growc-opt %s -split-input-file --growc-skip-layers="layers=3,0 until=5" | FileCheck %s --check-prefix=UNTIL
// RUN: %growc-opt %s -split-input-file --growc-skip-layers | FileCheck %s --check-prefix=NONE
// RUN: %growc-opt %s -split-input-file --growc-skip-layers="layers=1 split-input=true from=1" | FileCheck %s --check-prefix=SPLIT
// RUN: %growc-opt %s -split-input-file --growc-skip-layers="layers=2 until=3" --growc-skip-layers="layers=2" | FileCheck %s --check-prefix=OVERRIDE
// RUN: %growc-opt %s -split-input-file --growc-swap-layer-windows="position=0 size=1" --growc-skip-layers="layers=0" | FileCheck %s --check-prefix=POSITION

// Invalid options.
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=4" 2>&1 | FileCheck %s --check-prefix=ERR-RANGE
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=-1" 2>&1 | FileCheck %s --check-prefix=ERR-NEG
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=1 until=-2" 2>&1 | FileCheck %s --check-prefix=ERR-UNTIL
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=1 until=3 split-input=true" 2>&1 | FileCheck %s --check-prefix=ERR-BOTH
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=1 from=1" 2>&1 | FileCheck %s --check-prefix=ERR-FROM

// Growth refuses a model with skipped layers.
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=1" --growc-duplicate-middle-block 2>&1 | FileCheck %s --check-prefix=ERR-GROW
// RUN: not %growc-opt %s -split-input-file --growc-skip-layers="layers=1,1" 2>&1 | FileCheck %s --check-prefix=ERR-TWICE
// ERR-TWICE: error: growc-skip-layers: layer position 1 is listed twice

// ERR-RANGE: error: growc-skip-layers: layer position 4 is out of range; the model has 4 layers
// ERR-NEG: error: growc-skip-layers: layer position -1 is out of range; the model has 4 layers
// ERR-UNTIL: error: growc-skip-layers: until must be -1 (every position) or a token position >= 0, got -2
// ERR-BOTH: error: growc-skip-layers: until and split-input exclude each other
// ERR-FROM: error: growc-skip-layers: from must be >= 0 and needs until or split-input, got 1
// ERR-GROW: error: 'grow.layer' op cannot grow a model with analysis attributes (skip or exposed sublayers); grow first, then apply the analysis rewrite

// Four layers in blocks of two. The skipped layer and its parameters stay.
grow.model @four #grow.config<vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 2> (%tokens : tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32>
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.2.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.2.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.2.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.2.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.2.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.2.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.2.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.2.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.2.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.3.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.3.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.3.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.3.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.3.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.3.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.3.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.3.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.3.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.norm.weight : tensor<4xf32>
  %h0 = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %h1 = grow.layer 0 block 0 (%h0) : tensor<?x?x4xf32>
  %h2 = grow.layer 1 block 0 (%h1) : tensor<?x?x4xf32>
  %h3 = grow.layer 2 block 1 (%h2) : tensor<?x?x4xf32>
  %h4 = grow.layer 3 block 1 (%h3) : tensor<?x?x4xf32>
  %n = grow.rms_norm @model.norm.weight(%h4) : tensor<?x?x4xf32>
  %z = grow.lm_head @model.embed_tokens.weight(%n) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %z : tensor<?x?x8xf32>
}

// CHECK-LABEL: grow.model @four
// CHECK:         grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32>{{$}}
// CHECK:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[L0]]) {skip} : tensor<?x?x4xf32>
// CHECK-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L1]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    grow.layer 3 block 1 ([[L2]]) : tensor<?x?x4xf32>

// The depth score's split per batch row (the graph input `split`), position
// 0 kept.
// SPLIT-LABEL: grow.model @four
// SPLIT:         grow.layer 1 block 0 ({{%.+}}) {skip, skip_from = 1 : i64, skip_split} : tensor<?x?x4xf32>

// UNTIL-LABEL: grow.model @four
// UNTIL:         [[L0:%.+]] = grow.layer 0 block 0 ({{%.+}}) {skip, skip_until = 5 : i64} : tensor<?x?x4xf32>
// UNTIL-NEXT:    [[L1:%.+]] = grow.layer 1 block 0 ([[L0]]) : tensor<?x?x4xf32>
// UNTIL-NEXT:    [[L2:%.+]] = grow.layer 2 block 1 ([[L1]]) : tensor<?x?x4xf32>
// UNTIL-NEXT:    grow.layer 3 block 1 ([[L2]]) {skip, skip_until = 5 : i64} : tensor<?x?x4xf32>

// NONE-LABEL: grow.model @four
// NONE-NOT:     skip
// NONE:         grow.return

// OVERRIDE-LABEL: grow.model @four
// OVERRIDE:         grow.layer 1 block 0 ({{%.+}}) : tensor<?x?x4xf32>
// OVERRIDE-NEXT:    grow.layer 2 block 1 ({{%.+}}) {skip} : tensor<?x?x4xf32>

// Positions, not indices: after the swap, position 0 holds layer 1.
// POSITION-LABEL: grow.model @four
// POSITION:         [[L1:%.+]] = grow.layer 1 block 0 ({{%.+}}) {skip} : tensor<?x?x4xf32>
// POSITION-NEXT:    grow.layer 0 block 0 ([[L1]]) : tensor<?x?x4xf32>
