// libFuzzer target: any bytes through bybit::Parser, emit_events and BookSync (the u chain, seq order,
// mid-stream snapshots, ticker merging). Any result is fine; a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "qf/feeds/bybit/book_sync.hpp"
#include "qf/feeds/bybit/parser.hpp"

namespace by = qf::feeds::bybit;

namespace {

struct Target {
  Target() : sync(2) {
    // The capture's symbol at the decimals it shows, and PROTOCOLS.md 5.2's linear example.
    parser.add_instrument("BTCUSDT", 0, 2, 6);
    parser.add_instrument("XRPUSDT", 1, 4, 0);
  }
  by::Parser parser;
  by::BookSync sync;
  by::Message message;
  std::uint64_t calls = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Target t;
  const auto buffer = qf::fuzz::padded_input(data, size);
  if (!buffer) {
    return 0;
  }
  std::uint64_t sum = 0;
  const auto sink = qf::fuzz::summing_sink(sum);
  if (t.parser.parse(*buffer, t.message) == qf::feeds::ParseResult::ok) {
    (void)by::emit_events(t.message, 0, sink);
    (void)t.sync.on_message(t.message, 0, sink);
    sum += t.sync.bids(t.message.instrument).size();
  }
  if (++t.calls % 1024 == 0) {
    t.sync.on_disconnect(0, sink);
  }
  qf::fuzz::keep(sum);
  return 0;
}
