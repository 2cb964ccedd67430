#include "risk_store.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace qf::engine {
namespace {

std::string temp_path(const char* name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

TEST(risk_store, should_restore_a_tripped_kill_switch_and_an_open_position) {
  const std::string path = temp_path("risk.state");
  core::RiskSnapshot s;
  s.count = 2;
  s.positions[1].qty = -0.25;
  s.positions[1].avg_cost = 61'000.5;
  s.positions[1].realized = 12.5;
  s.cash = 115'000.25;
  s.peak = 120'000;
  s.fills = 7;
  s.kill_mode = core::KillMode::reduce_only;
  s.kill_cause = core::KillCause::drawdown;
  s.kill_since_ns = 1'723'161'255'000'000'000ULL;
  save_risk_state(path, s);
  const auto back = load_risk_state(path, 2);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->positions[1].qty, -0.25);
  EXPECT_EQ(back->positions[1].avg_cost, 61'000.5);
  EXPECT_EQ(back->cash, 115'000.25);
  EXPECT_EQ(back->peak, 120'000.0);
  EXPECT_EQ(back->fills, 7U);
  EXPECT_EQ(back->kill_mode, core::KillMode::reduce_only);
  EXPECT_EQ(back->kill_cause, core::KillCause::drawdown);
  EXPECT_EQ(back->kill_since_ns, 1'723'161'255'000'000'000ULL);
  EXPECT_THROW((void)load_risk_state(path, 3), std::runtime_error); // another instrument list
  std::remove(path.c_str());
  EXPECT_FALSE(load_risk_state(path, 2).has_value()); // no file: start flat
}

TEST(risk_store, should_refuse_a_file_that_is_not_a_risk_state) {
  const std::string path = temp_path("junk.state");
  std::ofstream(path) << "not a risk state";
  EXPECT_THROW((void)load_risk_state(path, 1), std::runtime_error);
  std::remove(path.c_str());
}

} // namespace
} // namespace qf::engine
