#include "qf/core/trees.hpp"

#include <nlohmann/json.hpp>

#include <immintrin.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace qf::core {

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(int tree, const std::string& why) {
  throw std::invalid_argument("trees: tree " + std::to_string(tree) + ": " + why);
}

int depth_of(const Json& node, int tree, int level) {
  if (node.contains("leaf")) {
    return level;
  }
  if (!node.contains("children") || node["children"].size() != 2) {
    fail(tree, "a split node needs two children");
  }
  if (level >= TreeEnsemble::kMaxDepth) {
    fail(tree, "deeper than " + std::to_string(TreeEnsemble::kMaxDepth) + " levels");
  }
  return std::max(depth_of(node["children"][0], tree, level + 1), depth_of(node["children"][1], tree, level + 1));
}

int feature_of(const Json& split, int tree, int features) {
  long f = -1;
  if (split.is_number_integer()) {
    f = split.get<long>();
  } else if (split.is_string()) {
    const std::string s = split.get<std::string>();
    if (s.size() < 2 || s[0] != 'f' || s.find_first_not_of("0123456789", 1) != std::string::npos) {
      fail(tree, "split feature '" + s + "' is not f<N> (a model trained with feature names? dump without them)");
    }
    f = std::stol(s.substr(1));
  }
  if (f < 0 || f >= features) {
    fail(tree, "split feature " + std::to_string(f) + " is outside the " + std::to_string(features) + " inputs");
  }
  return static_cast<int>(f);
}

} // namespace

TreeEnsemble::TreeEnsemble(std::string_view dump_json, float base_score, int features, Kernel kernel)
    : features_(features), base_score_(base_score) {
  Json dump = Json::parse(dump_json.begin(), dump_json.end(), nullptr, false);
  if (dump.is_discarded() || !dump.is_array()) {
    throw std::invalid_argument("trees: the dump is not a JSON array of trees");
  }
  if (features <= 0 || features > 0xFFFF) {
    throw std::invalid_argument("trees: the input count must be within 1..65535");
  }
  trees_ = static_cast<int>(dump.size());
  for (int t = 0; t < trees_; ++t) {
    depth_ = std::max(depth_, depth_of(dump[static_cast<std::size_t>(t)], t, 0));
  }
  stored_trees_ = (trees_ + kBlock - 1) / kBlock * kBlock;
  const std::size_t inner = (std::size_t{1} << depth_) - 1;
  const std::size_t leaves = std::size_t{1} << depth_;
  const std::size_t stored = static_cast<std::size_t>(stored_trees_);
  thresholds_.assign(inner * stored, std::numeric_limits<float>::infinity());
  nodes_.assign(inner * stored, 0);
  leaves_.assign(leaves * stored, 0.0F);
  const bool has_avx2 = __builtin_cpu_supports("avx2") != 0;
  if (kernel == Kernel::avx2 && !has_avx2) {
    throw std::invalid_argument("trees: the avx2 kernel was asked for and this CPU has no AVX2");
  }
  // The avx2 kernel's gathers take int32 offsets.
  const bool fits = leaves * stored <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());
  if (kernel == Kernel::avx2 && !fits) {
    throw std::invalid_argument("trees: the ensemble is too large for the avx2 kernel's offsets");
  }
  kernel_ = kernel == Kernel::portable || !has_avx2 || !fits ? Kernel::portable : Kernel::avx2;
  for (int t = 0; t < trees_; ++t) {
    float* thresholds = thresholds_.data() + inner * static_cast<std::size_t>(t);
    std::int32_t* nodes = nodes_.data() + inner * static_cast<std::size_t>(t);
    float* leaf = leaves_.data() + leaves * static_cast<std::size_t>(t);
    // Recursive fill: `pos` in the complete tree (0-based heap order), `level` its depth.
    const auto fill = [&](const auto& self, const Json& node, std::size_t pos, int level) -> void {
      if (node.contains("leaf")) {
        // A leaf at `level` owns the leaf slots of its whole padded subtree.
        const float v = node["leaf"].get<float>();
        std::size_t first = pos;
        std::size_t count = 1;
        for (int l = level; l < depth_; ++l) {
          first = 2 * first + 1;
          count *= 2;
        }
        for (std::size_t k = 0; k < count; ++k) {
          leaf[first - inner + k] = v;
        }
        return;
      }
      const Json& yes_child = node["children"][0];
      const Json& no_child = node["children"][1];
      const long yes = node.at("yes").get<long>();
      const long no = node.at("no").get<long>();
      const long missing = node.contains("missing") ? node["missing"].get<long>() : yes;
      const auto id = [](const Json& n) { return n.at("nodeid").get<long>(); };
      const Json* left = &yes_child;
      const Json* right = &no_child;
      if (id(yes_child) != yes) {
        std::swap(left, right); // children listed in another order than yes / no
      }
      if (id(*left) != yes || id(*right) != no) {
        fail(t, "children do not match yes / no");
      }
      thresholds[pos] = node.at("split_condition").get<float>();
      nodes[pos] = feature_of(node.at("split"), t, features_) | (missing == no ? kDefaultRight : 0);
      self(self, *left, 2 * pos + 1, level + 1);
      self(self, *right, 2 * pos + 2, level + 1);
    };
    fill(fill, dump[static_cast<std::size_t>(t)], 0, 0);
  }
}

float TreeEnsemble::predict_portable(const float* x) const noexcept {
  const std::size_t inner = (std::size_t{1} << depth_) - 1;
  const std::size_t leaves = inner + 1;
  constexpr int kLanes = 8; // independent trees in flight; stored_trees_ is a multiple of it
  static_assert(kBlock % kLanes == 0);
  const float* thresholds = thresholds_.data();
  const std::int32_t* nodes = nodes_.data();
  float sum = base_score_;
  for (int t = 0; t < stored_trees_; t += kLanes) {
    std::size_t idx[kLanes] = {};
    const std::size_t base = inner * static_cast<std::size_t>(t);
    for (int d = 0; d < depth_; ++d) {
      for (int l = 0; l < kLanes; ++l) {
        const std::size_t at = base + inner * static_cast<std::size_t>(l) + idx[l];
        const std::int32_t node = nodes[at];
        const float v = x[node & 0xFFFF];
        // go right: v >= threshold, or v missing and the default is right; computed, not branched.
        const std::size_t right = static_cast<std::size_t>(v >= thresholds[at]) |
                                  (static_cast<std::size_t>(v != v) & (static_cast<std::uint32_t>(node) >> 31));
        idx[l] = 2 * idx[l] + 1 + right;
      }
    }
    const float* leaf = leaves_.data() + leaves * static_cast<std::size_t>(t);
    for (int l = 0; l < kLanes; ++l) {
      sum += leaf[leaves * static_cast<std::size_t>(l) + idx[l] - inner]; // XGBoost's order: tree by tree
    }
  }
  return sum;
}

// Four vectors of eight trees in flight (32 independent gather chains); per level and vector:
// two gathers (threshold, node word), the feature from the row register (vpermps) or a third
// gather beyond 8 features, two compares and the index update. Leaves are gathered and added
// one by one in tree order, so the float equals predict_portable's.
__attribute__((target("avx2"))) float TreeEnsemble::predict_avx2(const float* x) const noexcept {
  constexpr int kVectors = kBlock / 8;
  const int inner = (1 << depth_) - 1;
  const int leaves = inner + 1;
  const bool in_register = features_ <= 8;
  __m256 row = _mm256_setzero_ps();
  if (in_register) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    row = _mm256_maskload_ps(x, _mm256_cmpgt_epi32(_mm256_set1_epi32(features_), lane)); // reads x[0..features)
  }
  const __m256i tree_lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i feature_mask = _mm256_set1_epi32(0xFFFF);
  float sum = base_score_;
  alignas(32) float leaf[kBlock];
  for (int t = 0; t < stored_trees_; t += kBlock) {
    __m256i node_base[kVectors];
    __m256i idx[kVectors];
    for (int g = 0; g < kVectors; ++g) {
      node_base[g] = _mm256_mullo_epi32(_mm256_add_epi32(tree_lane, _mm256_set1_epi32(t + 8 * g)),
                                        _mm256_set1_epi32(inner));
      idx[g] = _mm256_setzero_si256();
    }
    for (int d = 0; d < depth_; ++d) {
      for (int g = 0; g < kVectors; ++g) {
        const __m256i at = _mm256_add_epi32(node_base[g], idx[g]);
        const __m256 threshold = _mm256_i32gather_ps(thresholds_.data(), at, 4);
        const __m256i node = _mm256_i32gather_epi32(nodes_.data(), at, 4);
        const __m256 v = in_register ? _mm256_permutevar8x32_ps(row, node)
                                     : _mm256_i32gather_ps(x, _mm256_and_si256(node, feature_mask), 4);
        const __m256 ge = _mm256_cmp_ps(v, threshold, _CMP_GE_OQ);
        const __m256 missing_right = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_castsi256_ps(node));
        const __m256i right = _mm256_srli_epi32(_mm256_castps_si256(_mm256_or_ps(ge, missing_right)), 31);
        idx[g] = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(idx[g], 1), one), right);
      }
    }
    for (int g = 0; g < kVectors; ++g) {
      const __m256i leaf_base = _mm256_mullo_epi32(_mm256_add_epi32(tree_lane, _mm256_set1_epi32(t + 8 * g)),
                                                   _mm256_set1_epi32(leaves));
      const __m256i at = _mm256_sub_epi32(_mm256_add_epi32(leaf_base, idx[g]), _mm256_set1_epi32(inner));
      _mm256_store_ps(leaf + 8 * g, _mm256_i32gather_ps(leaves_.data(), at, 4));
    }
    for (const float v : leaf) {
      sum += v; // XGBoost's order: tree by tree (the padding trees add 0)
    }
  }
  return sum;
}

} // namespace qf::core
