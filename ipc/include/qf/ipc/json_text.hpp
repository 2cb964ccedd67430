#pragma once
// JSON text for readers of the state layout (replay summaries, qf-monitor --json, the gateway):
// numbers as JSON (non-finite -> null) and string escaping. Cold paths only: they allocate.

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace qf::ipc {

[[nodiscard]] inline std::string json_number(double v) {
  if (!std::isfinite(v)) {
    return "null";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

[[nodiscard]] inline std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

} // namespace qf::ipc
