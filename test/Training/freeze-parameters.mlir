// RUN: growc-opt %s -split-input-file --growc-freeze-parameters | FileCheck %s --check-prefix=ALL
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=inserted 2>/dev/null | FileCheck %s --check-prefix=INSERTED
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=inserted 2>&1 >/dev/null | FileCheck %s --check-prefix=NOPROV
// RUN: growc-opt %s -split-input-file --growc-freeze-parameters=trainable=1,norm | FileCheck %s --check-prefix=LIST
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=lm_head,0:1 2>/dev/null | FileCheck %s --check-prefix=HEAD
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=lm_head,0:1 2>&1 >/dev/null | FileCheck %s --check-prefix=TIED
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=0,x 2>&1 >/dev/null | FileCheck %s --check-prefix=BADTOKEN
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=2 2>&1 >/dev/null | FileCheck %s --check-prefix=NOLAYER
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=1:1 2>&1 >/dev/null | FileCheck %s --check-prefix=EMPTYRANGE
// RUN: not growc-opt %s -split-input-file --growc-freeze-parameters=trainable=0,,1 2>&1 >/dev/null | FileCheck %s --check-prefix=EMPTYITEM

// A MIDAS-like grown model: layer 1 is an inserted copy of layer 0, tied
// head, the embedding already marked frozen by an earlier run.

// `all` (the default) trains everything: the old mark goes, so that the
// SPEC alone says what trains.
// ALL-LABEL: grow.model @grown
// ALL-NOT: frozen
// ALL-LABEL: grow.model @untied
// ALL-NOT: frozen

// `inserted`: only the copies train.
// INSERTED-LABEL: grow.model @grown
// INSERTED-NEXT: grow.param @model.embed_tokens.weight : tensor<8x4xf32> frozen
// INSERTED-NEXT: grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32> frozen
// INSERTED: grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32> frozen
// INSERTED-NEXT: grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> copy from "model.layers.0.input_layernorm.weight"{{$}}
// INSERTED: grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"{{$}}
// INSERTED-NEXT: grow.param @model.norm.weight : tensor<4xf32> frozen
// A model without provenance has nothing inserted: an error saying where
// provenance comes from.
// NOPROV: error: 'grow.model' op growc-freeze-parameters: --trainable=inserted selects nothing: no parameter has growth provenance (copy), so nothing was inserted; it needs the grown model as growth left it (growc --grow=METHOD in the same command, or the IR of growc --grow=METHOD --emit=mlir)

// A layer list with the final norm.
// LIST-LABEL: grow.model @grown
// LIST-NEXT: grow.param @model.embed_tokens.weight : tensor<8x4xf32> frozen
// LIST: grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32> frozen
// LIST-NEXT: grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> copy from "model.layers.0.input_layernorm.weight"{{$}}
// LIST: grow.param @model.norm.weight : tensor<4xf32>{{$}}
// LIST-LABEL: grow.model @untied
// LIST-NEXT: grow.param @model.embed_tokens.weight : tensor<8x4xf32> frozen
// LIST: grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32> frozen
// LIST-NEXT: grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32>{{$}}
// LIST: grow.param @model.norm.weight : tensor<4xf32>{{$}}
// LIST-NEXT: grow.param @lm_head.weight : tensor<8x4xf32> frozen

// An untied head can train alone; a tied head is the embedding.
// TIED: error: 'grow.model' op growc-freeze-parameters: --trainable=lm_head,0:1: 'lm_head': the model ties its head to the embedding (model.embed_tokens.weight), so the head trains with it: select 'embed'
// HEAD-LABEL: grow.model @untied
// HEAD-NEXT: grow.param @model.embed_tokens.weight : tensor<8x4xf32> frozen
// HEAD-NEXT: grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32>{{$}}
// HEAD: grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> frozen
// HEAD: grow.param @lm_head.weight : tensor<8x4xf32>{{$}}

// Malformed SPECs name the bad item.
// BADTOKEN: error: 'grow.model' op growc-freeze-parameters: --trainable=0,x: 'x' is not a layer N, a range A:B, 'embed', 'norm' or 'lm_head' (SPEC: all, inserted, or a comma list of those, e.g. 3,7,10:12,embed)
// NOLAYER: error: 'grow.model' op growc-freeze-parameters: --trainable=2: '2': layer 2 is not in the model, which has 2 layers (0-1)
// EMPTYRANGE: error: 'grow.model' op growc-freeze-parameters: --trainable=1:1: '1:1' is not a layer range A:B with A < B (half-open: layers A..B-1)
// EMPTYITEM: error: 'grow.model' op growc-freeze-parameters: --trainable=0,,1: '' is not a layer N
grow.model @grown <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = true, block_size = 1> (%tokens: tensor<?x?xi32>) {
  grow.param @model.embed_tokens.weight : tensor<8x4xf32> frozen
  grow.param @model.layers.0.input_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.self_attn.q_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.self_attn.k_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.v_proj.weight : tensor<2x4xf32>
  grow.param @model.layers.0.self_attn.o_proj.weight : tensor<4x4xf32>
  grow.param @model.layers.0.post_attention_layernorm.weight : tensor<4xf32>
  grow.param @model.layers.0.mlp.gate_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.up_proj.weight : tensor<6x4xf32>
  grow.param @model.layers.0.mlp.down_proj.weight : tensor<4x6xf32>
  grow.param @model.layers.1.input_layernorm.weight : tensor<4xf32> copy from "model.layers.0.input_layernorm.weight"
  grow.param @model.layers.1.self_attn.q_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.q_proj.weight"
  grow.param @model.layers.1.self_attn.k_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.k_proj.weight"
  grow.param @model.layers.1.self_attn.v_proj.weight : tensor<2x4xf32> copy from "model.layers.0.self_attn.v_proj.weight"
  grow.param @model.layers.1.self_attn.o_proj.weight : tensor<4x4xf32> copy from "model.layers.0.self_attn.o_proj.weight"
  grow.param @model.layers.1.post_attention_layernorm.weight : tensor<4xf32> copy from "model.layers.0.post_attention_layernorm.weight"
  grow.param @model.layers.1.mlp.gate_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.gate_proj.weight"
  grow.param @model.layers.1.mlp.up_proj.weight : tensor<6x4xf32> copy from "model.layers.0.mlp.up_proj.weight"
  grow.param @model.layers.1.mlp.down_proj.weight : tensor<4x6xf32> copy from "model.layers.0.mlp.down_proj.weight"
  grow.param @model.norm.weight : tensor<4xf32>
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer1) : tensor<?x?x4xf32>
  %logits = grow.lm_head @model.embed_tokens.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}
// -----

// The same layers without provenance, untied.
grow.model @untied <vocab = 8, hidden = 4, ffn = 6, heads = 2, kv_heads = 1, head_dim = 2, context = 16, eps = 1.000000e-05, rope_theta = 1.000000e+04, tied = false, block_size = 1> (%tokens: tensor<?x?xi32>) {
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
  grow.param @model.norm.weight : tensor<4xf32>
  grow.param @lm_head.weight : tensor<8x4xf32>
  %embed = grow.embed @model.embed_tokens.weight(%tokens) : tensor<?x?xi32> -> tensor<?x?x4xf32>
  %layer0 = grow.layer 0 block 0 (%embed) : tensor<?x?x4xf32>
  %layer1 = grow.layer 1 block 1 (%layer0) : tensor<?x?x4xf32>
  %normed = grow.rms_norm @model.norm.weight(%layer1) : tensor<?x?x4xf32>
  %logits = grow.lm_head @lm_head.weight(%normed) : tensor<?x?x4xf32> -> tensor<?x?x8xf32>
  grow.return names ["logits"] %logits : tensor<?x?x8xf32>
}