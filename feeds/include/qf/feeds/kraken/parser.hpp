#pragma once
// Kraken WebSocket v2 market-data parser (PROTOCOLS.md 4.1-4.3): `book` (snapshot / update, with
// `checksum`), `trade`, `ticker`, `heartbeat`, `status`, and the method answers (subscribe acks,
// pong). Built on the shared layer like the other venues: one reused simdjson on-demand parser
// behind a pimpl (feeds/src/json_fields.hpp), fixed-capacity scratch, InstrumentTable for the
// symbols ("BTC/USD"). Kraken sends prices and quantities as JSON numbers with full engine
// precision: their raw number text goes through qf::ipc::parse_fixed, never through a double
// (exponent forms such as 5.1e-05 are not accepted yet: bad_decimal). Book messages go through
// kraken::BookSync, which keeps the top-of-book the checksum is defined on. One Parser per
// connection, on its feed thread; hot-path calls are noexcept and allocation-free.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
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

namespace qf::feeds::kraken {

enum class MessageKind : std::uint8_t {
  none,          // nothing parsed (an error)
  book_snapshot, // channel book, type snapshot: the top `depth` levels per side
  book_update,   // channel book, type update: absolute quantities, qty 0 deletes
  trade,         // channel trade: one or more trades (Message::trades)
  ticker,        // channel ticker: best bid/ask with sizes
  heartbeat,     // {"channel":"heartbeat"}
  status,        // channel status (system online, connection id)
  method,        // a method answer: subscribe / unsubscribe ack, pong (`method`, `success`)
};
inline constexpr std::size_t kMessageKinds = 8;

[[nodiscard]] std::string_view to_string(MessageKind kind) noexcept;

struct Trade {
  core::InstrumentId instrument = kNoInstrument;
  core::Side taker_side = core::Side::bid; // Kraken's `side` is the taker's
  std::int64_t price = 0;
  std::int64_t qty = 0;
  std::uint64_t trade_id = 0;
  std::uint64_t time_ns = 0;
};

struct Message {
  MessageKind kind = MessageKind::none;
  core::InstrumentId instrument = kNoInstrument; // book, ticker; trade: the first trade's
  bool has_checksum = false;
  bool success = true;            // method: `success` (false: the venue refused the request)
  std::string_view channel;       // into the input
  std::string_view symbol;        // into the input
  std::string_view method;        // method answers
  std::uint32_t checksum = 0;     // book: the venue's CRC32 of its top 10
  std::uint64_t time_ns = 0;      // book update / ticker `timestamp` as Unix ns; 0 when absent
  std::span<const core::Level> bids; // book levels in message order (qty 0 deletes)
  std::span<const core::Level> asks;
  core::Level bid{};              // ticker bid / bid_qty
  core::Level ask{};              // ticker ask / ask_qty
  std::span<const Trade> trades;  // trade: in message order
};

struct ParserConfig {
  std::size_t max_message_bytes = std::size_t{1} << 20U;
  std::size_t max_levels = 1'024;  // per side per message (book depth 1000 is the largest)
  std::size_t max_trades = 128;    // per trade message (the snapshot brings 50)
  std::size_t max_instruments = 64;
};

struct ParserCounters : KindCounters<MessageKind, kMessageKinds> {
  std::uint64_t refused = 0; // method answers with success false
};

struct ParserImpl;

// add_instrument / find take the symbol as Kraken v2 spells it ("BTC/USD"); counters, config:
// ParserShell.
class Parser : public ParserShell<ParserConfig, ParserCounters, ParserImpl> {
public:
  // Allocates everything. Throws std::invalid_argument on a nonsensical config.
  explicit Parser(const ParserConfig& config = {});

  // Parses one websocket text frame. On success `out` holds the message (views valid until the
  // next parse and while the input lives); otherwise `out` must not be used.
  [[nodiscard]] ParseResult parse(PaddedView input, Message& out) noexcept;
  [[nodiscard]] ParseResult parse(const PaddedBuffer& input, Message& out) noexcept {
    return parse(input.view(), out);
  }

private:
  [[nodiscard]] ParseResult parse_impl(PaddedView input, Message& out) noexcept;
};

// Events of a parsed message without synchronisation (tools, tests): book_snapshot ->
// snapshot_begin, levels, snapshot_end; book_update -> one book_level per level, bids then asks;
// ticker -> one bbo; trade -> one trade event per trade (seq = trade_id). Book events carry
// seq 0 (Kraken has no sequence). Returns the number of events.
std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

// ---- Cold helpers for replay and tools (allocate, may throw) ----

// The venue's price and qty precision of a pair as verified on real data (PROTOCOLS.md 4.2:
// BTC/USD 1/8, DOGE/USDT 5/8, ALGO/USD 5/8); false for any other symbol (its precision comes
// from the `instrument` channel or REST AssetPairs, neither of which replay has).
[[nodiscard]] bool known_precision(std::string_view symbol, int& price_precision, int& qty_precision) noexcept;

struct SymbolDecimals {
  std::string symbol;
  int price_decimals = 0;
  int qty_decimals = 0;
  std::uint64_t values = 0; // numbers seen
};

// Scans a capture and infers each symbol's price and qty decimals as the largest number of
// decimals its numbers show (book levels, trade price/qty, ticker bid/ask and sizes). Numbers
// re-serialised without trailing zeros show fewer than the venue's precision: callers raise
// them to known_precision. Sorted by symbol. Throws CaptureError on an unreadable capture, a
// frame that is not JSON, or a number that is not a plain decimal.
[[nodiscard]] std::vector<SymbolDecimals> infer_capture_decimals(const std::string& path);

} // namespace qf::feeds::kraken
