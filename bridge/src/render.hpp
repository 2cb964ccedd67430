#pragma once
// What qf-bridge sends: NATS subjects named for the data and JSON payloads in the gateway's format
// (exact decimal strings for prices and quantities through JsonWriter::decimal, times as
// `<k>_unix_ns` + ISO-8601). Pure functions over the state layout: no NATS here, so they are
// tested and fuzzable on their own.
//   <p>.<i>.trade.<venue>.<symbol>     every trade (journal)
//   <p>.<i>.bbo.<venue>.<symbol>       every top-of-book change (journal)
//   <p>.<i>.health.<venue>.<symbol>    every book health change (journal)
//   <p>.<i>.bar.1s|1m.<venue>.<symbol> each closed bar
//   <p>.<i>.signal.<venue>.<symbol>    fused signal (conflated)
//   <p>.<i>.regime.<venue>.<symbol>    regime posterior (conflated)
//   <p>.<i>.fill.<venue>.<symbol>      each paper fill
//   <p>.<i>.portfolio, <p>.<i>.risk    conflated
//   <p>.<i>.event.<kind>               each notable event (gaps, resyncs, kill switch, controls)
//   <p>.<i>.composite.<asset>          a composite book (cross-venue NBBO), conflated, when it changed
//   <p>.<i>.bridge.stats               the bridge's own counters, once a second

#include <cstdint>
#include <string>
#include <string_view>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::bridge {

// A name as one subject token: '.', ' ', '*', '>' and control characters become '_'.
[[nodiscard]] std::string subject_token(std::string_view name);

// "<prefix>.<instance>.<kind>.<venue>.<symbol>" (kind may hold dots: "bar.1m").
[[nodiscard]] std::string instrument_subject(std::string_view prefix, std::string_view instance,
                                             std::string_view kind, const ipc::InstrumentInfo& info);

// `seq` is the tick's position in the journal (consumers see gaps the bridge could not send).
void render_tick(ipc::JsonWriter& w, const ipc::TickRecord& t, const ipc::InstrumentInfo& info, std::uint64_t seq);
void render_bar(ipc::JsonWriter& w, const ipc::BarValues& b, const ipc::InstrumentInfo& info, std::string_view interval);
void render_signal(ipc::JsonWriter& w, const ipc::SignalRecord& s, const ipc::InstrumentInfo& info);
void render_regime(ipc::JsonWriter& w, const ipc::SignalRecord& s, const ipc::InstrumentInfo& info);
void render_health(ipc::JsonWriter& w, const ipc::HealthRecord& h, const ipc::InstrumentInfo& info);
void render_fill(ipc::JsonWriter& w, const ipc::FillRecord& f, const ipc::InstrumentInfo& info, std::uint64_t seq);
void render_portfolio(ipc::JsonWriter& w, const ipc::PortfolioRecord& p);
void render_risk(ipc::JsonWriter& w, const ipc::RiskRecord& r);
void render_event(ipc::JsonWriter& w, const ipc::NotableEvent& e, const ipc::InstrumentTable& table, std::uint64_t seq);
// `infos` are the engine's instruments (the members are indices into them; `n` of them).
void render_composite(ipc::JsonWriter& w, const ipc::CompositeInfo& info, const ipc::CompositeRecord& r,
                      const ipc::InstrumentInfo* infos, std::size_t n);

} // namespace qf::bridge
