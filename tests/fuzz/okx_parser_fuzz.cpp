// libFuzzer target: any bytes through okx::Parser, emit_events and BookSync (sequence chain and
// CRC32 over the kept book). Any result is fine; a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "qf/feeds/okx/book_sync.hpp"
#include "qf/feeds/okx/parser.hpp"

namespace ox = qf::feeds::okx;

namespace {

struct Target {
  Target() : sync(3) {
    // The capture's instruments at the decimals it shows (tests/feeds/okx_book_sync_test.cpp).
    parser.add_instrument("BTC-USD-220527", 0, 1, 0);
    parser.add_instrument("UNI-USD-SWAP", 1, 3, 0);
    parser.add_instrument("BTC-USDT", 2, 1, 8);
    sync.set_decimals(0, 1, 0);
    sync.set_decimals(1, 3, 0);
    sync.set_decimals(2, 1, 8);
  }
  ox::Parser parser;
  ox::BookSync sync;
  ox::Message message;
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
    (void)ox::emit_events(t.message, 0, sink);
    (void)t.sync.on_message(t.message, 0, sink);
    (void)t.sync.checksum(t.message.instrument);
  }
  if (++t.calls % 1024 == 0) {
    t.sync.on_disconnect(0, sink);
  }
  qf::fuzz::keep(sum);
  return 0;
}
