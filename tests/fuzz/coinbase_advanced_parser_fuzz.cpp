// libFuzzer target: any bytes through coinbase_advanced::Parser, emit_events and BookSync (the
// per-connection sequence_num chain, gaps across every book, snapshots, dropped updates). Any
// result is fine; a crash or a sanitizer report is a bug. There is no Advanced Trade capture: the
// seeds are committed in corpus/coinbase_advanced_parser_fuzz/ (the two real messages of
// PROTOCOLS.md 3.2 and synthetic ones written from its text).
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "qf/feeds/coinbase_advanced/book_sync.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"

namespace ca = qf::feeds::coinbase_advanced;

namespace {

struct Target {
  Target() : sync(2) {
    parser.add_instrument("BTC-USD", 0, 2, 8); // the real messages' decimals
    parser.add_instrument("ETH-USD", 1, 2, 8);
  }
  ca::Parser parser;
  ca::BookSync sync;
  ca::Message message;
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
    (void)ca::emit_events(t.message, 0, sink);
    const ca::SyncReport r = t.sync.on_message(t.message, 0, sink);
    sum += r.gap_books + r.snapshots;
    for (qf::core::InstrumentId i = 0; i < 2; ++i) {
      sum += t.sync.take_resubscribe_request(i) ? 1 : 0;
    }
  }
  if (++t.calls % 1024 == 0) {
    t.sync.on_disconnect(0, sink);
  }
  qf::fuzz::keep(sum);
  return 0;
}
