#pragma once
// XGBoost itself through its C API (libxgboost-dev): the reference the tree evaluator is tested
// and benchmarked against. Trains a squared-loss booster on dense float rows (NaN = missing),
// gives its JSON dump and base score, and predicts many rows (XGBoosterPredict) or one row in
// place (XGBoosterPredictFromDense, XGBoost's fastest single-row path). Throws on API errors.

#include <xgboost/c_api.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace qf::test {

class XgbReference {
public:
  XgbReference(const std::vector<float>& x, const std::vector<float>& y, std::size_t cols, int trees, int depth,
               float base_score) {
    const std::size_t rows = y.size();
    check(XGDMatrixCreateFromMat(x.data(), rows, cols, NAN, &train_));
    check(XGDMatrixSetFloatInfo(train_, "label", y.data(), rows));
    check(XGBoosterCreate(&train_, 1, &booster_));
    const std::string d = std::to_string(depth);
    const std::string b = std::to_string(base_score);
    for (const auto& [k, v] : {std::pair<const char*, const char*>{"objective", "reg:squarederror"},
                               {"max_depth", d.c_str()}, {"eta", "0.1"}, {"nthread", "1"}, {"seed", "1"},
                               {"tree_method", "hist"}, {"base_score", b.c_str()}}) {
      check(XGBoosterSetParam(booster_, k, v));
    }
    for (int i = 0; i < trees; ++i) {
      check(XGBoosterUpdateOneIter(booster_, i, train_));
    }
    cols_ = cols;
    row_config_ = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "cache_id": 0, "missing": NaN})";
  }
  ~XgbReference() {
    XGBoosterFree(booster_);
    XGDMatrixFree(train_);
  }
  XgbReference(const XgbReference&) = delete;
  XgbReference& operator=(const XgbReference&) = delete;

  // The JSON array of trees, as Booster.get_dump(dump_format="json") gives it.
  [[nodiscard]] std::string dump_json() const {
    bst_ulong n = 0;
    const char** trees = nullptr;
    check(XGBoosterDumpModelEx(booster_, "", 0, "json", &n, &trees));
    std::string out = "[";
    for (bst_ulong i = 0; i < n; ++i) {
      out += (i == 0 ? "" : ",");
      out += trees[i];
    }
    return out + "]";
  }
  [[nodiscard]] float base_score() const {
    bst_ulong n = 0;
    const char* text = nullptr;
    check(XGBoosterSaveJsonConfig(booster_, &n, &text));
    const nlohmann::json cfg = nlohmann::json::parse(std::string(text, n));
    return std::stof(cfg["learner"]["learner_model_param"]["base_score"].get<std::string>());
  }
  [[nodiscard]] std::vector<float> predict(const std::vector<float>& x) const {
    DMatrixHandle m = nullptr;
    check(XGDMatrixCreateFromMat(x.data(), x.size() / cols_, cols_, NAN, &m));
    bst_ulong n = 0;
    const float* out = nullptr;
    const int rc = XGBoosterPredict(booster_, m, 0, 0, 0, &n, &out);
    std::vector<float> result(out, out + (rc == 0 ? n : 0));
    XGDMatrixFree(m);
    check(rc);
    return result;
  }
  // One row in place; `interface` from row_interface() for that row's address.
  [[nodiscard]] float predict_one(const std::string& interface) const {
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    check(XGBoosterPredictFromDense(booster_, interface.c_str(), row_config_.c_str(), nullptr, &shape, &dim, &out));
    return out[0];
  }
  // The __array_interface__ of one row of `cols` floats at `row`.
  [[nodiscard]] std::string row_interface(const float* row) const {
    return R"({"data": [)" + std::to_string(reinterpret_cast<std::uintptr_t>(row)) +
           R"(, true], "shape": [1, )" + std::to_string(cols_) + R"(], "typestr": "<f4", "version": 3})";
  }

private:
  static void check(int rc) {
    if (rc != 0) {
      throw std::runtime_error(std::string("xgboost: ") + XGBGetLastError());
    }
  }
  DMatrixHandle train_ = nullptr;
  BoosterHandle booster_ = nullptr;
  std::size_t cols_ = 0;
  std::string row_config_;
};

} // namespace qf::test
