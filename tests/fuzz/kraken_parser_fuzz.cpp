// libFuzzer target: any bytes through kraken::Parser, emit_events and BookSync (which applies,
// truncates and checks the CRC32 of every book message it is given), plus a resync and a
// disconnect now and then. Any result is fine; a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "qf/feeds/kraken/book_sync.hpp"
#include "qf/feeds/kraken/parser.hpp"

namespace kr = qf::feeds::kraken;

namespace {

struct Target {
  Target() : sync(3) {
    parser.add_instrument("BTC/USD", 0, 1, 8);
    parser.add_instrument("DOGE/USDT", 1, 7, 8); // decimals above the pair's precision (5)
    parser.add_instrument("ALGO/USD", 2, 5, 8);
    sync.set_precision(0, 1, 8, 1, 8);
    sync.set_precision(1, 7, 8, 5, 8);
    sync.set_precision(2, 5, 8, 5, 8);
  }
  kr::Parser parser;
  kr::BookSync sync;
  kr::Message message;
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
    (void)kr::emit_events(t.message, 0, sink);
    (void)t.sync.on_message(t.message, 0, sink);
    sum += t.sync.checksum(t.message.instrument);
  }
  ++t.calls;
  if (t.calls % 512 == 0) {
    t.sync.resync(static_cast<qf::core::InstrumentId>(t.calls % 4), 0, sink);
    (void)t.sync.take_resubscribe_request(static_cast<qf::core::InstrumentId>(t.calls % 4));
  }
  if (t.calls % 1024 == 0) {
    t.sync.on_disconnect(0, sink);
  }
  qf::fuzz::keep(sum);
  return 0;
}
