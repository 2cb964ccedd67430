#pragma once
// InstrumentTable: the instruments one parser knows by their venue spelling (Binance "BTCUSDT",
// Coinbase "BTC-USD"), each with its engine id and the decimals its prices and quantities are
// parsed at. Open addressing (FNV-1a, linear probing) over a power-of-two table kept at most half
// full, so an empty slot ends every probe; allocated and filled at start-up (add may throw),
// find() is inline, noexcept and allocation-free for the hot path. Names compare byte for byte: a
// venue whose names are case-insensitive normalises before add() and find(). One per parser, on
// its feed thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "qf/core/event.hpp"

namespace qf::feeds {

inline constexpr core::InstrumentId kNoInstrument = 0xffff;

struct InstrumentEntry {
  std::array<char, 32> name{};
  std::uint8_t length = 0;
  std::int8_t price_decimals = 0;
  std::int8_t qty_decimals = 0;
  core::InstrumentId id = kNoInstrument; // kNoInstrument: an empty slot
};

namespace detail {
[[nodiscard]] inline std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}
} // namespace detail

class InstrumentTable {
public:
  static constexpr std::size_t kMaxName = 31;

  // Room for `max_instruments` (1 to 32768). `owner` and `noun` name the table in start-up
  // errors ("binance::Parser", "symbol"); both must outlive the table (string literals).
  InstrumentTable(std::size_t max_instruments, std::string_view owner, std::string_view noun);

  // Start-up only. Throws std::invalid_argument on an empty name or one over 31 characters,
  // decimals outside [0, 18], id kNoInstrument (0xffff, reserved), a duplicate or a full table.
  void add(std::string_view name, core::InstrumentId id, int price_decimals, int qty_decimals);

  // nullptr when the name is not registered.
  [[nodiscard]] const InstrumentEntry* find(std::string_view name) const noexcept {
    if (name.empty() || name.size() > kMaxName) {
      return nullptr;
    }
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = detail::fnv1a(name) & mask;; i = (i + 1) & mask) {
      const InstrumentEntry& slot = slots_[i];
      if (slot.id == kNoInstrument) {
        return nullptr; // at most half full: an empty slot ends every probe
      }
      if (slot.length == name.size() && std::memcmp(slot.name.data(), name.data(), name.size()) == 0) {
        return &slot;
      }
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t max_instruments() const noexcept { return max_; }

private:
  std::vector<InstrumentEntry> slots_;
  std::size_t max_;
  std::size_t size_ = 0;
  std::string_view owner_;
  std::string_view noun_;
};

} // namespace qf::feeds
