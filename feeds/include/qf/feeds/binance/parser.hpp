#pragma once
// Binance spot and USD-M market-data parser (PROTOCOLS.md sections 1 and 2). One Parser per
// connection, on that connection's feed thread: it owns one reused simdjson on-demand parser,
// sized up front for ParserConfig::max_message_bytes, and fixed-capacity level scratch, so
// steady-state parsing allocates nothing; a bigger message is `oversized`, never a regrowth.
// Input must be padded: simdjson reads up to kPadding bytes past the payload (any values), so a
// receive buffer is allocated as max_message_bytes + kPadding (PaddedBuffer does this for tests
// and replay). A parse yields a Message (views into the input and the parser's scratch, valid
// until the next parse and while the input lives) with prices and quantities already exact
// fixed point at the instrument's decimals (qf::ipc::parse_fixed). emit_events turns it into
// qf::core::Event values for a caller's sink; book messages go through BookSync instead.
// Hot-path calls are noexcept and report an enum; start-up calls (constructor,
// add_instrument) and the cold capture helpers at the end may throw.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/event_sink.hpp"
#include "qf/feeds/instrument_table.hpp"
#include "qf/feeds/padded_buffer.hpp"
#include "qf/feeds/parse_result.hpp"
#include "qf/feeds/parser_shell.hpp"

namespace qf::feeds::binance {

enum class Market : std::uint8_t {
  spot, // depthUpdate chains by U == prev u + 1
  usdm, // USD-M futures: depthUpdate carries pu (required) and chains by pu == prev u
};

enum class MessageKind : std::uint8_t {
  none,             // nothing parsed (an error)
  book_ticker,      // best bid/ask; spot carries no e/E, USD-M carries e, E, T
  trade,            // one trade (`t`)
  agg_trade,        // aggregated trade (`a`, first/last trade ids `f`/`l`)
  depth_update,     // diff depth: U, u (and pu on USD-M)
  depth_snapshot,   // REST depth body, or a partial-depth stream frame: lastUpdateId, bids, asks
  server_shutdown,  // the server will close the connection soon
  subscription_ack, // {"result":...,"id":...}
  error,            // {"code":..,"msg":..} or {"error":{"code":..,"msg":..},"id":..}
  kline,            // recognised and ignored
};
inline constexpr std::size_t kMessageKinds = 10;

[[nodiscard]] std::string_view to_string(MessageKind kind) noexcept;

struct Message {
  MessageKind kind = MessageKind::none;
  core::InstrumentId instrument = kNoInstrument;
  core::Side taker_side = core::Side::bid; // trades: bid = the buyer took; Binance m:true -> ask
  bool has_prev_update_id = false;
  std::string_view stream;  // combined-stream name; empty for a raw payload
  std::string_view symbol;  // upper case; into the input (or the parser, for a derived one)
  std::uint64_t first_update_id = 0; // depth U
  std::uint64_t last_update_id = 0;  // depth u, bookTicker u, snapshot lastUpdateId
  std::uint64_t prev_update_id = 0;  // USD-M depth pu
  std::uint64_t trade_id = 0;        // trade t, aggTrade a
  std::uint64_t first_trade_id = 0;  // aggTrade f
  std::uint64_t last_trade_id = 0;   // aggTrade l
  std::uint64_t event_ns = 0;        // E as Unix ns; 0 when absent (spot bookTicker, spot snapshot)
  std::uint64_t transaction_ns = 0;  // T as Unix ns; 0 when absent
  std::int64_t price = 0;            // trade / aggTrade
  std::int64_t qty = 0;
  core::Level bid{}; // bookTicker b/B
  core::Level ask{}; // bookTicker a/A
  std::span<const core::Level> bids; // depth / snapshot levels in message order (qty 0 deletes)
  std::span<const core::Level> asks;
  std::int64_t error_code = 0;
  std::string_view error_msg;  // unescaped, in the parser's string buffer
  std::string_view request_id; // ack / error `id` as raw JSON text ("1", "\"abc\"", "null")
};

// Field by field, levels by value, texts by content: the fast and the simdjson path agree
// (binance_parser_test, binance_parser_fuzz).
[[nodiscard]] bool same_message(const Message& a, const Message& b) noexcept;

struct ParserConfig {
  Market market = Market::spot;
  std::size_t max_message_bytes = std::size_t{1} << 20U;
  std::size_t max_levels = 5000; // per side per message: a REST snapshot holds up to 5000
  std::size_t max_instruments = 64;
  // Nanoseconds per unit of E and T: 1,000,000 for Binance's default milliseconds, 1,000 for a
  // connection opened with timeUnit=MICROSECOND.
  std::uint64_t time_unit_ns = 1'000'000;
  // Read the hot messages with the schema-directed cursor first (feeds/src/flat_json.hpp), simdjson
  // for the rest; off, simdjson reads everything (tests compare the two).
  bool fast_path = true;
};

struct ParserCounters : KindCounters<MessageKind, kMessageKinds> {
  std::uint64_t ignored = 0; // parsed but not for us (kline)
  std::uint64_t flat = 0;    // calls the fast path read (ParserConfig::fast_path), whatever their result
};

struct ParserImpl;

// find (kNoInstrument when unknown; case-sensitive on the upper-case spelling), counters, config:
// ParserShell.
class Parser : public ParserShell<ParserConfig, ParserCounters, ParserImpl> {
public:
  // Allocates everything (simdjson's buffers for max_message_bytes, level scratch, the symbol
  // table). Throws std::invalid_argument on a nonsensical config, std::bad_alloc when simdjson
  // cannot allocate.
  explicit Parser(const ParserConfig& config = {});

  // Registers a symbol (case-insensitive; stored upper case, as Binance's `s` field spells it).
  // Start-up only. Throws std::invalid_argument on an empty symbol or one over 31 characters,
  // decimals outside [0, 18], a duplicate symbol or a full table (max_instruments).
  void add_instrument(std::string_view symbol, core::InstrumentId id, int price_decimals, int qty_decimals);

  // Parses one websocket text frame or REST body. `snapshot_symbol` names the symbol of a REST
  // depth snapshot (its body has none; any case); a partial-depth stream frame takes it from its
  // stream name. On success `out` holds the message; on any other result `out` is partially
  // filled and must not be used (kind and symbol are set as far as they were read).
  [[nodiscard]] ParseResult parse(PaddedView input, Message& out, std::string_view snapshot_symbol = {}) noexcept;
  [[nodiscard]] ParseResult parse(const PaddedBuffer& input, Message& out,
                                  std::string_view snapshot_symbol = {}) noexcept {
    return parse(input.view(), out, snapshot_symbol);
  }

private:
  [[nodiscard]] ParseResult parse_impl(PaddedView input, Message& out, std::string_view snapshot_symbol) noexcept;
};

// Emits the events of a parsed message: bookTicker -> one bbo; trade / aggTrade -> one trade
// (side = taker, seq = trade id, exchange_ns = E); depthUpdate -> book_level per level, bids
// then asks (seq = u), unsynchronised, for tools and tests; a snapshot -> snapshot_begin, its
// levels, snapshot_end (seq = lastUpdateId). The last event carries kFlagLastInMessage. Other
// kinds emit nothing. Returns the number of events.
std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

// ---- Cold helpers for replay and tools (allocate, may throw) ----

// The `symbol=` query parameter of a REST url, as written ("" when there is none).
[[nodiscard]] std::string_view symbol_from_rest_url(std::string_view url) noexcept;

// Which symbol a capture's REST snapshot belongs to (DESIGN.md "Captures"): the `# rest GET`
// url's symbol, else the capture's only depth-subscribed symbol, learnt from `# ws` urls
// (`<symbol>@depth...` streams) and from depthUpdate frames seen so far.
class SnapshotAttribution {
public:
  void on_ws_open(std::string_view url);
  void on_depth_symbol(std::string_view symbol);
  // Upper case; empty when the url names none and zero or several depth symbols are known.
  [[nodiscard]] std::string symbol_for(std::string_view rest_url) const;

private:
  std::vector<std::string> depth_symbols_; // upper case, distinct
};

struct SymbolDecimals {
  std::string symbol; // upper case
  int price_decimals = 0;
  int qty_decimals = 0;
  std::uint64_t values = 0; // decimal strings seen
};

// Scans a capture (plain or gzip) and infers each symbol's price and quantity decimals as the
// maximum qf::ipc::infer_decimals over every price and quantity it carries (trades, bookTicker,
// depth levels, snapshots), for replay without a config. Sorted by symbol. Throws CaptureError
// on an unreadable capture, a line that is not JSON, or a snapshot no symbol can be attributed to.
[[nodiscard]] std::vector<SymbolDecimals> infer_capture_decimals(const std::string& path);

} // namespace qf::feeds::binance
