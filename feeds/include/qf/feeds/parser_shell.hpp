#pragma once
// ParserShell: the part of a venue parser that is the same for every venue, written once: the
// checked config, the simdjson state behind a pimpl, the InstrumentTable (add_instrument, find)
// and the per-call counters by result and by message kind. A venue's Parser derives from it and
// writes only its parse (field switch and classification, in its .cpp on feeds/src/json_fields.hpp)
// and whatever it counts beyond KindCounters. The pimpl's deleter is a function pointer taken
// where Impl is complete (the venue's .cpp), so destructor and moves are the implicit ones and
// the public header never sees simdjson. One parser per connection, on its feed thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "qf/core/event.hpp"
#include "qf/feeds/instrument_table.hpp"
#include "qf/feeds/parse_result.hpp"

namespace qf::feeds {

// ParseCounters plus the successfully parsed messages by kind (Kind: the venue's MessageKind,
// values 0 .. Kinds-1).
template <class Kind, std::size_t Kinds> struct KindCounters : ParseCounters {
  std::array<std::uint64_t, Kinds> kinds{};
  [[nodiscard]] std::uint64_t kind(Kind k) const noexcept { return kinds[static_cast<std::size_t>(k)]; }
  // Counts one call: its result, and its kind when it parsed.
  void count(ParseResult r, Kind k) noexcept {
    ParseCounters::count(r);
    if (r == ParseResult::ok) {
      ++kinds[static_cast<std::size_t>(k)];
    }
  }
};

template <class Config, class Counters, class Impl> class ParserShell {
public:
  // Registers an instrument by its venue spelling. Start-up only; throws std::invalid_argument
  // as InstrumentTable::add does (empty or over 31 characters, decimals outside [0, 18], id
  // 0xffff, a duplicate, a full table).
  void add_instrument(std::string_view name, core::InstrumentId id, int price_decimals, int qty_decimals) {
    table_.add(name, id, price_decimals, qty_decimals);
  }
  // kNoInstrument when unknown.
  [[nodiscard]] core::InstrumentId find(std::string_view name) const noexcept {
    const InstrumentEntry* entry = table_.find(name);
    return entry != nullptr ? entry->id : kNoInstrument;
  }

  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }
  [[nodiscard]] const Config& config() const noexcept { return config_; }

protected:
  // `config` already checked by the venue; `owner` and `noun` name the table in start-up errors
  // ("kraken::Parser", "symbol"; string literals). Instantiated in the venue's .cpp, where Impl
  // is complete: Impl(const Config&) allocates simdjson's buffers and the scratch.
  ParserShell(const Config& config, std::string_view owner, std::string_view noun)
      : config_(config), impl_(new Impl(config_), &destroy), table_(config_.max_instruments, owner, noun) {}

  Config config_;
  std::unique_ptr<Impl, void (*)(Impl*)> impl_;
  InstrumentTable table_;
  Counters counters_;

private:
  static void destroy(Impl* impl) noexcept { delete impl; }
};

} // namespace qf::feeds
