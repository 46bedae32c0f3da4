// ToyKernels.cu - the executor tests' toy kernels as real CUDA (test
// infrastructure): compiled to PTX at build time where nvcc exists, run by
// CudaExecutorGpuTest on a machine with a GPU. Each computes what
// TestKernels.cpp (CPU) and FakeCuda.cpp (fake driver) compute, with the
// launch configurations and parameter orders of the toy plans.

extern "C" {

// ToyModel.h: grid [6], block [256]; params tokens, out [6, 4], table [5, 4].
__global__ void embed(const int *tokens, float *out, const float *table) {
  int token = blockIdx.x, d = threadIdx.x;
  if (d < 4)
    out[token * 4 + d] = table[tokens[token] * 4 + d];
}

// grid [1, 2, 3], block [32, 4]; params out [30], in [30].
__global__ void add_one(float *out, const float *in) {
  int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  int i = block * blockDim.x * blockDim.y + threadIdx.y * blockDim.x +
          threadIdx.x;
  if (i < 30)
    out[i] = in[i] + 1.0f;
}

// CudaExecutorFakeTest's training step: w [20], lr [1], w_next [20],
// loss [1]: loss = sum(w), w_next = w - lr.
__global__ void sgd(const float *w, const float *lr, float *next,
                    float *loss) {
  if (threadIdx.x != 0)
    return;
  float sum = 0;
  for (int i = 0; i < 20; ++i) {
    sum += w[i];
    next[i] = w[i] - lr[0];
  }
  loss[0] = sum;
}

} // extern "C"
