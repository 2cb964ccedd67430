#pragma once
// The events every venue emits, written once: book levels, a snapshot, a best bid/offer, a trade
// and a status, as core::Event values for an EventSink. A venue's emit_events and its book sync
// decide which to send and with which ids and times; the layout of each event is fixed here.
// Every message's last event carries kFlagLastInMessage (levels only when `flag_last`: a
// snapshot flags its snapshot_end instead). Feed thread, noexcept, no allocation.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qf/core/event.hpp"
#include "qf/feeds/event_sink.hpp"

namespace qf::feeds {

// One book_level per level, bids then asks, each with `seq` and `exchange_ns`; the last one
// flagged when `flag_last`. Returns the number of events.
std::size_t emit_levels(core::InstrumentId instrument, std::span<const core::Level> bids,
                        std::span<const core::Level> asks, std::uint64_t seq, std::uint64_t exchange_ns,
                        std::uint64_t recv_ticks, bool flag_last, EventSink sink) noexcept;
// snapshot_begin, the levels, snapshot_end (flagged). Returns the number of events.
std::size_t emit_snapshot(core::InstrumentId instrument, std::span<const core::Level> bids,
                          std::span<const core::Level> asks, std::uint64_t seq, std::uint64_t exchange_ns,
                          std::uint64_t recv_ticks, EventSink sink) noexcept;
// One bbo (no exchange time: the bbo layout has no room for it). Returns 1.
std::size_t emit_bbo(core::InstrumentId instrument, std::uint64_t seq, core::Level bid, core::Level ask,
                     std::uint64_t recv_ticks, EventSink sink) noexcept;
// One trade: side = the taker's, seq = the trade id. Returns 1.
std::size_t emit_trade(core::InstrumentId instrument, std::uint64_t trade_id, core::Side taker_side, std::int64_t price,
                       std::int64_t qty, std::uint64_t exchange_ns, std::uint64_t recv_ticks, EventSink sink) noexcept;
// One status (book_live, gap, resync, stale, connected, ...).
void emit_status(core::InstrumentId instrument, core::FeedStatus status, std::uint64_t seq, std::uint64_t exchange_ns,
                 std::uint64_t recv_ticks, EventSink sink) noexcept;

} // namespace qf::feeds
