// libFuzzer target: any bytes through binance::Parser (spot and USD-M), emit_events and BookSync.
// A result is fine whatever it is; a crash, a sanitizer report or a read past the 64 padding
// bytes (the buffer is allocated to the exact size, so ASan sees it) is the bug, and so is the
// fast path (feeds/src/flat_json.hpp) disagreeing with simdjson's path on the same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_input.hpp"
#include "qf/feeds/binance/book_sync.hpp"
#include "qf/feeds/binance/parser.hpp"

namespace bn = qf::feeds::binance;

namespace {

struct Target {
  explicit Target(bn::Market market)
      : parser(config(market, true)), simdjson_only(config(market, false)), sync(0, sync_config(market)) {
    for (bn::Parser* p : {&parser, &simdjson_only}) {
      p->add_instrument("BTCUSDT", 0, 2, 8);
      p->add_instrument("NKNUSDT", 1, 8, 8);
    }
  }
  static bn::ParserConfig config(bn::Market market, bool fast_path) {
    bn::ParserConfig c;
    c.market = market;
    c.max_message_bytes = 1 << 20;
    c.fast_path = fast_path;
    return c;
  }
  static bn::BookSyncConfig sync_config(bn::Market market) {
    bn::BookSyncConfig c;
    c.market = market;
    c.max_buffered_diffs = 64;
    c.max_buffered_levels = 4096;
    return c;
  }
  void run(const qf::feeds::PaddedBuffer& buffer, std::string_view snapshot_symbol) {
    std::uint64_t sum = 0;
    const auto sink = qf::fuzz::summing_sink(sum);
    const qf::feeds::ParseResult r = parser.parse(buffer, message, snapshot_symbol);
    if (simdjson_only.parse(buffer, reference, snapshot_symbol) != r ||
        (r == qf::feeds::ParseResult::ok && !bn::same_message(message, reference))) {
      __builtin_trap(); // the fast path read these bytes differently
    }
    if (r == qf::feeds::ParseResult::ok) {
      (void)bn::emit_events(message, 0, sink);
      (void)sync.on_message(message, 0, sink);
      (void)sync.take_snapshot_request();
    }
    qf::fuzz::keep(sum);
  }
  bn::Parser parser;
  bn::Parser simdjson_only;
  bn::BookSync sync;
  bn::Message message;
  bn::Message reference;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Target spot(bn::Market::spot);
  static Target usdm(bn::Market::usdm);
  const auto buffer = qf::fuzz::padded_input(data, size);
  if (!buffer) {
    return 0;
  }
  spot.run(*buffer, {});
  spot.run(*buffer, "btcusdt"); // as a REST snapshot body
  usdm.run(*buffer, {});
  return 0;
}
