#pragma once
// TreeEnsemble: a gradient-boosted trees model (XGBoost's JSON dump) flattened for the hot path.
// Every tree is padded to one complete binary tree of the ensemble's largest depth D (a leaf
// above depth D fills its whole subtree with its value), so a tree is (2^D - 1) 8-byte split
// nodes and 2^D leaf values in two contiguous arrays, children found by arithmetic
// (2i + 1 + go_right) and every row takes exactly D steps: no child pointers, no leaf test, no
// data-dependent branch (go_right is computed, NaN takes the node's default direction). Trees
// are walked eight at a time so the eight dependent load chains overlap. Semantics are
// XGBoost's: float features, `x < threshold` goes left, leaf values summed in float in tree
// order onto base_score. Built at start-up (throws std::invalid_argument naming the problem);
// predict() is const, noexcept and allocates nothing.

#include <cstdint>
#include <string_view>
#include <vector>

namespace qf::core {

class TreeEnsemble {
public:
  static constexpr int kMaxDepth = 10; // padding doubles memory per level: deeper is refused

  // `dump_json`: the JSON array of trees of `Booster.get_dump(dump_format="json")` (or the C
  // API's XGBoosterDumpModelEx "json"); features are "f<N>" or <N>, N < `features`.
  TreeEnsemble(std::string_view dump_json, float base_score, int features);

  [[nodiscard]] float predict(const float* x) const noexcept;

  [[nodiscard]] int trees() const noexcept { return trees_; }
  [[nodiscard]] int depth() const noexcept { return depth_; }
  [[nodiscard]] int features() const noexcept { return features_; }
  [[nodiscard]] float base_score() const noexcept { return base_score_; }

  struct Split {
    float threshold;
    std::uint16_t feature;
    std::uint16_t default_right; // 1: a missing (NaN) value goes right
  };
  static_assert(sizeof(Split) == 8);

private:
  int trees_ = 0;
  int depth_ = 0;
  int features_ = 0;
  float base_score_ = 0.0F;
  std::vector<Split> splits_;  // trees_ x (2^depth_ - 1)
  std::vector<float> leaves_;  // trees_ x 2^depth_
};

} // namespace qf::core
