#include "host.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace qf::engine {
namespace {

namespace fs = std::filesystem;

// A fake /sys and /proc tree to point the self-check at.
class host_check : public ::testing::Test {
protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("qf-host-" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text << "\n";
  }
  const HostFinding& find(const std::vector<HostFinding>& all, const std::string& what) {
    for (const auto& f : all) {
      if (f.what.find(what) != std::string::npos) {
        return f;
      }
    }
    ADD_FAILURE() << "no finding about " << what;
    return all.front();
  }
  fs::path root_;
};

TEST_F(host_check, should_find_nothing_that_hurts_on_a_tuned_host) {
  write("sys/devices/system/cpu/isolated", "2-3");
  write("sys/devices/system/cpu/nohz_full", "2-3");
  write("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "performance");
  write("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never");
  write("proc/1/comm", "systemd");
  const auto findings = check_host(2, root_.string());
  for (const auto& f : findings) {
    EXPECT_FALSE(f.hurts_latency) << f.what << ": " << f.found << " -> " << f.advice;
  }
}

TEST_F(host_check, should_flag_each_setting_that_hurts_latency_with_advice) {
  write("sys/devices/system/cpu/isolated", "");
  write("sys/devices/system/cpu/nohz_full", "");
  write("sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave");
  write("sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never");
  write("proc/1/comm", "systemd");
  write("proc/77/comm", "irqbalance");
  const auto findings = check_host(1, root_.string());
  EXPECT_TRUE(find(findings, "isolated").hurts_latency);
  EXPECT_NE(find(findings, "isolated").advice.find("isolcpus=1"), std::string::npos);
  EXPECT_TRUE(find(findings, "nohz_full").hurts_latency);
  EXPECT_TRUE(find(findings, "governor").hurts_latency);
  EXPECT_EQ(find(findings, "governor").found, "powersave");
  EXPECT_TRUE(find(findings, "transparent").hurts_latency);
  EXPECT_TRUE(find(findings, "irqbalance").hurts_latency);
}

TEST_F(host_check, should_not_blame_a_governor_the_host_does_not_expose) {
  write("sys/devices/system/cpu/isolated", "1");
  const auto findings = check_host(1, root_.string());
  EXPECT_FALSE(find(findings, "governor").hurts_latency);
  EXPECT_NE(find(findings, "governor").found.find("not exposed"), std::string::npos);
}

TEST(host_tuning, should_pin_to_an_existing_cpu_and_warn_for_a_missing_one) {
  EXPECT_TRUE(apply_tuning(TuningRequest{0, -1, false, 0}).empty());
  EXPECT_EQ(current_cpu(), 0);
  const auto warnings = apply_tuning(TuningRequest{4000, -1, false, 0});
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("cannot pin to CPU 4000"), std::string::npos) << warnings[0];
}

TEST(host_tuning, should_warn_once_for_a_numa_node_that_does_not_exist) {
  const auto warnings = apply_tuning(TuningRequest{-1, 999, false, 0});
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("NUMA node 999"), std::string::npos) << warnings[0];
}

} // namespace
} // namespace qf::engine
