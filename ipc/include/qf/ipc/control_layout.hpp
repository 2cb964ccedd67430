#pragma once
// The control layout: /qf.<instance>.control, the only way a reader process (the gateway, a
// test) affects the engine. The engine owns the segment; exactly one producer process at a
// time attaches it read-write (SegmentPeer) and claims the producer slot, then pushes
// ControlCommand values into an SPSC ring that the core thread drains between batches. The
// engine acknowledges every command in its state segment (state_layout.hpp, ControlLog), so
// the producer sees the result by reading state, never by writing it.
// Any change to a type here bumps kControlLayoutVersion.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "qf/ipc/cache.hpp"
#include "qf/ipc/spsc_ring.hpp"

namespace qf::ipc {

// v4: 128-byte command with order and limit arguments; v5: model_reload
inline constexpr std::uint32_t kControlLayoutVersion = 5;
inline constexpr const char* kControlSegmentName = "control";
inline constexpr std::size_t kControlRingSize = 64;
inline constexpr std::uint16_t kNoInstrument = 0xFFFF;

enum class ControlAction : std::uint8_t {
  resync = 1,   // drop the instrument's book and sync it again from a fresh snapshot
  kill_on = 2,  // manual kill switch: no new orders
  kill_off = 3, // release the manual kill switch
  flatten = 4,  // close every paper position, then halt
  resume = 5,   // leave halt / reduce-only after a drawdown trip
  kill_reduce_only = 6, // kill switch in reduce-only mode: only orders that shrink a position
  reset = 7,            // release the kill switch and re-base the drawdown peak on current equity
  paper_order = 8,      // a paper order (ControlCommand::order) through the strategy's pre-trade checks
  set_limit = 9,        // change one risk limit (ControlCommand::limit, value) after the engine validates it
  model_reload = 10,    // read [signal] model's file again and, if it fits the engine, put it in force (v5)
};

enum class OrderType : std::uint8_t { market = 0, limit = 1 }; // limit: IOC at `price`, the rest cancelled

// The risk limits a set_limit command may change (the names of config [risk] and /api/risk).
enum class RiskLimitId : std::uint8_t {
  none = 0,
  price_band_bps = 1,
  max_order_notional = 2,
  max_position_notional = 3,
  max_gross_notional = 4,
  daily_loss_limit = 5,
  max_drawdown = 6,
  orders_per_s_instrument = 7,
  orders_per_min_instrument = 8,
  orders_per_s_total = 9,
  orders_per_min_total = 10,
};
inline constexpr std::size_t kRiskLimitIds = 11;
inline constexpr std::array<const char*, kRiskLimitIds> kRiskLimitNames = {
    "none", "price_band_bps", "max_order_notional", "max_position_notional", "max_gross_notional",
    "daily_loss_limit", "max_drawdown", "orders_per_s_instrument", "orders_per_min_instrument",
    "orders_per_s_total", "orders_per_min_total"};

[[nodiscard]] constexpr const char* to_string(RiskLimitId l) noexcept {
  const auto i = static_cast<std::size_t>(l);
  return i < kRiskLimitIds ? kRiskLimitNames[i] : "unknown";
}
[[nodiscard]] constexpr RiskLimitId risk_limit_from(std::string_view name) noexcept {
  for (std::size_t i = 1; i < kRiskLimitIds; ++i) {
    if (name == kRiskLimitNames[i]) {
      return static_cast<RiskLimitId>(i);
    }
  }
  return RiskLimitId::none;
}

[[nodiscard]] constexpr const char* to_string(ControlAction a) noexcept {
  switch (a) {
  case ControlAction::resync: return "resync";
  case ControlAction::kill_on: return "kill_on";
  case ControlAction::kill_off: return "kill_off";
  case ControlAction::flatten: return "flatten";
  case ControlAction::resume: return "resume";
  case ControlAction::kill_reduce_only: return "kill_reduce_only";
  case ControlAction::reset: return "reset";
  case ControlAction::paper_order: return "paper_order";
  case ControlAction::set_limit: return "set_limit";
  case ControlAction::model_reload: return "model_reload";
  }
  return "unknown";
}

struct ControlCommand {
  std::uint64_t id;           // producer-assigned, increasing; echoed in the acknowledgement
  std::uint64_t sent_unix_ns; // producer's wall clock
  ControlAction action;
  std::uint8_t reserved;
  std::uint16_t instrument; // index into the state's InstrumentTable, kNoInstrument if none
  std::uint32_t reserved2;
  // CLOCK_MONOTONIC (system-wide, ipc::monotonic_ns) after which the engine must not execute the
  // command but acknowledge it `expired`: the producer stops waiting only after it, so a timeout
  // it reports means "not executed". 0 = no deadline.
  std::uint64_t deadline_mono_ns;
  std::array<char, 32> actor; // who asked ("gateway 127.0.0.1"), NUL-terminated
  // v4 arguments (zero for the other actions). paper_order: the instrument above, `side` 0 buy /
  // 1 sell, `qty` and (limit only) `price` exact in the instrument's decimals (InstrumentInfo).
  // set_limit: `limit` = value_mantissa / 10^value_decimals, exact as the client wrote it.
  std::uint8_t side;
  OrderType order_type;
  RiskLimitId limit;
  std::uint8_t value_decimals;
  std::uint32_t reserved3;
  std::int64_t qty;
  std::int64_t price;
  std::int64_t value_mantissa;
  std::array<std::uint8_t, 32> reserved4; // two whole cache lines per ring slot
};
static_assert(sizeof(ControlCommand) == 128);
static_assert(std::is_trivially_copyable_v<ControlCommand>);

// Section 0 of the control segment.
struct ControlQueue {
  // The producer slot: the pid of the process allowed to push, 0 when free. A producer claims
  // it by compare-exchange from 0 (or from a pid that no longer exists), and frees it at exit.
  alignas(kCacheLinePair) std::atomic<std::int32_t> producer_pid;
  SpscRing<ControlCommand, kControlRingSize> ring;
};

// Whether `c` must be refused as expired at `now_mono_ns` (ipc::monotonic_ns()).
[[nodiscard]] constexpr bool expired(const ControlCommand& c, std::uint64_t now_mono_ns) noexcept {
  return c.deadline_mono_ns != 0 && now_mono_ns > c.deadline_mono_ns;
}

inline void set_actor(ControlCommand& c, std::string_view actor) noexcept {
  const std::size_t n = actor.size() < c.actor.size() - 1 ? actor.size() : c.actor.size() - 1;
  std::memcpy(c.actor.data(), actor.data(), n);
  c.actor[n] = '\0';
}

} // namespace qf::ipc
