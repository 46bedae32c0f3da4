//===- LogitRows.h - log-softmax and top-k of one row of logits -*- C++ -*-===//
//
// The two row reductions the depth analyses compare distributions with
// (Analysis.cpp's logit lens and intervention losses, TunedLens.cpp's
// translators), kept in one place so both read logits the same way: in
// double, ties in the top k broken towards the lower token id.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_LIB_LOGITROWS_H
#define GROWC_RUNTIME_LIB_LOGITROWS_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace growc::rt {

/// log-softmax of one row of n logits, in double.
template <typename T>
void logSoftmax(const T *logits, int64_t n, std::vector<double> &out) {
  out.resize(n);
  double top = double(*std::max_element(logits, logits + n)), sum = 0;
  for (int64_t v = 0; v < n; ++v)
    sum += std::exp(double(logits[v]) - top);
  double logSum = top + std::log(sum);
  for (int64_t v = 0; v < n; ++v)
    out[v] = double(logits[v]) - logSum;
}

/// The indices of the k largest of n entries (ties: the lower index first).
template <typename T>
std::vector<int64_t> topK(const T *row, int64_t n, int64_t k) {
  std::vector<int64_t> index(n);
  for (int64_t v = 0; v < n; ++v)
    index[v] = v;
  k = std::min(k, n);
  std::partial_sort(index.begin(), index.begin() + k, index.end(),
                    [&](int64_t a, int64_t b) {
                      return row[a] > row[b] || (row[a] == row[b] && a < b);
                    });
  index.resize(k);
  return index;
}

} // namespace growc::rt

#endif // GROWC_RUNTIME_LIB_LOGITROWS_H
