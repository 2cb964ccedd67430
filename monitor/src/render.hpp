#pragma once
// Rendering of a StateSnapshot for qf-monitor: one plain-text report (--once), one JSON
// document (--json), and the helpers the ncurses screen shares with them (prices as exact
// decimal strings, percentiles per stage, rates between two snapshots). Reads only the
// ipc state layout: the monitor never includes core or feeds headers.

#include <cstdint>
#include <string>
#include <vector>

#include "qf/ipc/state_reader.hpp"

namespace qf::monitor {

// Per-second rates between two snapshots of the same engine generation.
struct Rates {
  double events_per_s = 0.0;
  double messages_per_s = 0.0;
};
[[nodiscard]] Rates rates_between(const ipc::StateSnapshot& earlier, const ipc::StateSnapshot& later,
                                  double seconds) noexcept;

[[nodiscard]] std::string price_text(std::int64_t value, int decimals);
[[nodiscard]] std::string duration_text(std::uint64_t ns);
// The latency table: a heading and one row per stage, every quantile of ipc::kReportQuantiles.
[[nodiscard]] std::string latency_heading();
[[nodiscard]] std::string latency_row(ipc::Stage stage, const ipc::HistogramSnapshot& h);
// The header's risk line: "equity 100123.45  drawdown 0.88%  peak 101000.00  kill switch off"
// (or "kill switch HALT (command)").
[[nodiscard]] std::string risk_line(const ipc::StateSnapshot& s);
[[nodiscard]] bool kill_tripped(const ipc::StateSnapshot& s) noexcept;
// The hot thread's profile in force: "tuned (inline, hot cpu 1, SCHED_FIFO 80)" or "untuned (inline, SCHED_OTHER)".
[[nodiscard]] std::string profile_text(const ipc::EngineRecord& e);
// The composite books, two lines each (shared by --once and the screen): "BTC  bid P x Q @ venue:symbol
// ask ... spread S  venues 2/3 [CROSSED]" and "  excluded: venue:symbol (reason), ..." (or "  all venues in").
[[nodiscard]] std::vector<std::string> composite_lines(const ipc::StateSnapshot& s);
[[nodiscard]] std::string text_report(const ipc::StateSnapshot& s, std::uint64_t now_unix_ns);
[[nodiscard]] std::string json_report(const ipc::StateSnapshot& s, std::uint64_t now_unix_ns);

} // namespace qf::monitor
