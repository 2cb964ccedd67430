// libFuzzer target: any bytes through coinbase::Parser, emit_events and BookSync, plus the
// timestamp parser on the raw bytes. Any result is fine; a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_input.hpp"
#include "qf/feeds/coinbase/book_sync.hpp"
#include "qf/feeds/coinbase/parser.hpp"

namespace cb = qf::feeds::coinbase;

namespace {

struct Target {
  Target() : sync(4) {
    parser.add_instrument("BTC-USD", 0, 2, 8);
    parser.add_instrument("SKL-BTC", 1, 8, 1);
    parser.add_instrument("BAND-GBP", 2, 4, 2);
    parser.add_instrument("YFI-BTC", 3, 5, 6);
  }
  cb::Parser parser;
  cb::BookSync sync;
  cb::Message message;
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
  (void)cb::parse_time(std::string_view(reinterpret_cast<const char*>(data), size), sum);
  const auto sink = qf::fuzz::summing_sink(sum);
  if (t.parser.parse(*buffer, t.message) == qf::feeds::ParseResult::ok) {
    (void)cb::emit_events(t.message, 0, sink);
    (void)t.sync.on_message(t.message, 0, sink);
  }
  (void)t.parser.last_error();
  if (++t.calls % 1024 == 0) {
    t.sync.on_disconnect(0, sink);
  }
  qf::fuzz::keep(sum);
  return 0;
}
