#pragma once
// TreeEnsemble: a gradient-boosted trees model (XGBoost's JSON dump) flattened for the hot path.
// Every tree is padded to one complete binary tree of the ensemble's largest depth D (a leaf
// above depth D fills its whole subtree with its value), so a tree is (2^D - 1) split nodes
// (a float threshold and an int32 word: feature, and bit 31 for "a missing value goes right")
// and 2^D leaf values in contiguous arrays, children found by arithmetic (2i + 1 + go_right)
// and every row takes exactly D steps: no child pointers, no leaf test, no data-dependent
// branch (go_right is computed, NaN takes the node's default direction). Two kernels walk it:
// `avx2` walks 32 trees at once, eight to a vector, with gathers, the row held in one register
// when it has at most 8 features; `portable` walks eight trees at a time in scalar code so the
// eight dependent load chains overlap. `best` (the default) is avx2 when the CPU has it
// (checked at construction; the build itself targets baseline x86-64). Both give the same
// float, bit for bit. Semantics are XGBoost's: float features, `x < threshold` goes left, leaf
// values summed in float in tree order onto base_score. Built at start-up (throws
// std::invalid_argument naming the problem); predict() is const, noexcept and allocates nothing.

#include <climits>
#include <cstdint>
#include <string_view>
#include <vector>

namespace qf::core {

class TreeEnsemble {
public:
  static constexpr int kMaxDepth = 10; // padding doubles memory per level: deeper is refused
  enum class Kernel : std::uint8_t { best, portable, avx2 };

  // `dump_json`: the JSON array of trees of `Booster.get_dump(dump_format="json")` (or the C
  // API's XGBoosterDumpModelEx "json"); features are "f<N>" or <N>, N < `features`.
  // Kernel::avx2 on a CPU without AVX2 throws.
  TreeEnsemble(std::string_view dump_json, float base_score, int features, Kernel kernel = Kernel::best);

  [[nodiscard]] float predict(const float* x) const noexcept {
    return kernel_ == Kernel::avx2 ? predict_avx2(x) : predict_portable(x);
  }
  [[nodiscard]] Kernel kernel() const noexcept { return kernel_; }

  [[nodiscard]] int trees() const noexcept { return trees_; }
  [[nodiscard]] int depth() const noexcept { return depth_; }
  [[nodiscard]] int features() const noexcept { return features_; }
  [[nodiscard]] float base_score() const noexcept { return base_score_; }

private:
  static constexpr std::int32_t kDefaultRight = INT32_MIN; // bit 31 of a node word
  static constexpr int kBlock = 32;                        // trees per step of the avx2 kernel

  [[nodiscard]] float predict_portable(const float* x) const noexcept;
  [[nodiscard]] float predict_avx2(const float* x) const noexcept;

  int trees_ = 0;
  int stored_trees_ = 0; // trees_ rounded up to kBlock: the extra trees are +inf splits onto 0 leaves
  int depth_ = 0;
  int features_ = 0;
  float base_score_ = 0.0F;
  Kernel kernel_ = Kernel::portable;
  std::vector<float> thresholds_;   // stored_trees_ x (2^depth_ - 1)
  std::vector<std::int32_t> nodes_; // the same nodes: feature | kDefaultRight
  std::vector<float> leaves_;       // stored_trees_ x 2^depth_
};

} // namespace qf::core
