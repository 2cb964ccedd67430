#pragma once
// A history row on its way to PostgreSQL: the table it belongs to, the UTC day of its `ts`
// (the partition it lands in) and its COPY text line (tab-separated, \N for NULL, no newline).
// Sources format rows; the writer only batches and sends them, so a second source (a JetStream
// consumer) feeds the same writer with the same rows. Formatting helpers for COPY text live here.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace qf::store {

enum class Table : std::uint8_t { engines = 0, bars, signals, fills, equity, risk, events };
inline constexpr std::size_t kTableCount = 7;
inline constexpr std::array<const char*, kTableCount> kTableNames = {"engines", "bars",  "signals", "fills",
                                                                     "equity",  "risk", "events"};
[[nodiscard]] constexpr const char* to_string(Table t) noexcept { return kTableNames[static_cast<std::size_t>(t)]; }
// Whether the table is partitioned by day on `ts` (every table but `engines`).
[[nodiscard]] constexpr bool partitioned(Table t) noexcept { return t != Table::engines; }

inline constexpr std::int64_t kNoDay = -1;
inline constexpr std::uint64_t kNsPerDay = 86'400'000'000'000ULL;

struct Row {
  Table table = Table::engines;
  std::int64_t day = kNoDay; // days since 1970-01-01 UTC of the row's ts
  std::string line;
};

// Appends COPY text fields; each field after the first is preceded by a tab.
class CopyLine {
public:
  explicit CopyLine(std::string& out) : out_(out) { out_.clear(); }
  CopyLine& text(std::string_view v);     // escaped; bytes outside printable ASCII become '?'
  CopyLine& i64(std::int64_t v);
  CopyLine& u64(std::uint64_t v);         // as bigint (the layout's ids and times stay below 2^63)
  CopyLine& real(double v);               // shortest round-trip text; NaN and infinities are NULL
  CopyLine& time(std::uint64_t unix_ns);  // timestamptz, microseconds, UTC
  CopyLine& null();
  CopyLine& raw(std::string_view v);      // already valid COPY text (arrays, JSON without tabs)

private:
  void sep();
  std::string& out_;
  bool first_ = true;
};

} // namespace qf::store
