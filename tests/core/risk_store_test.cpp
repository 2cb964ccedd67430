#include "risk_store.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

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

// A state file with a valid header but values no engine writes (issue 17, defect 3): written
// through save_risk_state so the checksum matches, refused by the range checks naming the field.
void expect_refused(core::RiskSnapshot s, const char* name, const char* field) {
  const std::string path = temp_path(name);
  save_risk_state(path, s);
  try {
    (void)load_risk_state(path, s.count);
    ADD_FAILURE() << name << ": loaded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(field), std::string::npos) << what;
  }
  std::remove(path.c_str());
}

core::RiskSnapshot sane() {
  core::RiskSnapshot s;
  s.count = 2;
  s.cash = 100'000;
  s.peak = 100'000;
  s.day_start_equity = 100'000;
  s.positions[0].qty = 0.5;
  s.positions[0].avg_cost = 60'000;
  s.positions[0].mark = 60'100;
  return s;
}

TEST(risk_store, should_refuse_values_outside_a_sane_account) {
  core::RiskSnapshot s = sane();
  s.cash = 1e300;
  expect_refused(s, "huge.state", "field cash");
  s = sane();
  s.peak = 6e304;
  expect_refused(s, "peak.state", "field peak");
  s = sane();
  s.positions[0].avg_cost = std::nan("");
  expect_refused(s, "nan.state", "positions[0].avg_cost is not finite");
  s = sane();
  s.cash = -5e12;
  expect_refused(s, "negative.state", "field cash");
  s = sane();
  s.positions[1].qty = 1e11; // each value in range, the equity is not
  s.positions[1].mark = 1e6;
  expect_refused(s, "equity.state", "equity");
  s = sane();
  s.kill_mode = static_cast<core::KillMode>(9);
  expect_refused(s, "mode.state", "kill_mode");
  s = sane();
  const std::string path = temp_path("sane.state");
  save_risk_state(path, s);
  EXPECT_TRUE(load_risk_state(path, 2).has_value());
  std::remove(path.c_str());
}

TEST(risk_store, should_refuse_a_changed_byte_by_its_checksum) {
  const std::string path = temp_path("changed.state");
  save_risk_state(path, sane());
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40); // inside the snapshot
    f.put('\x7f');
  }
  try {
    (void)load_risk_state(path, 2);
    ADD_FAILURE() << "loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(risk_store, should_refuse_a_second_engine_on_the_same_file) {
  const std::string path = temp_path("shared.state");
  save_risk_state(path, sane()); // this process now holds the lock
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      (void)load_risk_state(path, 2);
      ::_exit(1);
    } catch (const std::runtime_error& e) {
      ::_exit(std::string(e.what()).find("in use by another engine") != std::string::npos ? 0 : 2);
    }
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the second engine must be refused";
  EXPECT_TRUE(load_risk_state(path, 2).has_value()); // the holder itself reads it
  std::remove(path.c_str());
}

TEST(risk_store, should_start_flat_when_told_to_discard) {
  const std::string path = temp_path("discard.state");
  core::RiskSnapshot s = sane();
  s.cash = 1e300;
  save_risk_state(path, s);
  discard_risk_state(true);
  EXPECT_FALSE(load_risk_state(path, 2).has_value());
  discard_risk_state(false);
  EXPECT_FALSE(load_risk_state(path, 2).has_value()); // moved aside
  std::remove((path + ".discarded").c_str());
}

TEST(risk_store, should_restore_the_limits_in_force) {
  const std::string path = temp_path("limits.state");
  core::RiskSnapshot s = sane();
  s.has_limits = 1;
  s.limits.max_order_notional = 1234.5;
  s.limits.max_drawdown = 0.05;
  s.limits.orders_per_min_total = 7;
  save_risk_state(path, s);
  const auto back = load_risk_state(path, 2);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->has_limits, 1);
  EXPECT_EQ(back->limits.max_order_notional, 1234.5);
  EXPECT_EQ(back->limits.max_drawdown, 0.05);
  EXPECT_EQ(back->limits.orders_per_min_total, 7U);
  EXPECT_EQ(back->limits.price_band_bps, core::RiskLimits{}.price_band_bps);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary); // one byte of the limits
    f.seekp(static_cast<std::streamoff>(24 + offsetof(core::RiskSnapshot, limits) +
                                        offsetof(core::RiskLimits, max_order_notional) + 7));
    f.put('\x7f');
  }
  try {
    (void)load_risk_state(path, 2);
    ADD_FAILURE() << "loaded a changed limit";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(risk_store, should_refuse_limits_outside_the_config_ranges) {
  core::RiskSnapshot s = sane();
  s.has_limits = 1;
  s.limits.max_drawdown = 2;
  expect_refused(s, "drawdown.state", "field limits.max_drawdown");
  s.limits = core::RiskLimits{};
  s.limits.max_order_notional = -1;
  expect_refused(s, "order.state", "field limits.max_order_notional");
  s.limits = core::RiskLimits{};
  s.limits.price_band_bps = std::nan("");
  expect_refused(s, "band.state", "field limits.price_band_bps is not finite");
  s.limits = core::RiskLimits{};
  s.limits.orders_per_s_total = 0;
  expect_refused(s, "rate.state", "field limits.orders_per_s_total");
  s.limits = core::RiskLimits{};
  s.has_limits = 2;
  expect_refused(s, "flag.state", "field has_limits");
}

// Version 2 (no limits), as the engine wrote it before v3: the account and kill switch load, the
// limits stay the config's (has_limits 0).
TEST(risk_store, should_still_read_a_version_2_file) {
  struct SnapshotV2 {
    std::uint32_t count = 0;
    std::array<core::Position, ipc::kMaxInstruments> positions{};
    double cash = 0, peak = 0, day_start_equity = 0, fees = 0;
    std::uint64_t day = 0;
    std::uint64_t fills = 0;
    core::KillMode kill_mode = core::KillMode::none;
    core::KillCause kill_cause = core::KillCause::none;
    std::uint64_t kill_since_ns = 0;
  };
  struct ImageV2 {
    std::uint64_t magic = 0x31534B5349524651ULL;
    std::uint32_t version = 2;
    std::uint32_t bytes = sizeof(SnapshotV2);
    std::uint64_t checksum = 0;
    SnapshotV2 snapshot;
  };
  ImageV2 img;
  img.snapshot.count = 2;
  img.snapshot.positions[0].qty = 0.5;
  img.snapshot.positions[0].avg_cost = 60'000;
  img.snapshot.cash = 70'000;
  img.snapshot.peak = 100'000;
  img.snapshot.fills = 3;
  img.snapshot.kill_mode = core::KillMode::halt;
  img.snapshot.kill_cause = core::KillCause::command;
  img.snapshot.kill_since_ns = 42;
  std::uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a 64, as the v2 writer computed it
  const auto* p = reinterpret_cast<const unsigned char*>(&img.snapshot);
  for (std::size_t i = 0; i < sizeof img.snapshot; ++i) {
    h = (h ^ p[i]) * 0x100000001b3ULL;
  }
  img.checksum = h;
  const std::string path = temp_path("v2.state");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(&img), sizeof img);
  const auto back = load_risk_state(path, 2);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->has_limits, 0);
  EXPECT_EQ((std::pair{back->positions[0].qty, back->cash}), (std::pair{0.5, 70'000.0}));
  EXPECT_EQ((std::pair{back->kill_mode, back->kill_since_ns}), (std::pair{core::KillMode::halt, std::uint64_t{42}}));
  EXPECT_EQ(back->fills, 3U);
  std::remove(path.c_str());
}

TEST(risk_store, should_refuse_a_file_that_is_not_a_risk_state) {
  const std::string path = temp_path("junk.state");
  std::ofstream(path) << "not a risk state";
  EXPECT_THROW((void)load_risk_state(path, 1), std::runtime_error);
  std::remove(path.c_str());
}

} // namespace
} // namespace qf::engine
