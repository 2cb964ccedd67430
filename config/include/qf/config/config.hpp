#pragma once
// QuantFlow configuration: plain structs and a strict TOML loader. Strict means an unknown
// key, a wrong type or an out-of-range value is an error that names the key and its line, so
// a typo never silently falls back to a default. Defaults below are the documented ones
// (config/*.toml repeat them). Depends on toml++ only; the engine maps these structs onto its
// own types. Start-up only: the loader throws ConfigError.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace qf::config {

class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class Mode : std::uint8_t { live, sim, replay };
enum class IdleStrategy : std::uint8_t { spin, backoff, sleep };

struct EngineSection {
  std::string instance = "default";
  Mode mode = Mode::live;
  int core_cpu = -1;            // -1: not pinned
  std::vector<int> feed_cpus;   // empty: not pinned
  int numa_node = -1;           // -1: leave placement to the kernel
  bool lock_memory = true;      // mlockall
  int realtime_priority = 0;    // 0: no SCHED_FIFO
  bool huge_pages = false;      // for the state segment
  IdleStrategy idle = IdleStrategy::spin;
};

struct BookSection {
  std::uint32_t window_ticks = 1U << 14;
  std::uint32_t cold_capacity = 8192;
};

struct FeatureSection {
  double fast_halflife_s = 5.0;
  double slow_halflife_s = 60.0;
  double vol_halflife_s = 60.0;
  double flow_halflife_s = 10.0;
  std::uint32_t vwap_window_s = 300;
  std::uint32_t imbalance_levels = 5;
};

struct InstrumentEntry {
  std::string venue; // binance-spot | binance-usdm | coinbase
  std::string symbol;
  int price_decimals = 2;
  int qty_decimals = 8;
};

struct Config {
  EngineSection engine;
  BookSection book;
  FeatureSection features;
  std::vector<InstrumentEntry> instruments;
};

// Throws ConfigError ("FILE:LINE:COL: key: problem") on any error.
[[nodiscard]] Config load_config(const std::string& path);
[[nodiscard]] Config parse_config(const std::string& toml_text, const std::string& source_name = "<string>");

[[nodiscard]] const char* to_string(Mode m) noexcept;

} // namespace qf::config
