// The flat tree evaluator against XGBoost's own predict (C API, same process): equal to 1e-6 on
// 10,000 random rows with missing values, for shallow, deep and large ensembles, with each
// kernel (portable and, where the CPU has it, avx2), the two equal to each other bit for bit;
// no allocation per prediction; a dump it cannot represent is refused with the reason.
#include "qf/core/trees.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "alloc_count.hpp"
#include "xgboost_reference.hpp"

namespace {

using qf::core::TreeEnsemble;
using qf::test::XgbReference;

constexpr std::size_t kCols = 5;

struct Data {
  std::vector<float> x;
  std::vector<float> y;
};

// A nonlinear target with missing inputs, so trees are full and default directions matter.
Data make_data(std::size_t rows, unsigned seed, std::size_t cols = kCols) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0F, 1.0F);
  std::uniform_real_distribution<float> u(0.0F, 1.0F);
  Data d;
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<float> row(cols);
    for (float& v : row) {
      v = n(rng);
    }
    // The last column matters too, so a wide row's far features are split on.
    d.y.push_back(std::sin(2.0F * row[0]) * row[1] + (row[2] > 0.3F ? 1.0F : -0.5F) + 0.5F * row[cols - 1] +
                  0.1F * n(rng));
    for (float& v : row) {
      if (u(rng) < 0.05F) {
        v = NAN;
      }
    }
    d.x.insert(d.x.end(), row.begin(), row.end());
  }
  return d;
}

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") != 0; }

void expect_equal_to_xgboost(int trees, int depth, float base_score, std::size_t cols = kCols) {
  const Data train = make_data(4'000, 1, cols);
  const XgbReference ref(train.x, train.y, cols, trees, depth, base_score);
  const TreeEnsemble portable(ref.dump_json(), ref.base_score(), static_cast<int>(cols),
                              TreeEnsemble::Kernel::portable);
  ASSERT_EQ(portable.kernel(), TreeEnsemble::Kernel::portable);
  ASSERT_EQ(portable.trees(), trees);
  ASSERT_LE(portable.depth(), depth);
  const TreeEnsemble best(ref.dump_json(), ref.base_score(), static_cast<int>(cols));
  EXPECT_EQ(best.kernel(), cpu_has_avx2() ? TreeEnsemble::Kernel::avx2 : TreeEnsemble::Kernel::portable);
  const Data rows = make_data(10'000, 2, cols);
  const std::vector<float> expected = ref.predict(rows.x);
  ASSERT_EQ(expected.size(), 10'000U);
  double worst = 0.0;
  std::size_t unequal = 0;
  for (std::size_t r = 0; r < expected.size(); ++r) {
    const float a = portable.predict(&rows.x[r * cols]);
    const float b = best.predict(&rows.x[r * cols]);
    worst = std::max({worst, std::abs(double{a} - double{expected[r]}), std::abs(double{b} - double{expected[r]})});
    unequal += a == b ? 0U : 1U;
  }
  EXPECT_LE(worst, 1e-6) << trees << " trees, depth " << depth;
  EXPECT_EQ(unequal, 0U) << "the kernels must give the same float";
}

TEST(TreeEnsemble, should_equal_xgboost_predict_on_10000_rows_with_100_trees_depth_6) {
  expect_equal_to_xgboost(100, 6, 0.5F);
}

TEST(TreeEnsemble, should_equal_xgboost_predict_on_10000_rows_with_500_trees_depth_6) {
  expect_equal_to_xgboost(500, 6, 0.0F);
}

TEST(TreeEnsemble, should_equal_xgboost_predict_with_deeper_trees_and_a_remainder_of_lanes) {
  expect_equal_to_xgboost(13, 9, -0.25F);
}

TEST(TreeEnsemble, should_equal_xgboost_with_rows_wider_than_one_vector_register) {
  // More than 8 features: the avx2 kernel gathers the row's features instead of permuting them.
  expect_equal_to_xgboost(40, 6, 0.5F, 12);
}

TEST(TreeEnsemble, should_take_missing_values_the_way_xgboost_does) {
  const Data train = make_data(2'000, 3);
  const XgbReference ref(train.x, train.y, kCols, 20, 4, 0.5F);
  const std::vector<float> all_missing(kCols, NAN);
  for (const auto kernel : {TreeEnsemble::Kernel::portable, TreeEnsemble::Kernel::best}) {
    const TreeEnsemble ours(ref.dump_json(), ref.base_score(), kCols, kernel);
    EXPECT_NEAR(ours.predict(all_missing.data()), ref.predict(all_missing)[0], 1e-6);
  }
}

TEST(TreeEnsemble, should_predict_without_allocating) {
  const Data train = make_data(2'000, 4);
  const XgbReference ref(train.x, train.y, kCols, 50, 6, 0.5F);
  const TreeEnsemble ours(ref.dump_json(), ref.base_score(), kCols);
  const Data rows = make_data(1'000, 5);
  const std::uint64_t before = qf::alloc::thread_allocations();
  float sum = 0.0F;
  for (std::size_t r = 0; r < 1'000; ++r) {
    sum += ours.predict(&rows.x[r * kCols]);
  }
  EXPECT_EQ(qf::alloc::thread_allocations() - before, 0U);
  EXPECT_TRUE(std::isfinite(sum));
}

TEST(TreeEnsemble, should_refuse_a_dump_it_cannot_represent_and_say_why) {
  const auto message = [](const std::string& dump, int features) {
    try {
      const TreeEnsemble t(dump, 0.0F, features);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("{}", 5).find("not a JSON array"), std::string::npos);
  const std::string split =
      R"([{"nodeid":0,"depth":0,"split":"f7","split_condition":0.5,"yes":1,"no":2,"missing":1,)"
      R"("children":[{"nodeid":1,"leaf":0.1},{"nodeid":2,"leaf":-0.1}]}])";
  EXPECT_NE(message(split, 5).find("split feature 7 is outside the 5 inputs"), std::string::npos);
  EXPECT_EQ(message(split, 8), "accepted");
  const std::string named = R"([{"nodeid":0,"split":"imbalance","split_condition":0.5,"yes":1,"no":2,)"
                            R"("children":[{"nodeid":1,"leaf":0.1},{"nodeid":2,"leaf":-0.1}]}])";
  EXPECT_NE(message(named, 5).find("is not f<N>"), std::string::npos);
}

} // namespace
