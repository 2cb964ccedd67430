#pragma once
// qf-engine replay: runs a capture through the real parsers, book synchronisation and core,
// single-threaded and deterministically (engine time is each record's capture receive time),
// and reports a JSON summary. The backtest path is the live code path. Several inputs (day
// files) are one stream: books, features and the backtest carry across each file boundary.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "qf/config/config.hpp"
#include "qf/core/engine.hpp"

namespace qf::engine {

struct ReplayOptions {
  // Capture files in time order; a directory stands for its *.capture and *.capture.gz files
  // sorted by name, a pattern with * ? [ that names no file for its glob(3) matches, sorted.
  std::vector<std::string> inputs;
  std::string venue;   // binance-spot | binance-usdm | coinbase | kraken | okx | bybit-spot | bybit-linear | coinbase-advanced; empty: detected from the capture
  std::optional<config::Config> config; // instruments and parameters; none: infer from data
  std::string tap;     // JSON-lines tap file; empty: none
  bool paced = false;  // --speed 1: original pacing from the receive timestamps
  std::uint64_t loops = 1; // replay the file this many times (benchmarks)
  std::string equity_csv;  // equity curve (one row per backtest interval); empty: none
  bool record_run = false; // keep the fills and the equity series in the result (--store)
  // --progress: "progress DONE TOTAL" lines (messages) on stderr at every percent, for the
  // gateway's backtest jobs. Without it a terminal on stderr gets a progress bar instead; a pipe
  // or file gets nothing.
  bool progress_lines = false;
  // Called after each applied event with the engine and the engine time (`qf-engine features`
  // reads the live state here); outside the allocation count. Empty: none.
  std::function<void(const core::Engine&, const core::Event&, std::uint64_t now_unix_ns)> on_event;
};

// One row of the equity curve (--equity-csv), at the first event of each backtest interval.
struct EquityPoint {
  std::uint64_t unix_ns = 0;
  double equity = 0, drawdown = 0, realized = 0, unrealized = 0, fees = 0;
};

struct ReplayResult {
  std::string summary_json;
  int exit_code = 0;
  std::vector<core::InstrumentSpec> instruments; // as replayed, in instrument id order
  std::string venue;
  std::vector<std::string> inputs; // the capture files, in replay order
  // With record_run: the fills the backtest counted and the equity curve.
  std::vector<core::Fill> fills;
  std::vector<EquityPoint> equity;
};

// Throws std::runtime_error with a message naming the file and line when an input cannot be
// read or a snapshot cannot be attributed, and naming both files when an input starts before
// the previous one ends (first receive time earlier than the previous file's last).
[[nodiscard]] ReplayResult run_replay(const ReplayOptions& options);

} // namespace qf::engine
