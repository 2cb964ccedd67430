// ns per prediction of one row: the flat tree evaluator (qf/core/trees.hpp), each kernel
// (BM_flat_trees/<trees>/0 portable, /1 the default: avx2 where the CPU has it), against
// XGBoost's C API in-place single-row predict (XGBoosterPredictFromDense), same models, same
// rows, same run; 100 and 500 trees of depth 6. Ratio: bench/results via perf/bench_report.py.
#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>

#include "bench_affinity.hpp"
#include "qf/core/trees.hpp"
#include "xgboost_reference.hpp"

namespace {

constexpr std::size_t kCols = 5;
constexpr std::size_t kRows = 4'096;

struct Fixture {
  std::vector<float> x;
  std::unique_ptr<qf::test::XgbReference> ref;
  std::unique_ptr<qf::core::TreeEnsemble> ours;
  std::unique_ptr<qf::core::TreeEnsemble> portable;
  std::vector<std::string> interfaces;
};

Fixture& fixture(int trees) {
  // Never destroyed: XGBoost's thread-local API entries die before function-local statics, and
  // a Booster freed after them reads freed memory (a "double free" abort at exit under valgrind).
  static auto* cache = new std::map<int, Fixture>;
  Fixture& f = (*cache)[trees];
  if (f.ours) {
    return f;
  }
  std::mt19937_64 rng(9);
  std::normal_distribution<float> n(0.0F, 1.0F);
  std::vector<float> y;
  for (std::size_t r = 0; r < kRows; ++r) {
    float row[kCols];
    for (float& v : row) {
      v = n(rng);
    }
    y.push_back(std::sin(2.0F * row[0]) * row[1] + row[2] * row[3] + 0.1F * n(rng));
    f.x.insert(f.x.end(), row, row + kCols);
  }
  f.ref = std::make_unique<qf::test::XgbReference>(f.x, y, kCols, trees, 6, 0.0F);
  f.ours = std::make_unique<qf::core::TreeEnsemble>(f.ref->dump_json(), f.ref->base_score(), kCols);
  f.portable = std::make_unique<qf::core::TreeEnsemble>(f.ref->dump_json(), f.ref->base_score(), kCols,
                                                        qf::core::TreeEnsemble::Kernel::portable);
  for (std::size_t r = 0; r < kRows; ++r) {
    f.interfaces.push_back(f.ref->row_interface(&f.x[r * kCols]));
  }
  return f;
}

void BM_flat_trees(benchmark::State& state) {
  (void)qf::bench::pin_this_thread(qf::bench::kConsumerCpu);
  Fixture& f = fixture(static_cast<int>(state.range(0)));
  const qf::core::TreeEnsemble& trees = state.range(1) == 0 ? *f.portable : *f.ours;
  std::size_t r = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(trees.predict(&f.x[r * kCols]));
    r = (r + 1) % kRows;
  }
  state.counters["depth"] = trees.depth();
  state.counters["avx2"] = trees.kernel() == qf::core::TreeEnsemble::Kernel::avx2 ? 1 : 0;
}

void BM_xgboost_c_api(benchmark::State& state) {
  (void)qf::bench::pin_this_thread(qf::bench::kConsumerCpu);
  Fixture& f = fixture(static_cast<int>(state.range(0)));
  std::size_t r = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.ref->predict_one(f.interfaces[r]));
    r = (r + 1) % kRows;
  }
}

BENCHMARK(BM_flat_trees)->ArgsProduct({{100, 500}, {0, 1}});
BENCHMARK(BM_xgboost_c_api)->Arg(100)->Arg(500);

} // namespace

BENCHMARK_MAIN();
