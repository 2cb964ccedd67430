#include "replay.hpp"

#include "alloc_count.hpp"
#include "live.hpp"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <array>
#include <chrono>
#include <cstdio>
#include <unistd.h>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "qf/core/agent.hpp"
#include "qf/core/engine.hpp"
#include "qf/feeds/binance/book_sync.hpp"
#include "qf/feeds/binance/parser.hpp"
#include "qf/feeds/coinbase/book_sync.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/coinbase_advanced/book_sync.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"
#include "qf/feeds/kraken/book_sync.hpp"
#include "qf/feeds/kraken/parser.hpp"
#include "qf/feeds/bybit/book_sync.hpp"
#include "qf/feeds/bybit/parser.hpp"
#include "qf/feeds/okx/book_sync.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/ipc/fixed_point.hpp"
#include "qf/ipc/json_writer.hpp"

namespace qf::engine {

namespace {

namespace bn = feeds::binance;
namespace cb = feeds::coinbase;
namespace kr = feeds::kraken;
namespace ox = feeds::okx;
namespace by = feeds::bybit;
namespace ca = feeds::coinbase_advanced;

constexpr std::size_t kReplayRingSize = 16'384; // events of one message (a snapshot) before a drain

// Heap-allocated state sections: replay publishes like the live engine, into private memory.
struct PrivateState {
  ipc::InstrumentTable instruments{};
  std::unique_ptr<ipc::InstrumentState[]> records = std::make_unique<ipc::InstrumentState[]>(ipc::kMaxInstruments);
  std::unique_ptr<ipc::FeedTable> feeds = std::make_unique<ipc::FeedTable>();
  std::unique_ptr<ipc::LatencyTable> latency = std::make_unique<ipc::LatencyTable>();
  std::unique_ptr<ipc::EventLog> events = std::make_unique<ipc::EventLog>();
  std::unique_ptr<ipc::ControlLog> control = std::make_unique<ipc::ControlLog>();
  core::StateSections sections() {
    return {&instruments, records.get(), feeds.get(), latency.get(), events.get(), control.get()};
  }
};

std::string detect_venue(const std::string& path) {
  feeds::CaptureReader reader(path);
  feeds::CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind == feeds::CaptureRecord::Kind::ws_open) {
      if (r.text.find("fstream") != std::string_view::npos || r.text.find("/fapi") != std::string_view::npos) {
        return "binance-usdm";
      }
      if (r.text.find("binance") != std::string_view::npos) {
        return "binance-spot";
      }
      if (r.text.find("advanced-trade-ws") != std::string_view::npos) {
        return "coinbase-advanced"; // before the Coinbase Exchange check
      }
      if (r.text.find("coinbase") != std::string_view::npos) {
        return "coinbase";
      }
      if (r.text.find("kraken") != std::string_view::npos) {
        return "kraken";
      }
      if (r.text.find("okx.com") != std::string_view::npos) {
        return "okx";
      }
      if (r.text.find("bybit") != std::string_view::npos) {
        return r.text.find("/linear") != std::string_view::npos ? "bybit-linear" : "bybit-spot";
      }
    }
    if (r.kind == feeds::CaptureRecord::Kind::ws_frame) {
      if (r.text.find("\"arg\":{") != std::string_view::npos) {
        return "okx"; // OKX names its channel inside `arg`; before the Kraken `channel` check
      }
      if (r.text.find("\"sequence_num\":") != std::string_view::npos) {
        return "coinbase-advanced"; // one counter per connection; before the Kraken `channel` check
      }
      if (r.text.find("\"channel\":\"") != std::string_view::npos) {
        return "kraken"; // Kraken v2 names its channel; before the Coinbase `type` check
      }
      if (r.text.find("\"topic\":\"") != std::string_view::npos) {
        return "bybit-spot"; // Bybit names a topic; before the Coinbase `type` check
      }
      // No `# ws` line: a USD-M depth diff carries `pu`, spot does not.
      if (r.text.find("\"pu\":") != std::string_view::npos) {
        return "binance-usdm";
      }
      if (r.text.find("\"type\":\"") != std::string_view::npos) {
        return "coinbase";
      }
      if (r.text.find("\"depthUpdate\"") != std::string_view::npos) {
        return "binance-spot";
      }
    }
  }
  return "binance-spot";
}

// Appends each piece; used instead of `"literal" + std::string` chains, on which GCC 12 raises a
// false -Wrestrict.
template <typename... Parts>
void add(std::string& out, const Parts&... parts) {
  (out.append(std::string_view(parts)), ...);
}

const char* status_name(core::FeedStatus s) {
  switch (s) {
  case core::FeedStatus::connected: return "connected";
  case core::FeedStatus::subscribed: return "subscribed";
  case core::FeedStatus::book_live: return "book_live";
  case core::FeedStatus::gap: return "gap";
  case core::FeedStatus::resync: return "resync";
  case core::FeedStatus::stale: return "stale";
  case core::FeedStatus::disconnected: return "disconnected";
  }
  return "unknown";
}

// The tap: one JSON line per applied venue message, written through a large buffer.
class Tap {
public:
  explicit Tap(const std::string& path) : file_(path.empty() ? nullptr : std::fopen(path.c_str(), "w")) {
    if (!path.empty() && file_ == nullptr) {
      throw std::runtime_error("cannot write the tap file " + path);
    }
    buffer_.reserve(1 << 20);
  }
  ~Tap() {
    if (file_ != nullptr) {
      flush();
      std::fclose(file_);
    }
  }
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;
  [[nodiscard]] bool enabled() const noexcept { return file_ != nullptr; }
  void line(std::string_view text) {
    buffer_ += text;
    buffer_ += '\n';
    if (buffer_.size() > (1 << 20) - 4096) {
      flush();
    }
  }

private:
  void flush() {
    std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
    buffer_.clear();
  }
  std::FILE* file_;
  std::string buffer_;
};


// One venue's replay: its parser and book synchronisation behind one interface, so the loop
// below is venue-neutral. A new venue is a class here and one row in kReplayVenues.
struct VenueCounters {
  std::uint64_t gaps = 0;
  std::uint64_t resyncs = 0;
  bool has_checksums = false; // the venue checksums its book (Kraken, OKX): the two below are reported
  std::uint64_t checksums_verified = 0;
  std::uint64_t checksum_mismatches = 0;
  bool has_sequence = false; // the venue chains its book messages (OKX, Bybit, Coinbase Advanced): sequence_gaps is reported
  std::uint64_t sequence_gaps = 0;
};

class ReplayVenue {
public:
  virtual ~ReplayVenue() = default;
  // Every instrument of the capture, with the decimals its messages show (no config given).
  [[nodiscard]] virtual std::vector<core::InstrumentSpec> infer(const std::string& input,
                                                                const std::string& venue) const = 0;
  virtual void add_instruments(const std::vector<core::InstrumentSpec>& specs) = 0;
  [[nodiscard]] virtual std::size_t max_message_bytes() const = 0;
  virtual void on_ws_open(std::string_view /*text*/) {}
  // Parses one received record (`padded`: in place in the reader's buffer) and emits its events;
  // returns 1 for a parse error.
  virtual std::uint64_t on_record(const feeds::CaptureRecord& r, const std::string& input, std::uint64_t loop,
                                  feeds::PaddedView padded, std::uint64_t recv_ticks,
                                  feeds::EventSink sink) = 0;
  // Between loops: a clean slate, like a reconnect.
  virtual void restart(std::uint64_t now_ticks, feeds::EventSink sink) = 0;
  [[nodiscard]] virtual VenueCounters counters(core::InstrumentId id) const = 0;
};

// The instruments a capture shows (name and decimals per instrument); `missing` when none.
template <typename Decimals>
std::vector<core::InstrumentSpec> specs_of(const std::vector<Decimals>& found, std::string Decimals::*name,
                                           const std::string& venue, const std::string& missing) {
  std::vector<core::InstrumentSpec> specs;
  for (const Decimals& d : found) {
    specs.push_back({venue, d.*name, d.price_decimals, d.qty_decimals, 0});
  }
  if (specs.empty()) {
    throw std::runtime_error(missing);
  }
  return specs;
}

// Binance: one BookSync per symbol; REST snapshots are attributed to their symbol.
class BinanceReplay final : public ReplayVenue {
public:
  explicit BinanceReplay(bn::Market market) { config_.market = market; }
  std::vector<core::InstrumentSpec> infer(const std::string& input, const std::string& venue) const override {
    return specs_of(bn::infer_capture_decimals(input), &bn::SymbolDecimals::symbol, venue, input + ": no symbol found");
  }
  void add_instruments(const std::vector<core::InstrumentSpec>& specs) override {
    parser_.emplace(config_);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      parser_->add_instrument(specs[i].symbol, static_cast<core::InstrumentId>(i), specs[i].price_decimals,
                              specs[i].qty_decimals);
      bn::BookSyncConfig sc;
      sc.market = config_.market;
      syncs_.push_back(std::make_unique<bn::BookSync>(static_cast<core::InstrumentId>(i), sc));
    }
  }
  std::size_t max_message_bytes() const override { return config_.max_message_bytes; }
  void on_ws_open(std::string_view text) override { attribution_.on_ws_open(text); }
  std::uint64_t on_record(const feeds::CaptureRecord& r, const std::string& input, std::uint64_t loop,
                          feeds::PaddedView padded, std::uint64_t recv_ticks,
                          feeds::EventSink sink) override {
    std::string symbol;
    if (r.kind == feeds::CaptureRecord::Kind::rest_response) {
      symbol = attribution_.symbol_for(r.url);
      if (symbol.empty()) {
        throw std::runtime_error(input + ":" + std::to_string(r.line) +
                                 ": a REST snapshot that no symbol can be attributed to");
      }
    }
    const feeds::ParseResult result = parser_->parse(padded, m_, symbol);
    if (result != feeds::ParseResult::ok) {
      return feeds::is_error(result) ? 1U : 0U;
    }
    switch (m_.kind) {
    case bn::MessageKind::depth_update:
      if (loop == 0) {
        attribution_.on_depth_symbol(m_.symbol);
      }
      [[fallthrough]];
    case bn::MessageKind::depth_snapshot:
      (void)syncs_[m_.instrument]->on_message(m_, recv_ticks, sink);
      break;
    case bn::MessageKind::book_ticker:
    case bn::MessageKind::trade:
    case bn::MessageKind::agg_trade:
      (void)bn::emit_events(m_, recv_ticks, sink);
      break;
    default:
      break;
    }
    return 0;
  }
  void restart(std::uint64_t now_ticks, feeds::EventSink sink) override {
    for (auto& s : syncs_) {
      s->resync(now_ticks, sink);
    }
  }
  VenueCounters counters(core::InstrumentId id) const override {
    return {syncs_[id]->counters().gaps, syncs_[id]->counters().resyncs};
  }

private:
  bn::ParserConfig config_;
  std::optional<bn::Parser> parser_;
  std::vector<std::unique_ptr<bn::BookSync>> syncs_;
  bn::SnapshotAttribution attribution_;
  bn::Message m_;
};

// A venue with one parser and one BookSync for the whole connection (Coinbase, Kraken): every
// record goes to the parser, every parsed message to the sync; a restart is a disconnect.
template <typename Parser, typename Sync, typename Message, typename Config>
class ConnectionReplay : public ReplayVenue {
public:
  std::size_t max_message_bytes() const override { return config_.max_message_bytes; }
  std::uint64_t on_record(const feeds::CaptureRecord& /*r*/, const std::string& /*input*/, std::uint64_t /*loop*/,
                          feeds::PaddedView padded, std::uint64_t recv_ticks,
                          feeds::EventSink sink) override {
    const feeds::ParseResult result = parser_->parse(padded, m_);
    if (result != feeds::ParseResult::ok) {
      if constexpr (requires { m_.unregistered_only; }) {
        if (m_.unregistered_only) { // numbered on the connection's chain all the same (Coinbase Advanced)
          (void)sync_->on_unregistered(m_, recv_ticks, sink);
        }
      }
      return feeds::is_error(result) ? 1U : 0U;
    }
    (void)sync_->on_message(m_, recv_ticks, sink);
    return 0;
  }
  void restart(std::uint64_t now_ticks, feeds::EventSink sink) override {
    sync_->on_disconnect(now_ticks, sink); // live again on the next snapshot
  }

protected:
  // The parser and a BookSync for `specs`, each instrument at its index; for the venues whose sync
  // takes only the instrument count (not virtual: the others never instantiate it).
  void add_each(const std::vector<core::InstrumentSpec>& specs) {
    parser_.emplace(config_);
    sync_.emplace(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
      parser_->add_instrument(specs[i].symbol, static_cast<core::InstrumentId>(i), specs[i].price_decimals,
                              specs[i].qty_decimals);
    }
  }

  const Config config_;
  std::optional<Parser> parser_;
  std::optional<Sync> sync_;
  Message m_;
};

// Coinbase: one BookSync for the whole connection; a level2 snapshot is the whole book.
class CoinbaseReplay final : public ConnectionReplay<cb::Parser, cb::BookSync, cb::Message, cb::ParserConfig> {
public:
  std::vector<core::InstrumentSpec> infer(const std::string& input, const std::string& venue) const override {
    return specs_of(cb::infer_capture_decimals(input), &cb::ProductDecimals::product, venue,
                    input + ": no product found");
  }
  void add_instruments(const std::vector<core::InstrumentSpec>& specs) override { add_each(specs); }
  // gaps: heartbeats that showed missed trades; resyncs: reconnects and requests.
  VenueCounters counters(core::InstrumentId id) const override {
    const auto& c = sync_->counters(id);
    return {c.trade_gaps, c.disconnects + c.resyncs};
  }
};

// Kraken v2: one BookSync for the connection, the top-10 book checked against every checksum.
// Decimals: the largest number of decimals the capture shows per symbol, raised to the pair's
// known precision (the sample lost trailing zeros); the checksum is printed at that precision.
class KrakenReplay final : public ConnectionReplay<kr::Parser, kr::BookSync, kr::Message, kr::ParserConfig> {
public:
  std::vector<core::InstrumentSpec> infer(const std::string& input, const std::string& venue) const override {
    std::vector<kr::SymbolDecimals> found = kr::infer_capture_decimals(input);
    for (kr::SymbolDecimals& d : found) {
      int pp = 0;
      int qp = 0;
      if (kr::known_precision(d.symbol, pp, qp)) {
        d.price_decimals = std::max(d.price_decimals, pp);
        d.qty_decimals = std::max(d.qty_decimals, qp);
      }
    }
    return specs_of(found, &kr::SymbolDecimals::symbol, venue, input + ": no symbol found");
  }
  void add_instruments(const std::vector<core::InstrumentSpec>& specs) override {
    parser_.emplace(config_);
    sync_.emplace(specs.size(), 10, config_.max_levels);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto id = static_cast<core::InstrumentId>(i);
      const int pd = specs[i].price_decimals;
      const int qd = specs[i].qty_decimals;
      parser_->add_instrument(specs[i].symbol, id, pd, qd);
      int pp = pd; // unknown pair: its decimals are its precision
      int qp = qd;
      if (kr::known_precision(specs[i].symbol, pp, qp)) {
        pp = std::min(pp, pd);
        qp = std::min(qp, qd);
      }
      sync_->set_precision(id, pd, qd, pp, qp);
    }
  }
  // gaps: checksum mismatches; resyncs: reconnects and requests.
  VenueCounters counters(core::InstrumentId id) const override {
    const auto& c = sync_->counters(id);
    return {c.checksum_mismatches, c.disconnects + c.resyncs, true, c.checksums_verified, c.checksum_mismatches};
  }
};

// OKX v5: one BookSync for the connection, the sequence chain (when the capture has seqId) and the
// CRC32 of the top 25 checked on every books message. Decimals: the largest number of decimals the
// capture shows per instId (OKX prints values without trailing zeros, so that is a lower bound of
// the tick size; the checksum prints values the same way, so it does not depend on it).
class OkxReplay final : public ConnectionReplay<ox::Parser, ox::BookSync, ox::Message, ox::ParserConfig> {
public:
  std::vector<core::InstrumentSpec> infer(const std::string& input, const std::string& venue) const override {
    return specs_of(ox::infer_capture_decimals(input), &ox::InstrumentDecimals::inst_id, venue,
                    input + ": no instId found");
  }
  void add_instruments(const std::vector<core::InstrumentSpec>& specs) override {
    parser_.emplace(config_);
    sync_.emplace(specs.size(), 400, config_.max_levels);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto id = static_cast<core::InstrumentId>(i);
      parser_->add_instrument(specs[i].symbol, id, specs[i].price_decimals, specs[i].qty_decimals);
      sync_->set_decimals(id, specs[i].price_decimals, specs[i].qty_decimals);
    }
  }
  // gaps: sequence breaks and checksum mismatches; resyncs: reconnects and requests.
  VenueCounters counters(core::InstrumentId id) const override {
    const auto& c = sync_->counters(id);
    return {c.sequence_gaps + c.checksum_mismatches, c.disconnects + c.resyncs, true, c.checksums_verified,
            c.checksum_mismatches, true, c.sequence_gaps};
  }
};

// Bybit v5 (spot and linear read alike): one BookSync for the connection, the `u` chain and `seq`
// order checked on every delta; no checksum. Decimals: the largest the capture shows per symbol.
class BybitReplay final : public ConnectionReplay<by::Parser, by::BookSync, by::Message, by::ParserConfig> {
public:
  std::vector<core::InstrumentSpec> infer(const std::string& input, const std::string& venue) const override {
    return specs_of(by::infer_capture_decimals(input), &by::SymbolDecimals::symbol, venue,
                    input + ": no symbol found");
  }
  void add_instruments(const std::vector<core::InstrumentSpec>& specs) override {
    parser_.emplace(config_);
    sync_.emplace(specs.size(), 1'000, config_.max_levels);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      parser_->add_instrument(specs[i].symbol, static_cast<core::InstrumentId>(i), specs[i].price_decimals,
                              specs[i].qty_decimals);
    }
  }
  // gaps: u breaks and seq regressions; resyncs: reconnects and requests.
  VenueCounters counters(core::InstrumentId id) const override {
    const auto& c = sync_->counters(id);
    const std::uint64_t breaks = c.sequence_gaps + c.seq_regressions;
    return {breaks, c.disconnects + c.resyncs, false, 0, 0, true, breaks};
  }
};

// Coinbase Advanced Trade: one BookSync for the connection, the sequence_num chain (one counter
// across channels) checked on every message; no checksum. Decimals: the largest the recording
// shows per product.
class CoinbaseAdvancedReplay final
    : public ConnectionReplay<ca::Parser, ca::BookSync, ca::Message, ca::ParserConfig> {
public:
  std::vector<core::InstrumentSpec> infer(const std::string& input, const std::string& venue) const override {
    return specs_of(ca::infer_capture_decimals(input), &ca::ProductDecimals::product, venue,
                    input + ": no product found");
  }
  void add_instruments(const std::vector<core::InstrumentSpec>& specs) override { add_each(specs); }
  // gaps and sequence_gaps: the sequence_num breaks that took this live book down; resyncs:
  // reconnects and requests.
  VenueCounters counters(core::InstrumentId id) const override {
    const auto& c = sync_->counters(id);
    return {c.gaps, c.disconnects + c.resyncs, false, 0, 0, true, c.gaps};
  }
};

// The venues replay knows: a new venue plugs in here (and in detect_venue for captures that do
// not name it).
struct ReplayVenueEntry {
  const char* name;
  std::unique_ptr<ReplayVenue> (*make)();
};
const ReplayVenueEntry kReplayVenues[] = {
    {"binance-spot", [] { return std::unique_ptr<ReplayVenue>(new BinanceReplay(bn::Market::spot)); }},
    {"binance-usdm", [] { return std::unique_ptr<ReplayVenue>(new BinanceReplay(bn::Market::usdm)); }},
    {"coinbase", [] { return std::unique_ptr<ReplayVenue>(new CoinbaseReplay()); }},
    {"kraken", [] { return std::unique_ptr<ReplayVenue>(new KrakenReplay()); }},
    {"okx", [] { return std::unique_ptr<ReplayVenue>(new OkxReplay()); }},
    {"bybit-spot", [] { return std::unique_ptr<ReplayVenue>(new BybitReplay()); }},
    {"bybit-linear", [] { return std::unique_ptr<ReplayVenue>(new BybitReplay()); }},
    {"coinbase-advanced", [] { return std::unique_ptr<ReplayVenue>(new CoinbaseAdvancedReplay()); }},
};

std::unique_ptr<ReplayVenue> make_replay_venue(const std::string& venue) {
  for (const ReplayVenueEntry& v : kReplayVenues) {
    if (venue == v.name) {
      return v.make();
    }
  }
  std::string known;
  for (const ReplayVenueEntry& v : kReplayVenues) {
    add(known, known.empty() ? "" : ", ", v.name);
  }
  std::string why;
  add(why, "replay of venue '", venue, "' is not supported yet: only ", known, " parsers exist");
  throw std::runtime_error(why);
}

// The agent's observer in replay: sees each event around its application.
template <typename Before, typename After>
struct ReplayObserver {
  Before before;
  After after;
  void before_apply(const core::Event& e) { before(e); }
  void after_apply(const core::Event& e) { after(e); }
};
template <typename Before, typename After>
ReplayObserver(Before, After) -> ReplayObserver<Before, After>;

// The capture files an --input argument names: a directory's *.capture and *.capture.gz files
// by name, a glob's matches (sorted by glob(3)) when no file has that name, else the path itself.
void expand_input(const std::string& arg, std::vector<std::string>& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(arg, ec)) {
    std::vector<std::string> files;
    for (const fs::directory_entry& e : fs::directory_iterator(arg, ec)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file(ec) && (name.ends_with(".capture") || name.ends_with(".capture.gz"))) {
        files.push_back(e.path().string());
      }
    }
    if (ec || files.empty()) {
      throw std::runtime_error(arg + ": a directory with no *.capture or *.capture.gz file");
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
    return;
  }
  if (!fs::exists(arg, ec) && arg.find_first_of("*?[") != std::string::npos) {
    glob_t g{};
    const int rc = ::glob(arg.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        out.emplace_back(g.gl_pathv[i]);
      }
    }
    ::globfree(&g);
    if (rc != 0) {
      throw std::runtime_error(arg + ": no capture file matches");
    }
    return;
  }
  out.push_back(arg); // the reader names it if it cannot be opened
}

// A file's first receive time (0: none), read up to its first timed record only.
std::uint64_t first_recv_ns(const std::string& path) {
  feeds::CaptureReader reader(path);
  feeds::CaptureRecord r;
  while (reader.next(r)) {
    if (r.recv_ns != 0) {
      return r.recv_ns;
    }
  }
  return 0;
}

[[noreturn]] void refuse_order(const std::string& earlier, const char* what, std::uint64_t earlier_ns,
                               const std::string& later, std::uint64_t later_ns) {
  std::string why;
  add(why, "inputs out of order: ", later, " starts at receive time ", std::to_string(later_ns), ", before ", earlier,
      " ", what, " ", std::to_string(earlier_ns), "; give the files in time order");
  throw std::runtime_error(why);
}

// Every input expanded; refused before any replay when a file starts before the previous one
// (the cheap check: first records only; the loop checks each start against the previous end).
std::vector<std::string> ordered_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> inputs;
  for (const std::string& a : args) {
    expand_input(a, inputs);
  }
  std::uint64_t previous_ns = 0;
  for (std::size_t f = 0; inputs.size() > 1 && f < inputs.size(); ++f) {
    const std::uint64_t first = first_recv_ns(inputs[f]);
    if (first != 0 && first < previous_ns) {
      refuse_order(inputs[f - 1], "which starts at", previous_ns, inputs[f], first);
    }
    previous_ns = first != 0 ? first : previous_ns;
  }
  return inputs;
}

// The instruments of several files: each symbol once, in order of first appearance, with the
// largest decimals any file shows.
std::vector<core::InstrumentSpec> merge_specs(const std::vector<std::vector<core::InstrumentSpec>>& per_file) {
  std::vector<core::InstrumentSpec> merged;
  for (const auto& specs : per_file) {
    for (const core::InstrumentSpec& s : specs) {
      auto it = std::find_if(merged.begin(), merged.end(), [&](const core::InstrumentSpec& m) {
        return m.symbol == s.symbol;
      });
      if (it == merged.end()) {
        merged.push_back(s);
      } else {
        it->price_decimals = std::max(it->price_decimals, s.price_decimals);
        it->qty_decimals = std::max(it->qty_decimals, s.qty_decimals);
      }
    }
  }
  return merged;
}

// The messages one pass over the inputs replays (what the loop below counts), for progress.
std::uint64_t count_messages(const std::vector<std::string>& inputs) {
  std::uint64_t n = 0;
  for (const std::string& input : inputs) {
    feeds::CaptureReader reader(input);
    feeds::CaptureRecord r;
    while (reader.next(r)) {
      n += r.kind == feeds::CaptureRecord::Kind::ws_open || r.kind == feeds::CaptureRecord::Kind::sent ? 0 : 1;
    }
  }
  return n;
}

// Progress on stderr every percent: machine lines (--progress) or a bar on a terminal.
class Progress {
public:
  Progress(bool lines, const std::vector<std::string>& inputs, std::uint64_t loops)
      : lines_(lines), bar_(!lines && ::isatty(STDERR_FILENO) == 1) {
    if (lines_ || bar_) {
      total_ = count_messages(inputs) * std::max<std::uint64_t>(loops, 1);
      step_ = std::max<std::uint64_t>(total_ / 100, 1);
      next_ = 0;
    }
  }
  void at(std::uint64_t done) {
    if (done < next_) {
      return;
    }
    next_ = done + step_;
    if (lines_) {
      std::fprintf(stderr, "progress %llu %llu\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total_));
    } else if (bar_) {
      const auto pct = static_cast<int>(total_ == 0 ? 100 : done * 100 / total_);
      std::fprintf(stderr, "\rreplay [%-50.*s] %3d%% %llu/%llu messages", pct / 2,
                   "##################################################", pct,
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_));
    }
  }
  void done(std::uint64_t done) {
    next_ = 0;
    at(done);
    if (bar_) {
      std::fputc('\n', stderr);
    }
  }

private:
  bool lines_, bar_;
  std::uint64_t total_ = 0, step_ = 1, next_ = ~std::uint64_t{0};
};

} // namespace

ReplayResult run_replay(const ReplayOptions& options) {
  const std::vector<std::string> inputs = ordered_inputs(options.inputs);
  const std::string venue = options.venue.empty() ? detect_venue(inputs.front()) : options.venue;
  const std::unique_ptr<ReplayVenue> source = make_replay_venue(venue);

  // Instruments: from the config (this venue's), else every symbol in the capture. A config that
  // names no instrument at all only sets parameters (a backtest job's overrides): inferred too.
  std::vector<core::InstrumentSpec> specs;
  if (options.config && !options.config->instruments.empty()) {
    for (const auto& i : options.config->instruments) {
      if (i.venue == venue) {
        specs.push_back({i.venue, i.symbol, i.price_decimals, i.qty_decimals, 0});
      }
    }
    if (specs.empty()) {
      throw std::runtime_error("the config names no " + venue + " instrument");
    }
  } else {
    std::vector<std::vector<core::InstrumentSpec>> per_file;
    for (const std::string& input : inputs) {
      per_file.push_back(source->infer(input, venue));
    }
    specs = merge_specs(per_file);
  }

  const core::CoreConfig core_config = options.config ? core_config_from(*options.config) : core::CoreConfig{};
  const ipc::TscClock clock = ipc::TscClock::calibrate(std::chrono::milliseconds(20));
  PrivateState state;
  core::Engine engine(core_config, specs, state.sections(), clock);
  source->add_instruments(specs);
  const std::size_t max_message_bytes = source->max_message_bytes();

  Tap tap(options.tap);
  ipc::JsonWriter tap_line;

  // Per-event work: apply, tap, and count the core's allocations after warm-up.
  constexpr std::uint64_t kWarmupEvents = 10'000;
  std::uint64_t events = 0;
  std::uint64_t allocations_in_loop = 0;
  std::uint64_t now_ns = 0;
  std::vector<std::uint64_t> book_messages(specs.size(), 0);
  // Backtest: per-interval equity (1 s of capture time), every fill, and the P&L identity
  // (realized + unrealized - fees = equity - initial capital) checked after each fill.
  constexpr std::uint64_t kBacktestInterval = 1'000'000'000ULL;
  const core::PaperTrader& trader = engine.trader();
  const core::BacktestCriteria criteria =
      options.config ? backtest_criteria_from(*options.config) : core::BacktestCriteria{};
  core::BacktestMetrics metrics(trader.portfolio().initial_capital(), kBacktestInterval, criteria);
  std::uint64_t fills_seen = 0;
  double identity_max_error = 0;
  std::uint64_t equity_bucket = 0;
  ReplayResult result;
  std::FILE* equity_csv = nullptr;
  if (!options.equity_csv.empty()) {
    equity_csv = std::fopen(options.equity_csv.c_str(), "w");
    if (equity_csv == nullptr) {
      throw std::runtime_error(options.equity_csv + ": cannot write the equity curve");
    }
    std::fputs("unix_ns,equity,drawdown,realized,unrealized,fees\n", equity_csv);
  }
  auto after_event = [&] {
    const core::Portfolio& p = trader.portfolio();
    while (fills_seen < p.fill_count()) {
      const std::uint64_t back = p.fill_count() - 1 - fills_seen;
      if (back < core::kRecentFills) {
        const core::Fill& f = p.recent(static_cast<std::size_t>(back));
        metrics.on_fill(f.unix_ns, f.instrument, f.side == core::Side::bid ? f.qty : -f.qty, f.qty * f.price, f.fee,
                        f.realized);
        if (options.record_run) {
          result.fills.push_back(f);
        }
      }
      ++fills_seen;
      identity_max_error = std::max(identity_max_error, std::abs(p.realized() + p.unrealized() - p.fees() -
                                                                 (p.equity() - p.initial_capital())));
    }
    const double equity = p.equity();
    metrics.on_equity(now_ns, equity);
    const std::uint64_t bucket = now_ns / kBacktestInterval;
    if ((equity_csv != nullptr || options.record_run) && bucket != equity_bucket) {
      equity_bucket = bucket;
      if (equity_csv != nullptr) {
        std::fprintf(equity_csv, "%llu,%.6f,%.8f,%.6f,%.6f,%.6f\n", static_cast<unsigned long long>(now_ns), equity,
                     p.drawdown(), p.realized(), p.unrealized(), p.fees());
      }
      if (options.record_run) {
        result.equity.push_back({now_ns, equity, p.drawdown(), p.realized(), p.unrealized(), p.fees()});
      }
    }
  };
  // As in the live engine, the "feed" side parses a message and pushes its events into a ring,
  // then the core agent drains it into the engine; so the parse, queue and process stages are
  // measured as they are live. The observer counts allocations and writes the tap per event.
  std::uint64_t allocations_before = 0;
  auto before_apply = [&](const core::Event& /*e*/) { allocations_before = alloc::thread_allocations(); };
  auto after_apply = [&](const core::Event& e) {
    if (events >= kWarmupEvents) {
      allocations_in_loop += alloc::thread_allocations() - allocations_before;
    }
    ++events;
    const bool message_end = (e.flags & core::kFlagLastInMessage) != 0 || e.kind == core::EventKind::snapshot_end;
    if ((e.kind == core::EventKind::book_level || e.kind == core::EventKind::snapshot_end) && message_end) {
      ++book_messages[e.instrument];
    }
    if (options.on_event) {
      options.on_event(engine, e, now_ns);
    }
    if (!tap.enabled() || !message_end) {
      return;
    }
    const core::InstrumentSpec& spec = specs[e.instrument];
    const int pd = spec.price_decimals;
    const int qd = spec.qty_decimals;
    tap_line.clear();
    const auto ident = [&](const char* kind) {
      tap_line.begin_object().key("kind").str(kind).key("venue").str(spec.venue).key("symbol").str(spec.symbol);
    };
    switch (e.kind) {
    case core::EventKind::book_level:
    case core::EventKind::snapshot_end: {
      ident(e.kind == core::EventKind::snapshot_end ? "snapshot" : "depth");
      tap_line.key("u").u64(e.seq);
      core::Level bid{};
      core::Level ask{};
      const core::OrderBook& book = engine.book(e.instrument);
      if (book.best(core::Side::bid, bid)) {
        tap_line.key("bid").decimal(bid.price, pd).key("bid_qty").decimal(bid.qty, qd);
      }
      if (book.best(core::Side::ask, ask)) {
        tap_line.key("ask").decimal(ask.price, pd).key("ask_qty").decimal(ask.qty, qd);
      }
      break;
    }
    case core::EventKind::bbo:
      ident("bbo");
      tap_line.key("u").u64(e.seq).key("bid").decimal(e.bbo.bid_price, pd).key("bid_qty").decimal(e.bbo.bid_qty, qd);
      tap_line.key("ask").decimal(e.bbo.ask_price, pd).key("ask_qty").decimal(e.bbo.ask_qty, qd);
      break;
    case core::EventKind::trade:
      ident("trade");
      tap_line.key("price").decimal(e.level.price, pd).key("qty").decimal(e.level.qty, qd);
      tap_line.key("side").str(e.side == core::Side::bid ? "buy" : "sell").key("trade_id").u64(e.seq);
      break;
    case core::EventKind::status:
      ident("status");
      tap_line.key("status").str(status_name(e.status));
      break;
    default:
      return;
    }
    tap_line.end_object();
    tap.line(tap_line.view());
  };
  using Ring = ipc::SpscRing<core::Event, kReplayRingSize>;
  const auto ring = std::make_unique<Ring>();
  core::CoreAgent<Ring, ReplayObserver<decltype(before_apply), decltype(after_apply)>> agent(
      engine, clock, {ring.get()}, core::AgentHooks{}, 0, ReplayObserver{before_apply, after_apply});
  // Replay has no housekeeping, so do_work takes no clock reading; one pass drains a message
  // (up to the agent's batch), the loop only runs for a larger one.
  auto flush = [&] {
    bool any = false;
    do {
      any = agent.do_work(0, now_ns) != 0 || any;
    } while (agent.has_work());
    if (any) {
      after_event();
    }
  };
  auto sink = [&](const core::Event& event) {
    core::Event e = event;
    const std::uint64_t pushed = clock.now();
    e.push_delta_ticks = static_cast<std::uint32_t>(std::min<std::uint64_t>(pushed - e.recv_ticks, 0xFFFFFFFFULL));
    while (!ring->try_push(e)) {
      flush(); // a message larger than the ring: the core takes what is there, as it would live
    }
  };

  Progress progress(options.progress_lines, inputs, options.loops);
  std::uint64_t messages = 0;
  std::uint64_t parse_errors = 0;
  std::uint64_t first_recv_ns = 0;
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t last_recv_ns = 0; // the previous file's last receive time (loop 0)
  std::optional<feeds::CaptureReader> reader; // one for every file and loop: its memory is reused
  for (std::uint64_t loop = 0; loop < std::max<std::uint64_t>(options.loops, 1); ++loop) {
    for (std::size_t f = 0; f < inputs.size(); ++f) {
      const std::string& input = inputs[f];
      reader ? reader->open(input) : static_cast<void>(reader.emplace(input));
      feeds::CaptureRecord r;
      bool first_in_file = true;
      while (reader->next(r)) {
        if (r.kind == feeds::CaptureRecord::Kind::ws_open) {
          source->on_ws_open(r.text);
          continue;
        }
        if (r.kind == feeds::CaptureRecord::Kind::sent) {
          continue;
        }
        if (loop == 0 && r.recv_ns != 0) {
          if (first_in_file && f > 0 && r.recv_ns < last_recv_ns) {
            refuse_order(inputs[f - 1], "which ends at", last_recv_ns, input, r.recv_ns);
          }
          first_in_file = false;
          last_recv_ns = r.recv_ns;
          now_ns = r.recv_ns;
        } else if (r.recv_ns == 0) {
          ++now_ns;
        }
        if (options.paced && r.recv_ns != 0) {
          if (first_recv_ns == 0) {
            first_recv_ns = r.recv_ns;
          }
          std::this_thread::sleep_until(started + std::chrono::nanoseconds(r.recv_ns - first_recv_ns));
        }
        ++messages;
        progress.at(messages);
        if (r.text.size() > max_message_bytes) {
          ++parse_errors;
          continue;
        }
        parse_errors += source->on_record(r, input, loop, r.padded(), clock.now(), sink);
        flush();
      }
    }
    if (loop + 1 < options.loops) {
      // The next loop starts from a clean slate, like a reconnect: every book resyncs.
      source->restart(clock.now(), sink);
      flush();
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress.done(messages);
  metrics.on_equity(now_ns + kBacktestInterval, trader.portfolio().equity()); // closes the last interval
  if (equity_csv != nullptr) {
    std::fclose(equity_csv);
  }

  ipc::JsonWriter o;
  o.begin_object().key("venue").str(venue).key("messages").u64(messages).key("parse_errors").u64(parse_errors);
  o.key("events").u64(events).key("elapsed_s").num(elapsed);
  o.key("messages_per_s").num(elapsed > 0 ? static_cast<double>(messages) / elapsed : 0.0);
  o.key("latency_ns").begin_object();
  for (std::size_t i = 0; i < ipc::kStageCount; ++i) {
    ipc::HistogramSnapshot h;
    state.latency->stages[i].snapshot(h);
    o.key(ipc::to_string(static_cast<ipc::Stage>(i))).begin_object().key("count").u64(h.count);
    for (const auto& rq : ipc::kReportQuantiles) {
      o.key(rq.name).u64(ipc::report_value(h, rq));
    }
    o.end_object();
  }
  o.end_object().key("allocations_in_loop").u64(allocations_in_loop);
  o.key("allocations_counted").u64(alloc::thread_allocations()).key("instruments").begin_array();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const core::OrderBook& book = engine.book(i);
    core::Level bid{};
    core::Level ask{};
    const bool has_bid = book.best(core::Side::bid, bid);
    const bool has_ask = book.best(core::Side::ask, ask);
    ipc::HealthRecord health{};
    (void)state.records[i].health.try_load(health);
    const VenueCounters counts = source->counters(static_cast<core::InstrumentId>(i));
    const std::uint64_t gaps = counts.gaps;
    const std::uint64_t resyncs = counts.resyncs;
    const int pd = specs[i].price_decimals;
    o.begin_object().key("venue").str(specs[i].venue).key("symbol").str(specs[i].symbol);
    o.key("health").str(ipc::to_string(engine.health(i))).key("book_updates").u64(book_messages[i]);
    o.key("gaps").u64(gaps).key("resyncs").u64(resyncs).key("crossed").u64(engine.crossed_count(i));
    o.key("trades").u64(health.trades);
    if (counts.has_sequence) {
      o.key("sequence_gaps").u64(counts.sequence_gaps);
    }
    if (counts.has_checksums) {
      o.key("checksums_verified").u64(counts.checksums_verified);
      o.key("checksum_mismatches").u64(counts.checksum_mismatches);
    }
    const int qd = specs[i].qty_decimals;
    const auto best = [&](const char* name, const char* qty_name, bool has, const core::Level& level) {
      o.key(name);
      has ? static_cast<void>(o.decimal(level.price, pd)) : static_cast<void>(o.null());
      o.key(qty_name);
      has ? static_cast<void>(o.decimal(level.qty, qd)) : static_cast<void>(o.null());
    };
    best("best_bid", "best_bid_qty", has_bid, bid);
    best("best_ask", "best_ask_qty", has_ask, ask);
    o.key("bid_levels").u64(book.depth(core::Side::bid)).key("ask_levels").u64(book.depth(core::Side::ask));
    o.key("signal").num(engine.signal(i).signal).key("confidence").num(engine.signal(i).confidence);
    o.key("regime").begin_array();
    const auto& p = engine.regime(i);
    for (int k = 0; k < core::kRegimes; ++k) {
      o.num(p(k));
    }
    o.end_array().end_object();
  }
  o.end_array();
  const core::BacktestResult b = metrics.result();
  const core::Portfolio& pf = trader.portfolio();
  const core::KillSwitch& ks = trader.kill_switch();
  o.key("backtest").begin_object().key("interval_s").num(static_cast<double>(b.interval_ns) / 1e9);
  o.key("intervals").u64(b.intervals).key("sample_period_s").num(b.sample_period_s);
  o.key("annualized").boolean(b.annualized).key("min_annualize_s").num(criteria.min_annualize_s);
  o.key("annualization").str(b.annualized ? "365 days x 24 h" : "none: per interval");
  o.key("initial_capital").num(pf.initial_capital()).key("final_equity").num(pf.equity());
  o.key("trades").u64(b.trades).key("closing_trades").u64(b.closing_trades);
  o.key("turnover").num(b.turnover).key("fees").num(b.fees).key("realized").num(pf.realized());
  o.key("unrealized").num(pf.unrealized()).key("total_return").num(b.total_return);
  o.key(b.annualized ? "sharpe" : "sharpe_per_interval").num(b.sharpe);
  o.key(b.annualized ? "sortino" : "sortino_per_interval").num(b.sortino);
  o.key("sharpe_ci95").begin_array().num(b.sharpe_ci_lo).num(b.sharpe_ci_hi).end_array();
  o.key("max_drawdown").num(b.max_drawdown).key("max_drawdown_ci95").begin_array().num(b.drawdown_ci_lo);
  o.num(b.drawdown_ci_hi).end_array().key("bootstrap").begin_object().key("block").u64(b.bootstrap_block);
  o.key("resamples").u64(core::kBootstrapResamples).key("seed").u64(core::kBootstrapSeed).end_object();
  o.key("drawdown_start_unix_ns").u64(b.drawdown_start_ns).key("drawdown_trough_unix_ns").u64(b.drawdown_trough_ns);
  o.key("drawdown_recovery_unix_ns").u64(b.drawdown_recovery_ns).key("exposure_s").num(b.exposure_s);
  o.key("round_trips").u64(b.round_trips).key("round_trip_definition").str("open to flat per instrument");
  o.key("round_trip_pnl").num(b.round_trip_pnl).key("win_rate").num(b.win_rate);
  o.key("avg_win").num(b.avg_win).key("avg_loss").num(b.avg_loss).key("expectancy").num(b.expectancy);
  o.key("profit_factor").num(b.profit_factor).key("orders").u64(trader.orders()).key("refusals").begin_object();
  for (std::size_t k = 1; k < core::kRefusalCount; ++k) {
    o.key(core::to_string(static_cast<core::Refusal>(k))).u64(trader.refusals(static_cast<core::Refusal>(k)));
  }
  o.end_object().key("kill_switch").begin_object().key("mode").str(core::to_string(ks.mode()));
  o.key("cause").str(core::to_string(ks.cause())).key("since_unix_ns").u64(ks.since_ns()).end_object();
  o.key("pnl_identity_max_error").num(identity_max_error);
  o.key("criteria").begin_object().key("min_trades").u64(criteria.min_trades);
  o.key("min_win_rate").num(criteria.min_win_rate).key("max_drawdown").num(criteria.max_drawdown).end_object();
  o.key("verdict").str(b.go ? "go" : "no-go").end_object().end_object();
  result.summary_json = o.take();
  result.summary_json += '\n';
  result.instruments = specs;
  result.venue = venue;
  result.inputs = inputs;
  return result;
}

} // namespace qf::engine
