#pragma once
// Bybit v5 public market-data parser (PROTOCOLS.md 5), spot and linear alike: `orderbook.{depth}.
// {symbol}` (snapshot / delta with `u` and `seq`), `publicTrade.{symbol}`, `tickers.{symbol}`
// (linear: snapshot then deltas carrying only the changed fields; spot: snapshots without bid/ask)
// and the `op` answers (subscribe acks, pong). Built on the shared layer like the other venues:
// one reused simdjson on-demand parser behind a pimpl (feeds/src/json_fields.hpp), fixed-capacity
// scratch, InstrumentTable for the symbols ("BTCUSDT"). The instrument is the topic's symbol (a
// `data` naming another is unknown_message). Prices and sizes are strings through
// qf::ipc::parse_fixed; `ts`, `cts` and trade `T` are Unix ms numbers. Book messages go through
// bybit::BookSync, which checks the `u` chain. One Parser per connection, on its feed thread;
// hot-path calls are noexcept and allocation-free.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/event_sink.hpp"
#include "qf/feeds/instrument_table.hpp"
#include "qf/feeds/padded_buffer.hpp"
#include "qf/feeds/parse_result.hpp"
#include "qf/feeds/parser_shell.hpp"

namespace qf::feeds::bybit {

enum class MessageKind : std::uint8_t {
  none,          // nothing parsed (an error)
  book_snapshot, // orderbook, type snapshot: the whole book to `depth` (also a reset mid-stream)
  book_update,   // orderbook, type delta: absolute sizes, size 0 deletes
  trade,         // publicTrade: one or more trades (Message::trades)
  ticker,        // tickers (snapshot or delta): the best bid/ask fields present (ticker_fields)
  op_answer,     // {"op":...,"success":...}: subscribe / unsubscribe acks, the pong of our ping
};
inline constexpr std::size_t kMessageKinds = 6;

[[nodiscard]] std::string_view to_string(MessageKind kind) noexcept;

// Which best bid/ask fields a ticker carried (a linear delta carries only the changed ones).
enum TickerField : std::uint8_t { kBidPrice = 1, kBidSize = 2, kAskPrice = 4, kAskSize = 8 };

struct Trade {
  core::Side taker_side = core::Side::bid; // Bybit's `S` is the taker's
  std::int64_t price = 0;
  std::int64_t qty = 0;
  std::uint64_t trade_id = 0; // `i` when it is digits, else the trade's `seq`
  std::uint64_t time_ns = 0;  // `T`
};

struct Message {
  MessageKind kind = MessageKind::none;
  core::InstrumentId instrument = kNoInstrument; // data pushes
  bool success = true;           // op_answer: `success` (false: the venue refused the request)
  bool delta = false;            // tickers: type delta (merge), else a snapshot
  std::uint8_t ticker_fields = 0; // ticker: TickerField bits present
  std::string_view topic;        // into the input
  std::string_view symbol;       // the topic's symbol, into the input
  std::string_view op;           // op_answer
  std::size_t depth = 0;         // orderbook: the topic's depth (1, 50, 200, 500, 1000)
  std::uint64_t update_id = 0;   // orderbook `u` (1: the service restarted, a reset)
  std::uint64_t seq = 0;         // orderbook `seq`: the cross sequence
  std::uint64_t time_ns = 0;     // `ts` as Unix ns
  std::uint64_t match_ns = 0;    // orderbook `cts` (matching engine) as Unix ns; 0 when absent
  std::span<const core::Level> bids; // book levels in message order (size 0 deletes)
  std::span<const core::Level> asks;
  core::Level bid{}; // ticker: bid1Price / bid1Size (the fields in ticker_fields)
  core::Level ask{};
  std::span<const Trade> trades; // trade: in message order
};

struct ParserConfig {
  std::size_t max_message_bytes = std::size_t{1} << 20U;
  std::size_t max_levels = 1'024;  // per side per message (orderbook.1000 is the deepest)
  std::size_t max_trades = 1'024;  // per publicTrade message (Bybit's limit)
  std::size_t max_instruments = 256;
};

struct ParserCounters : KindCounters<MessageKind, kMessageKinds> {
  std::uint64_t refused = 0; // op answers with success false
};

struct ParserImpl;

// add_instrument / find take the symbol as Bybit spells it ("BTCUSDT"); counters, config:
// ParserShell.
class Parser : public ParserShell<ParserConfig, ParserCounters, ParserImpl> {
public:
  // Allocates everything. Throws std::invalid_argument on a nonsensical config.
  explicit Parser(const ParserConfig& config = {});

  // Parses one websocket text frame. On success `out` holds the message (views valid until the
  // next parse and while the input lives); otherwise `out` must not be used.
  [[nodiscard]] ParseResult parse(PaddedView input, Message& out) noexcept;
  [[nodiscard]] ParseResult parse(const PaddedBuffer& input, Message& out) noexcept { return parse(input.view(), out); }

private:
  [[nodiscard]] ParseResult parse_impl(PaddedView input, Message& out) noexcept;
};

// Events of a parsed message without synchronisation (tools, tests): book_snapshot ->
// snapshot_begin, levels, snapshot_end; book_update -> one book_level per level, bids then asks
// (seq = u); a ticker with all four best fields -> one bbo; trade -> one trade event per trade
// (seq = trade id). Returns the number of events.
std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

// ---- Cold helpers for replay and tools (allocate, may throw) ----

struct SymbolDecimals {
  std::string symbol;
  int price_decimals = 0;
  int qty_decimals = 0;
  std::uint64_t values = 0; // decimal strings seen
};

// Scans a capture and infers each symbol's price and size decimals as the largest number of
// decimals its strings show (book levels, trade p/v, ticker bid1/ask1/lastPrice). Sorted by
// symbol. Throws CaptureError on an unreadable capture, a frame that is not JSON, or a price or
// size that is not a plain decimal.
[[nodiscard]] std::vector<SymbolDecimals> infer_capture_decimals(const std::string& path);

} // namespace qf::feeds::bybit
