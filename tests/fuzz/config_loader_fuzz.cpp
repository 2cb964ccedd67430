// libFuzzer target: any bytes as a config file through parse_config (toml++ and the strict
// loader). ConfigError is the expected outcome of a bad file; anything else escaping, a crash
// or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "qf/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const qf::config::Config c = qf::config::parse_config(text, "<fuzz>");
    (void)c;
  } catch (const qf::config::ConfigError&) {
    // refused with a message: the expected failure
  }
  return 0;
}
