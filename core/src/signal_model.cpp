#include "qf/core/signal_model.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace qf::core {

namespace {

using Json = nlohmann::json;

std::string names(const Json& list) {
  std::string out;
  for (const Json& n : list) {
    out += (out.empty() ? "" : ", ") + (n.is_string() ? n.get<std::string>() : n.dump());
  }
  return "[" + out + "]";
}

template <std::size_t N>
std::string names(const std::array<std::string_view, N>& list) {
  std::string out;
  for (const std::string_view n : list) {
    out += (out.empty() ? "" : ", ") + std::string(n);
  }
  return "[" + out + "]";
}

double finite(const Json& v, const std::string& what) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) {
    throw std::invalid_argument(what + " is not a finite number");
  }
  return v.get<double>();
}

template <typename Matrix>
void matrix(const Json& rows, Matrix& m, const std::string& what) {
  if (!rows.is_array() || rows.size() != static_cast<std::size_t>(m.rows())) {
    throw std::invalid_argument(what + " needs " + std::to_string(m.rows()) + " rows");
  }
  for (int r = 0; r < m.rows(); ++r) {
    const Json& row = rows[static_cast<std::size_t>(r)];
    if (m.cols() == 1 && row.is_number()) {
      m(r, 0) = finite(row, what);
      continue;
    }
    if (!row.is_array() || row.size() != static_cast<std::size_t>(m.cols())) {
      throw std::invalid_argument(what + " row " + std::to_string(r) + " needs " + std::to_string(m.cols()) + " values");
    }
    for (int c = 0; c < m.cols(); ++c) {
      m(r, c) = finite(row[static_cast<std::size_t>(c)], what);
    }
  }
}

// "drift": {"method": "psi", "features": [{"name", "edges", "expected"}, ...]} in the features' order.
void parse_drift(const Json& drift, SignalModel& m) {
  if (drift.value("method", "") != "psi") {
    throw std::invalid_argument("drift.method must be \"psi\"");
  }
  const Json& list = drift.at("features");
  if (!list.is_array() || list.size() != kSignalFeatures) {
    throw std::invalid_argument("drift.features needs one entry per feature (" + std::to_string(kSignalFeatures) + ")");
  }
  for (std::size_t f = 0; f < kSignalFeatures; ++f) {
    const Json& d = list[f];
    const std::string what = "drift.features[" + std::to_string(f) + "]";
    if (d.value("name", "") != kSignalFeatureNames[f]) {
      throw std::invalid_argument(what + " is " + d.value("name", Json()).dump() + ", expected " +
                                  std::string(kSignalFeatureNames[f]));
    }
    FeatureDistribution& out = m.drift[f];
    const Json& edges = d.at("edges");
    const Json& expected = d.at("expected");
    if (!edges.is_array() || edges.size() >= kMaxDriftBins) {
      throw std::invalid_argument(what + ".edges needs at most " + std::to_string(kMaxDriftBins - 1) + " values");
    }
    if (!expected.is_array() || expected.size() != edges.size() + 1) {
      throw std::invalid_argument(what + ".expected needs edges + 1 fractions");
    }
    double sum = 0.0;
    for (const Json& e : edges) {
      const double v = finite(e, what + ".edges");
      if (!out.edges.empty() && !(v > out.edges.back())) {
        throw std::invalid_argument(what + ".edges must be strictly increasing");
      }
      out.edges.push_back(v);
    }
    for (const Json& e : expected) {
      const double v = finite(e, what + ".expected");
      if (v < 0.0) {
        throw std::invalid_argument(what + ".expected must be >= 0");
      }
      out.expected.push_back(v);
      sum += v;
    }
    if (std::abs(sum - 1.0) > 1e-6) {
      throw std::invalid_argument(what + ".expected must sum to 1");
    }
  }
}

// experts.trees.check (written by qf-train): rows the trees were fitted on, with XGBoost's own
// prediction for each; the flat evaluator must give the same within 1e-6 (relative above 1) on
// every one, or the model is refused. Optional, for hand-written models.
void check_trees(const Json& check, const TreeEnsemble& trees) {
  if (check.is_null()) {
    return;
  }
  const Json& rows = check.at("rows");
  const Json& predictions = check.at("predictions");
  if (!rows.is_array() || !predictions.is_array() || rows.size() != predictions.size()) {
    throw std::invalid_argument("experts.trees.check needs as many predictions as rows");
  }
  std::array<float, kSignalFeatures> x{};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string what = "experts.trees.check row " + std::to_string(i);
    if (!rows[i].is_array() || rows[i].size() != x.size()) {
      throw std::invalid_argument(what + " needs " + std::to_string(x.size()) + " values");
    }
    for (std::size_t j = 0; j < x.size(); ++j) {
      x[j] = rows[i][j].is_null() ? std::nanf("") : static_cast<float>(finite(rows[i][j], what));
    }
    const double expected = finite(predictions[i], what + " prediction");
    const double got = trees.predict(x.data());
    if (std::abs(got - expected) > 1e-6 * std::max(1.0, std::abs(expected))) {
      throw std::invalid_argument(what + ": the tree evaluator gives " + Json(got).dump() + ", XGBoost gave " +
                                  Json(expected).dump());
    }
  }
}

SignalModel parse(const Json& doc) {
  if (!doc.is_object() || doc.value("format", "") != "qf-signal-model") {
    throw std::invalid_argument("not a qf-signal-model file (\"format\")");
  }
  if (doc.value("version", 0) != kSignalModelVersion) {
    throw std::invalid_argument("version " + doc.value("version", Json()).dump() + ", the engine reads version " +
                                std::to_string(kSignalModelVersion));
  }
  const Json& features = doc.at("features");
  if (names(features) != names(kSignalFeatureNames)) {
    throw std::invalid_argument("features " + names(features) + " differ from the engine's " +
                                names(kSignalFeatureNames));
  }
  const Json& obs = doc.at("regime_observation");
  if (names(obs) != names(kRegimeObsNames)) {
    throw std::invalid_argument("regime observation " + names(obs) + " differs from the engine's " +
                                names(kRegimeObsNames));
  }
  const Json& hmm = doc.at("hmm");
  if (hmm.value("states", 0) != kRegimes) {
    throw std::invalid_argument("the HMM has " + hmm.value("states", Json()).dump() + " states, the engine " +
                                std::to_string(kRegimes));
  }
  SignalModel m;
  m.id = doc.at("id").get<std::string>();
  matrix(hmm.at("transition"), m.hmm.transition, "hmm.transition");
  matrix(hmm.at("initial"), m.hmm.initial, "hmm.initial");
  matrix(hmm.at("means"), m.hmm.means, "hmm.means");
  matrix(hmm.at("variances"), m.hmm.variances, "hmm.variances");
  for (int i = 0; i < kRegimes; ++i) {
    if (std::abs(m.hmm.transition.row(i).sum() - 1.0) > 1e-6 || (m.hmm.transition.row(i).array() < 0).any()) {
      throw std::invalid_argument("hmm.transition row " + std::to_string(i) + " is not a distribution");
    }
  }
  if ((m.hmm.variances.array() <= 0).any()) {
    throw std::invalid_argument("hmm.variances must be > 0");
  }
  const Json& st = doc.at("standardization");
  matrix(st.at("mean"), m.mean, "standardization.mean");
  matrix(st.at("sd"), m.sd, "standardization.sd");
  if ((m.sd.array() <= 0).any()) {
    throw std::invalid_argument("standardization.sd must be > 0");
  }
  const Json& experts = doc.at("experts");
  matrix(experts.at("linear").at("weights"), m.weights, "experts.linear.weights");
  matrix(experts.at("linear").at("bias"), m.bias, "experts.linear.bias");
  const Json& trees = experts.value("trees", Json());
  if (!trees.is_null()) {
    m.trees_weight = finite(trees.at("weight"), "experts.trees.weight");
    if (m.trees_weight < 0.0 || m.trees_weight > 1.0) {
      throw std::invalid_argument("experts.trees.weight must be within [0, 1]");
    }
    m.trees = std::make_shared<const TreeEnsemble>(
        trees.at("dump").dump(), static_cast<float>(finite(trees.at("base_score"), "experts.trees.base_score")),
        kSignalFeatures);
    check_trees(trees.value("check", Json()), *m.trees);
  }
  const Json& training = doc.at("training");
  m.train_start_ns = training.at("start_ns").get<std::uint64_t>();
  m.train_end_ns = training.at("end_ns").get<std::uint64_t>();
  m.train_rows = training.at("rows").get<std::uint64_t>();
  parse_drift(doc.at("drift"), m);
  for (const Json& fold : doc.at("validation").at("folds")) {
    ValidationFold v;
    v.test_rows = fold.at("rows").get<std::uint64_t>();
    v.ic = finite(fold.at("ic"), "validation ic");
    v.hit_rate = finite(fold.at("hit_rate"), "validation hit_rate");
    const Json& s = fold.at("model");
    v.return_bps = finite(s.at("return_bps"), "validation return_bps");
    v.sharpe_per_bar = finite(s.at("sharpe_per_bar"), "validation sharpe_per_bar");
    v.max_drawdown_bps = finite(s.at("max_drawdown_bps"), "validation max_drawdown_bps");
    v.buy_and_hold_bps = finite(fold.at("buy_and_hold").at("return_bps"), "validation buy_and_hold return_bps");
    m.validation.push_back(v);
  }
  return m;
}

} // namespace

SignalModel load_signal_model(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(path + ": cannot read the signal model");
  }
  std::stringstream text;
  text << in.rdbuf();
  const Json doc = Json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) {
    throw std::runtime_error(path + ": the signal model is not valid JSON");
  }
  try {
    SignalModel m = parse(doc);
    m.path = path;
    return m;
  } catch (const std::exception& e) { // nlohmann's missing-key / type errors included
    throw std::runtime_error(path + ": " + e.what());
  }
}

} // namespace qf::core
