#pragma once
// OKX v5 public market-data parser (PROTOCOLS.md 6): `books` (snapshot / update with `checksum`
// and, since 2023, `seqId` / `prevSeqId`), `bbo-tbt`, `trades`, `tickers`, the `event` answers
// (subscribe / unsubscribe acks, errors, notices) and the text `pong` of the keepalive. Built on
// the shared layer like the other venues: one reused simdjson on-demand parser behind a pimpl
// (feeds/src/json_fields.hpp), fixed-capacity scratch, InstrumentTable for the instIds
// ("BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"). Prices and sizes are strings and go through
// qf::ipc::parse_fixed; `ts` is Unix ms in a string. The instrument is the `arg`'s instId (a data
// element naming another one is unknown_message). Book messages go through okx::BookSync, which
// checks the sequence chain and the CRC32. One Parser per connection, on its feed thread;
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

namespace qf::feeds::okx {

enum class MessageKind : std::uint8_t {
  none,          // nothing parsed (an error)
  book_snapshot, // channel books, action snapshot: up to 400 levels a side
  book_update,   // channel books, action update: absolute sizes, size 0 deletes
  bbo,           // channel bbo-tbt: one level a side, tick by tick
  trade,         // channel trades: one or more trades (Message::trades)
  ticker,        // channel tickers: best bid/ask with sizes, last trade
  subscribed,    // {"event":"subscribe","arg":{...}}
  unsubscribed,  // {"event":"unsubscribe","arg":{...}}
  error,         // {"event":"error","code":...,"msg":...}: the venue refused a request (counted)
  notice,        // {"event":"notice",...}: e.g. a service upgrade is about to close the connection
  pong,          // the text "pong" answering our text "ping" (not JSON)
};
inline constexpr std::size_t kMessageKinds = 11;

[[nodiscard]] std::string_view to_string(MessageKind kind) noexcept;

struct Trade {
  core::Side taker_side = core::Side::bid; // OKX's `side` is the taker's
  std::int64_t price = 0;
  std::int64_t qty = 0;
  std::uint64_t trade_id = 0;
  std::uint64_t time_ns = 0;
};

struct Message {
  MessageKind kind = MessageKind::none;
  core::InstrumentId instrument = kNoInstrument; // data pushes
  bool has_checksum = false;                     // books: a non-zero `checksum` (0 is "not provided", PROTOCOLS 6.2)
  bool has_seq = false;                          // books / bbo-tbt: `seqId` present (books: `prevSeqId` too)
  std::string_view channel;                      // into the input (data pushes and acks)
  std::string_view inst_id;                      // the arg's instId, into the input
  std::string_view code;                         // error / notice `code`, into the input
  std::string_view text;                         // error / notice `msg`, unescaped into the parser's buffer
  std::int32_t checksum = 0;                     // books: the venue's signed CRC32 of its top 25
  std::int64_t seq_id = 0;                       // books / bbo-tbt `seqId`
  std::int64_t prev_seq_id = 0;                  // books `prevSeqId` (-1 on a snapshot)
  std::uint64_t time_ns = 0;                     // `ts` (ms) as Unix ns; 0 when absent
  std::span<const core::Level> bids;             // book levels in message order (size 0 deletes)
  std::span<const core::Level> asks;
  core::Level bid{}; // bbo / ticker best bid (0/0 when the side is empty)
  core::Level ask{};
  std::span<const Trade> trades; // trade: in message order
};

struct ParserConfig {
  std::size_t max_message_bytes = std::size_t{1} << 20U;
  std::size_t max_levels = 1'024; // per side per message (a books snapshot has 400)
  std::size_t max_trades = 128;   // per trades message
  std::size_t max_instruments = 256;
};

struct ParserCounters : KindCounters<MessageKind, kMessageKinds> {
  std::uint64_t venue_errors = 0; // `error` events the venue sent
};

struct ParserImpl;

// add_instrument / find take the instId as OKX spells it ("BTC-USDT"); counters, config:
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
// (seq = seqId when present, else 0); bbo / ticker -> one bbo; trade -> one trade event per trade
// (seq = tradeId). Returns the number of events.
std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

// ---- Cold helpers for replay and tools (allocate, may throw) ----

struct InstrumentDecimals {
  std::string inst_id;
  int price_decimals = 0;
  int qty_decimals = 0;
  std::uint64_t values = 0; // decimal strings seen
};

// Scans a capture and infers each instId's price and size decimals as the largest number of
// decimals its strings show (book levels, trade px/sz, ticker and bbo prices and sizes). Sorted by
// instId. Throws CaptureError on an unreadable capture, a frame that is neither JSON nor `pong`,
// or a price or size that is not a plain decimal.
[[nodiscard]] std::vector<InstrumentDecimals> infer_capture_decimals(const std::string& path);

} // namespace qf::feeds::okx
