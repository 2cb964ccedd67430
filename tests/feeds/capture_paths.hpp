#pragma once
// Where the feeds tests find ../shared/captures (QF_CAPTURES_DIR, set by tests/feeds/CMakeLists.txt),
// and the websocket frames of a capture in file order.

#include <filesystem>
#include <string>
#include <vector>

#include "qf/feeds/capture.hpp"

namespace qf::feeds::test {

inline const std::filesystem::path kCaptures = QF_CAPTURES_DIR;
inline const std::filesystem::path kBtcusdt = kCaptures / "binance-spot/btcusdt_20240808.capture.gz";
inline const std::filesystem::path kSpotMulti = kCaptures / "binance-spot/multi_20211012.capture";
inline const std::filesystem::path kUsdmMulti = kCaptures / "binance-usdm/multi_20210722.capture";
inline const std::filesystem::path kCoinbase = kCaptures / "coinbase-exchange/level2_ticker_matches_20210417.capture";
inline const std::filesystem::path kKraken = kCaptures / "kraken/btcusd_book10_v2_20230730.capture";

inline std::vector<std::string> frames(const std::filesystem::path& path) {
  CaptureReader reader(path.string());
  std::vector<std::string> out;
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind == CaptureRecord::Kind::ws_frame) {
      out.emplace_back(r.text);
    }
  }
  return out;
}

} // namespace qf::feeds::test
