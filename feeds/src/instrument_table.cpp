#include "qf/feeds/instrument_table.hpp"

#include <stdexcept>
#include <string>

#include "qf/ipc/fixed_point.hpp"

namespace qf::feeds {

InstrumentTable::InstrumentTable(std::size_t max_instruments, std::string_view owner, std::string_view noun)
    : max_(max_instruments), owner_(owner), noun_(noun) {
  if (max_instruments == 0 || max_instruments > 0x8000) {
    throw std::invalid_argument(std::string(owner) + ": max_instruments must be in [1, 32768]");
  }
  std::size_t size = 4;
  while (size < max_instruments * 2) {
    size *= 2;
  }
  slots_.resize(size);
}

void InstrumentTable::add(std::string_view name, core::InstrumentId id, int price_decimals, int qty_decimals) {
  const auto fail = [&](std::string_view what) {
    std::string why(owner_);
    why.append(": ").append(what);
    throw std::invalid_argument(why);
  };
  const std::string text(name);
  if (name.empty() || name.size() > kMaxName) {
    fail(std::string(noun_) + " must have 1 to 31 characters: '" + text + "'");
  }
  if (price_decimals < 0 || price_decimals > ipc::kMaxDecimals || qty_decimals < 0 ||
      qty_decimals > ipc::kMaxDecimals) {
    fail("decimals of " + text + " outside [0, 18]");
  }
  if (id == kNoInstrument) {
    fail("instrument id 0xffff is reserved");
  }
  if (find(name) != nullptr) {
    fail("duplicate " + std::string(noun_) + " " + text);
  }
  if (size_ == max_) {
    fail("more than max_instruments " + std::string(noun_) + "s");
  }
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = detail::fnv1a(name) & mask;; i = (i + 1) & mask) {
    InstrumentEntry& slot = slots_[i];
    if (slot.id == kNoInstrument) {
      std::memcpy(slot.name.data(), name.data(), name.size());
      slot.length = static_cast<std::uint8_t>(name.size());
      slot.price_decimals = static_cast<std::int8_t>(price_decimals);
      slot.qty_decimals = static_cast<std::int8_t>(qty_decimals);
      slot.id = id;
      ++size_;
      return;
    }
  }
}

} // namespace qf::feeds
