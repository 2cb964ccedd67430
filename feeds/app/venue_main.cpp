// qf-venue: a local exchange speaking a venue's real protocol on 127.0.0.1 (DESIGN.md "Processes").
// Parses the command line, builds the venue and the server, prints the listening line that tests
// parse, and serves until SIGINT/SIGTERM (exit 0).
#include "binance_venue.hpp"
#include "bybit_venue.hpp"
#include "coinbase_advanced_venue.hpp"
#include "coinbase_venue.hpp"
#include "kraken_venue.hpp"
#include "okx_venue.hpp"
#include "tls_cert.hpp"
#include "venue_server.hpp"

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using namespace qf::feeds::venue;

volatile std::sig_atomic_t g_stop = 0;
std::atomic<Server*> g_server{nullptr};

extern "C" void on_signal(int signum) {
  g_stop = signum;
  if (Server* s = g_server.load()) {
    s->wake();
  }
}

constexpr std::string_view kUsage = R"(usage: qf-venue [--venue binance|binance-spot|binance-usdm|coinbase|kraken|okx|bybit-spot|bybit-linear|coinbase-advanced] [--port P]
                [--synthetic [--symbols A,B,..] [--rate N|max] [--seed N]]
                [--replay CAPTURE [--speed 1|N|max] [--loop]]
                [--tls [--cert-dir DIR]] [--ping-interval-ms N] [--pong-timeout-ms N]
                [--drop-after S] [--gap-every N] [--checksum-every N] [--malformed-every N] [--stall-after S --stall-for S]
                [--shutdown-after S] [--snapshot-delay-ms N] [--snapshot-429 N] [--max-frame-bytes N]

A local exchange on 127.0.0.1: the venue's websocket streams and REST depth snapshots from a
synthetic market (default: BTCUSDT,ETHUSDT,SOLUSDT at 200 messages/s) or a recorded capture.
--port 0 picks a free port; the default is 18080 (config/sim.toml). Runtime faults:
POST /venue/fault?kind=drop|gap|checksum|malformed|stall&seconds=S|shutdown|snapshot_delay&ms=N|
snapshot_429[&count=N|&on=0|1]|snapshot_418|clear; counters: GET /venue/stats.
)";

[[noreturn]] void usage_error(std::string_view msg) {
  std::cerr << "qf-venue: " << msg << "\n" << kUsage;
  std::exit(2);
}

std::uint64_t to_u64(std::string_view flag, std::string_view v) {
  std::uint64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size()) {
    std::string msg(flag);
    msg += ": expected an unsigned integer, got '";
    msg += v;
    msg += '\'';
    usage_error(msg);
  }
  return out;
}

double to_seconds(std::string_view flag, std::string_view v) {
  double out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || out < 0) {
    std::string msg(flag);
    msg += ": expected a non-negative number, got '";
    msg += v;
    msg += '\'';
    usage_error(msg);
  }
  return out;
}

std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    const std::size_t comma = v.find(',');
    if (comma != 0) {
      out.emplace_back(v.substr(0, comma));
    }
    if (comma == std::string_view::npos) {
      break;
    }
    v.remove_prefix(comma + 1);
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string venue_name = "binance";
  ServerOptions server_options;
  server_options.port = 18080;
  std::string cert_dir;
  std::string replay;
  std::string speed = "1";
  std::string rate = "200";
  std::vector<std::string> symbols;
  std::uint64_t seed = 1;
  bool loop = false;
  bool synthetic = false;
  std::optional<std::chrono::milliseconds> ping_interval;
  std::optional<std::chrono::milliseconds> pong_timeout;

  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) {
        std::string msg(a);
        msg += " needs a value";
        usage_error(msg);
      }
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--venue") {
      venue_name = value();
    } else if (a == "--port") {
      const std::uint64_t p = to_u64(a, value());
      if (p > 65535) {
        usage_error("--port: at most 65535");
      }
      server_options.port = static_cast<int>(p);
    } else if (a == "--replay") {
      replay = value();
    } else if (a == "--speed") {
      speed = value();
    } else if (a == "--loop") {
      loop = true;
    } else if (a == "--synthetic") {
      synthetic = true;
    } else if (a == "--symbols") {
      symbols = split_list(value());
    } else if (a == "--rate") {
      rate = value();
    } else if (a == "--seed") {
      seed = to_u64(a, value());
    } else if (a == "--tls") {
      server_options.tls = true;
    } else if (a == "--cert-dir") {
      cert_dir = value();
    } else if (a == "--ping-interval-ms") {
      ping_interval = std::chrono::milliseconds(to_u64(a, value()));
    } else if (a == "--pong-timeout-ms") {
      pong_timeout = std::chrono::milliseconds(to_u64(a, value()));
    } else if (a == "--drop-after") {
      server_options.faults.drop_after_s = to_seconds(a, value());
    } else if (a == "--gap-every") {
      server_options.faults.gap_every = to_u64(a, value());
    } else if (a == "--checksum-every") {
      server_options.faults.checksum_every = to_u64(a, value());
    } else if (a == "--malformed-every") {
      server_options.faults.malformed_every = to_u64(a, value());
    } else if (a == "--stall-after") {
      server_options.faults.stall_after_s = to_seconds(a, value());
    } else if (a == "--stall-for") {
      server_options.faults.stall_for_s = to_seconds(a, value());
    } else if (a == "--shutdown-after") {
      server_options.faults.shutdown_after_s = to_seconds(a, value());
    } else if (a == "--snapshot-delay-ms") {
      server_options.faults.snapshot_delay_ms = to_u64(a, value());
    } else if (a == "--snapshot-429") {
      server_options.faults.snapshot_429 = to_u64(a, value());
    } else if (a == "--max-frame-bytes") {
      server_options.max_frame_bytes = to_u64(a, value());
    } else {
      std::string msg = "unknown argument '";
      msg += a;
      msg += '\'';
      usage_error(msg);
    }
  }
  if (synthetic && !replay.empty()) {
    usage_error("--synthetic and --replay exclude each other");
  }
  if ((server_options.faults.stall_after_s > 0) != (server_options.faults.stall_for_s > 0)) {
    usage_error("--stall-after and --stall-for go together");
  }
  const double speed_value = speed == "max" ? 0.0 : to_seconds("--speed", speed);
  const double rate_value = rate == "max" ? 0.0 : to_seconds("--rate", rate);
  if ((speed != "max" && speed_value <= 0) || (rate != "max" && rate_value <= 0)) {
    usage_error("--speed and --rate must be positive or 'max'");
  }

  try {
    const auto market = [&](MarketOptions& o) {
      o.replay_path = replay;
      o.speed = speed_value;
      o.loop = loop;
      if (!symbols.empty()) {
        o.symbols = symbols;
      }
      o.rate = rate_value;
      o.seed = seed;
    };
    std::unique_ptr<Venue> venue;
    if (venue_name == "binance" || venue_name == "binance-spot" || venue_name == "binance-usdm") {
      BinanceOptions o;
      market(o);
      o.usdm = venue_name == "binance-usdm";
      o.ping_interval = ping_interval;
      o.pong_timeout = pong_timeout;
      venue = make_binance_venue(o);
    } else if (venue_name == "coinbase") {
      CoinbaseOptions o;
      market(o);
      venue = make_coinbase_venue(o);
    } else if (venue_name == "kraken") {
      KrakenOptions o;
      market(o);
      venue = make_kraken_venue(o);
    } else if (venue_name == "okx") {
      OkxOptions o;
      market(o);
      venue = make_okx_venue(o);
    } else if (venue_name == "bybit-spot" || venue_name == "bybit-linear") {
      BybitOptions o;
      market(o);
      o.linear = venue_name == "bybit-linear";
      venue = make_bybit_venue(o);
    } else if (venue_name == "coinbase-advanced") {
      CoinbaseAdvancedOptions o;
      market(o);
      venue = make_coinbase_advanced_venue(o);
    } else {
      std::string msg = "--venue: unknown venue '";
      msg += venue_name;
      msg += '\'';
      usage_error(msg);
    }

    if (server_options.tls) {
      if (cert_dir.empty()) {
        // mkdtemp replaces the trailing XXXXXX with a unique suffix and creates the directory.
        std::string dir = (std::filesystem::temp_directory_path() / "qf-venue-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) {
          throw std::runtime_error("cannot create a temporary certificate directory");
        }
        cert_dir = dir;
      }
      const CertFiles files = make_self_signed(cert_dir);
      server_options.cert_path = files.cert_path;
      server_options.key_path = files.key_path;
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    Server server(*venue, server_options);
    g_server.store(&server);
    const std::string port = std::to_string(server.port());
    const char* ws = server_options.tls ? "wss" : "ws";
    const char* http = server_options.tls ? "https" : "http";
    std::printf("qf-venue: listening %s://127.0.0.1:%s %s://127.0.0.1:%s venue=%s\n", ws, port.c_str(), http, port.c_str(),
                std::string(venue->name()).c_str());
    std::printf("ws_url = \"%s://127.0.0.1:%s\"\nrest_url = \"%s://127.0.0.1:%s\"\n", ws, port.c_str(), http, port.c_str());
    if (server_options.tls) {
      std::printf("ca_file = \"%s\"\n", server_options.cert_path.c_str());
    }
    std::fflush(stdout);
    server.run(g_stop);
    g_server.store(nullptr);
    if (g_stop != 0) { // says who ended it: a test that sees an early exit 0 can tell
      std::fprintf(stderr, "qf-venue: signal %d, exiting\n", static_cast<int>(g_stop));
    }
  } catch (const std::exception& e) {
    std::cerr << "qf-venue: error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
