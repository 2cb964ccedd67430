#include "qf/core/trees.hpp"

#include <nlohmann/json.hpp>

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

TreeEnsemble::TreeEnsemble(std::string_view dump_json, float base_score, int features)
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
  const std::size_t inner = (std::size_t{1} << depth_) - 1;
  const std::size_t leaves = std::size_t{1} << depth_;
  splits_.assign(inner * static_cast<std::size_t>(trees_), Split{std::numeric_limits<float>::infinity(), 0, 0});
  leaves_.assign(leaves * static_cast<std::size_t>(trees_), 0.0F);
  for (int t = 0; t < trees_; ++t) {
    Split* splits = splits_.data() + inner * static_cast<std::size_t>(t);
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
      Split& s = splits[pos];
      s.feature = static_cast<std::uint16_t>(feature_of(node.at("split"), t, features_));
      s.threshold = node.at("split_condition").get<float>();
      s.default_right = missing == no ? 1 : 0;
      self(self, *left, 2 * pos + 1, level + 1);
      self(self, *right, 2 * pos + 2, level + 1);
    };
    fill(fill, dump[static_cast<std::size_t>(t)], 0, 0);
  }
}

float TreeEnsemble::predict(const float* x) const noexcept {
  const std::size_t inner = (std::size_t{1} << depth_) - 1;
  const std::size_t leaves = inner + 1;
  constexpr int kLanes = 8; // independent trees in flight
  float sum = base_score_;
  int t = 0;
  const auto step = [x](const Split* tree, std::size_t i) noexcept {
    const Split s = tree[i];
    const float v = x[s.feature];
    // go right: v >= threshold, or v missing and the default is right; computed, not branched.
    const std::size_t right = static_cast<std::size_t>(v >= s.threshold) |
                              (static_cast<std::size_t>(v != v) & s.default_right);
    return 2 * i + 1 + right;
  };
  for (; t + kLanes <= trees_; t += kLanes) {
    std::size_t idx[kLanes] = {};
    const Split* base = splits_.data() + inner * static_cast<std::size_t>(t);
    for (int d = 0; d < depth_; ++d) {
      for (int l = 0; l < kLanes; ++l) {
        idx[l] = step(base + inner * static_cast<std::size_t>(l), idx[l]);
      }
    }
    const float* leaf = leaves_.data() + leaves * static_cast<std::size_t>(t);
    for (int l = 0; l < kLanes; ++l) {
      sum += leaf[leaves * static_cast<std::size_t>(l) + idx[l] - inner]; // XGBoost's order: tree by tree
    }
  }
  for (; t < trees_; ++t) {
    const Split* tree = splits_.data() + inner * static_cast<std::size_t>(t);
    std::size_t i = 0;
    for (int d = 0; d < depth_; ++d) {
      i = step(tree, i);
    }
    sum += leaves_[leaves * static_cast<std::size_t>(t) + i - inner];
  }
  return sum;
}

} // namespace qf::core
