#pragma once
// Coinbase Advanced Trade public market-data parser (PROTOCOLS.md 3.2): the envelope
// `{"channel", "client_id"?, "timestamp", "sequence_num", "events":[...]}` of the `l2_data`
// (level2: `snapshot` then `update` events of `{side:"bid"|"offer", event_time, price_level,
// new_quantity}`), `ticker` / `ticker_batch` (best_bid / best_ask with their quantities),
// `market_trades`, `heartbeats` (heartbeat_counter as a string or an integer) and `subscriptions`
// channels, and the `{"type":"error"}` answer. Built on the shared layer like the other venues:
// one reused simdjson on-demand parser behind a pimpl (feeds/src/json_fields.hpp), fixed-capacity
// scratch, InstrumentTable for the products ("BTC-USD"). One message may carry several events and
// each event or ticker or trade names its product: an element for an unregistered product is
// skipped and counted (`skipped_products`); a message with none left is the unknown_instrument
// drop. `sequence_num` is one counter per connection across channels, checked by
// coinbase_advanced::BookSync. Times are ISO-8601 UTC (coinbase::parse_time, up to 9 decimals).
// One Parser per connection, on its feed thread; hot-path calls are noexcept and allocation-free.

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

namespace qf::feeds::coinbase_advanced {

enum class MessageKind : std::uint8_t {
  none,          // nothing parsed (an error)
  level2,        // l2_data: book events (Message::books)
  ticker,        // ticker / ticker_batch: Message::tickers
  trades,        // market_trades: Message::trades
  heartbeat,     // heartbeats: heartbeat_counter
  subscriptions, // the answer to a subscribe / unsubscribe
  error,         // {"type":"error","message":...}: a venue error, no sequence_num
};
inline constexpr std::size_t kMessageKinds = 7;

[[nodiscard]] std::string_view to_string(MessageKind kind) noexcept;

// One l2_data event of a registered product.
struct BookEvent {
  core::InstrumentId instrument = kNoInstrument;
  bool snapshot = false;             // type snapshot: the whole book; else an update
  std::span<const core::Level> bids; // in message order; new_quantity is absolute, 0 deletes
  std::span<const core::Level> asks; // side "offer"
};

struct Ticker {
  core::InstrumentId instrument = kNoInstrument;
  bool has_bbo = false; // best_bid, best_bid_quantity, best_ask, best_ask_quantity all present
  core::Level bid{};
  core::Level ask{};
};

struct Trade {
  core::InstrumentId instrument = kNoInstrument;
  bool snapshot = false;            // from a snapshot event: recent history, not a new trade
  core::Side taker_side = core::Side::bid; // "BUY" -> bid (taken as the taker's; PROTOCOLS 3.2 does not say)
  std::int64_t price = 0;
  std::int64_t qty = 0;
  std::uint64_t trade_id = 0;
  std::uint64_t time_ns = 0;
};

struct Message {
  MessageKind kind = MessageKind::none;
  bool has_sequence = false;     // sequence_num present (every channel message; not an error)
  std::uint64_t sequence = 0;    // sequence_num
  std::uint64_t time_ns = 0;     // the envelope's timestamp
  std::uint64_t heartbeat_counter = 0;
  std::size_t skipped_products = 0; // elements for unregistered products, left out below
  // unknown_instrument: every product of the message was unregistered; has_sequence, sequence and
  // time_ns still hold (the message is numbered on the connection's chain: BookSync::on_unregistered).
  bool unregistered_only = false;
  std::string_view channel;      // into the input
  std::string_view error;        // error: its message (unescaped; valid until the next parse)
  std::span<const BookEvent> books;
  std::span<const Ticker> tickers;
  std::span<const Trade> trades; // in message order (newest first, as Coinbase sends them)
};

struct ParserConfig {
  // The level2 snapshot is the whole book in one frame (PROTOCOLS 3.2: clients needed 5-10 MB).
  std::size_t max_message_bytes = std::size_t{16} << 20U;
  std::size_t max_levels = 65'536; // per side per message, over all its events
  std::size_t max_events = 64;     // events, tickers or trades per message
  std::size_t max_instruments = 256;
};

struct ParserCounters : KindCounters<MessageKind, kMessageKinds> {
  std::uint64_t skipped_products = 0; // elements for unregistered products inside parsed messages
};

struct ParserImpl;

// add_instrument / find take the product as Coinbase spells it ("BTC-USD"); counters, config:
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

// Events of a parsed message without synchronisation (tools, tests): a snapshot book event ->
// snapshot_begin, levels, snapshot_end; an update -> one book_level per level, bids then asks
// (seq = sequence_num); a ticker with its best levels -> one bbo; the trades of update events ->
// one trade event each, oldest first (seq = trade id). Returns the number of events.
std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

// ---- Cold helpers for replay and tools (allocate, may throw) ----

struct ProductDecimals {
  std::string product;
  int price_decimals = 0;
  int qty_decimals = 0;
  std::uint64_t values = 0; // decimal strings seen
};

// Scans a capture (no capture of the venue is shipped: a recording of our recorder) and infers
// each product's price and size decimals as the largest number of decimals its strings show
// (level2 price_level / new_quantity, trade price / size, ticker price and best levels), on the
// shared capture walker. Sorted by product. Throws CaptureError on an unreadable capture, a frame
// that is not JSON, or a price or size that is not a plain decimal.
[[nodiscard]] std::vector<ProductDecimals> infer_capture_decimals(const std::string& path);

} // namespace qf::feeds::coinbase_advanced
