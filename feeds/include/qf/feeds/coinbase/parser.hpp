#pragma once
// Coinbase Exchange ("ws-feed") market-data parser (PROTOCOLS.md 3.1): level2 / level2_batch
// (`snapshot`, `l2update`), `ticker`, `match` / `last_match`, `heartbeat`, `subscriptions`,
// `error`. Built like binance::Parser: one reused simdjson on-demand parser sized up front for
// ParserConfig::max_message_bytes behind a pimpl, fixed-capacity level scratch, so steady-state
// parsing allocates nothing; prices and sizes become exact fixed point (qf::ipc::parse_fixed) at
// the product's decimals and `time` becomes Unix ns without locale or allocation. Input must be
// padded (kPadding readable bytes after the payload; PaddedBuffer does it). Book messages go
// through coinbase::BookSync, which owns the "live only after a snapshot" rule. One Parser per
// connection, on its feed thread. Hot-path calls are noexcept and return an enum; start-up calls
// and the cold capture helper at the end may throw.

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

namespace qf::feeds::coinbase {

enum class MessageKind : std::uint8_t {
  none,          // nothing parsed (an error)
  snapshot,      // level2 snapshot: the whole aggregated book
  l2update,      // level2 / level2_batch changes [side, price, size]; size 0 deletes
  ticker,        // best bid/ask (sizes on newer feeds) and the last trade
  match,         // one trade; Message::last_match for the `last_match` replayed on subscribe
  heartbeat,     // sequence, last_trade_id
  subscriptions, // the server's answer to a subscribe
  error,         // {"type":"error","message":...,"reason":...}
};
inline constexpr std::size_t kMessageKinds = 8;

[[nodiscard]] std::string_view to_string(MessageKind kind) noexcept;

// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (UTC, years 1970-2500) -> Unix ns, exactly. False (out
// untouched) on anything else, including impossible dates (2021-02-29) and a missing `Z`.
[[nodiscard]] bool parse_time(std::string_view text, std::uint64_t& out_ns) noexcept;

struct Message {
  MessageKind kind = MessageKind::none;
  core::InstrumentId instrument = kNoInstrument;
  bool last_match = false;      // match: it was a `last_match`
  bool has_sequence = false;    // ticker, match, heartbeat carry one
  bool has_trade = false;       // ticker: price / last_size / trade_id present
  bool has_bbo_sizes = false;   // ticker: best_bid_size and best_ask_size present (newer feeds)
  core::Side taker_side = core::Side::bid; // match: opposite of `side` (the maker's); ticker: `side`
  std::string_view type;        // the `type` text, into the input
  std::string_view product;     // product_id, into the input
  std::uint64_t sequence = 0;
  std::uint64_t trade_id = 0;      // match, ticker
  std::uint64_t last_trade_id = 0; // heartbeat
  std::uint64_t time_ns = 0;       // `time` as Unix ns; 0 when absent (2021 snapshots carry none)
  std::int64_t price = 0;          // match price; ticker last trade price
  std::int64_t qty = 0;            // match size; ticker last_size
  core::Level bid{};               // ticker best_bid / best_bid_size (qty 0 when absent)
  core::Level ask{};               // ticker best_ask / best_ask_size
  // snapshot bids/asks; l2update changes split by side, each side in message order (qty 0 deletes)
  std::span<const core::Level> bids;
  std::span<const core::Level> asks;
  std::string_view error_message; // error: unescaped, in the parser's buffer until the next parse
  std::string_view error_reason;
};

struct ParserConfig {
  // A level2 snapshot is the full aggregated book: BTC-USD runs to megabytes.
  std::size_t max_message_bytes = std::size_t{4} << 20U;
  std::size_t max_levels = 32'768; // per side per message
  std::size_t max_instruments = 64;
};

struct ParserCounters : KindCounters<MessageKind, kMessageKinds> {
  std::uint64_t venue_errors = 0; // `error` messages the venue sent
};

struct ParserImpl;

// add_instrument / find take the product id ("BTC-USD", case-sensitive as Coinbase spells it);
// counters, config: ParserShell.
class Parser : public ParserShell<ParserConfig, ParserCounters, ParserImpl> {
public:
  // Allocates everything. Throws std::invalid_argument on a nonsensical config, std::bad_alloc
  // when simdjson cannot allocate.
  explicit Parser(const ParserConfig& config = {});

  // Parses one websocket text frame. On success `out` holds the message (views valid until the
  // next parse and while the input lives); otherwise `out` is partially filled and must not be used.
  [[nodiscard]] ParseResult parse(PaddedView input, Message& out) noexcept;
  [[nodiscard]] ParseResult parse(const PaddedBuffer& input, Message& out) noexcept {
    return parse(input.view(), out);
  }

  // The text of the last venue `error` message, "message: reason" (truncated to 255 bytes),
  // kept for logging after later parses; empty when none arrived.
  [[nodiscard]] std::string_view last_error() const noexcept { return {last_error_.data(), last_error_size_}; }

private:
  [[nodiscard]] ParseResult parse_impl(PaddedView input, Message& out) noexcept;
  void keep_error(const Message& m) noexcept;

  std::array<char, 256> last_error_{};
  std::size_t last_error_size_ = 0;
};

// Events of a parsed message, without synchronisation (tools, tests, benchmarks): snapshot ->
// snapshot_begin, levels, snapshot_end; l2update -> one book_level per change, bids then asks;
// ticker -> one bbo (seq = sequence); match / last_match -> one trade (side = taker, seq =
// trade_id, exchange_ns = time). Book events carry seq 0 (level2 has no sequence) and
// exchange_ns = time. The last event carries kFlagLastInMessage. Returns the number of events.
std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

// ---- Cold helper for replay and tools (allocates, may throw) ----

struct ProductDecimals {
  std::string product;
  int price_decimals = 0;
  int qty_decimals = 0;
  std::uint64_t values = 0; // decimal strings seen
};

// Scans a capture and infers each product's price and size decimals as the maximum
// qf::ipc::infer_decimals over every price and size it carries (snapshot levels, changes,
// ticker best_bid/best_ask/price/sizes, match price/size). Sorted by product. Throws
// CaptureError on an unreadable capture, a frame that is not JSON, or a price that is not decimal.
[[nodiscard]] std::vector<ProductDecimals> infer_capture_decimals(const std::string& path);

} // namespace qf::feeds::coinbase
