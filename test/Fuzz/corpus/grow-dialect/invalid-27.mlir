// Parameters live inside a model.
grow.param @model.norm.weight : tensor<4xf32>
