#pragma once
// The trades of the real BTCUSDT capture (../shared/captures), read with zlib and plain string
// search, independently of the feeds parser: trade time T (ms -> ns), price p, quantity q and the
// taker side (m:true means the buyer was the maker, so the taker sold). For the core tests that
// check features and bars against naive references on captured data.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qf::core::test {

struct CapturedTrade {
  std::uint64_t t_ns;
  double price;
  double qty;
  bool taker_sold;
};

inline std::vector<CapturedTrade> captured_btcusdt_trades() {
  const std::string path = std::string(QF_CAPTURES_DIR) + "/binance-spot/btcusdt_20240808.capture.gz";
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    ADD_FAILURE() << "cannot open " << path;
    return {};
  }
  std::vector<CapturedTrade> out;
  std::vector<char> line(1 << 20);
  const auto field = [](const std::string& s, const std::string& key) {
    const std::size_t at = s.find("\"" + key + "\":");
    std::size_t b = at + key.size() + 3;
    if (s[b] == '"') {
      ++b;
    }
    const std::size_t e = s.find_first_of("\",}", b);
    return s.substr(b, e - b);
  };
  while (gzgets(f, line.data(), static_cast<int>(line.size())) != nullptr) {
    const std::string s(line.data());
    if (s.find("\"e\":\"trade\"") == std::string::npos) {
      continue;
    }
    out.push_back(CapturedTrade{std::stoull(field(s, "T")) * 1'000'000ULL, std::stod(field(s, "p")),
                                std::stod(field(s, "q")), field(s, "m") == "true"});
  }
  gzclose(f);
  return out;
}

} // namespace qf::core::test
