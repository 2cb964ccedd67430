// qf-engine: the QuantFlow engine.
//   qf-engine replay --input CAPTURE [--venue binance-spot|binance-usdm|coinbase] [--config FILE]
//                    [--tap FILE] [--speed max|1] [--loops N] [--equity-csv FILE]
//   qf-engine check-host [--cpu N]
//   qf-engine --config FILE [--instance NAME]     the live engine, until SIGINT / SIGTERM
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "host.hpp"
#include "live.hpp"
#include "replay.hpp"
#include "risk_store.hpp"

namespace {

int usage(const std::string& why) {
  std::fprintf(stderr,
               "qf-engine: %s\n"
               "usage: qf-engine --config FILE [--instance NAME] [--discard-risk-state]\n"
               "       qf-engine replay --input CAPTURE [--venue binance-spot|binance-usdm|coinbase] [--config FILE]\n"
               "                        [--tap FILE] [--speed max|1] [--loops N] [--equity-csv FILE]\n"
               "       qf-engine check-host [--cpu N]\n",
               why.c_str());
  return 2;
}

int replay(int argc, char** argv) {
  qf::engine::ReplayOptions o;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--input" && has_value) {
      o.input = argv[++i];
    } else if (a == "--venue" && has_value) {
      o.venue = argv[++i];
    } else if (a == "--config" && has_value) {
      o.config = qf::config::load_config(argv[++i]);
    } else if (a == "--tap" && has_value) {
      o.tap = argv[++i];
    } else if (a == "--equity-csv" && has_value) {
      o.equity_csv = argv[++i];
    } else if (a == "--speed" && has_value) {
      const std::string s = argv[++i];
      if (s != "max" && s != "1") {
        return usage("--speed takes max or 1");
      }
      o.paced = s == "1";
    } else if (a == "--loops" && has_value) {
      try {
        o.loops = std::stoull(argv[++i]);
      } catch (const std::exception&) {
        return usage("--loops takes a count");
      }
    } else {
      return usage("unknown replay argument " + a);
    }
  }
  if (o.input.empty()) {
    return usage("replay needs --input CAPTURE");
  }
  const qf::engine::ReplayResult r = qf::engine::run_replay(o);
  std::fwrite(r.summary_json.data(), 1, r.summary_json.size(), stdout);
  return r.exit_code;
}

int live(int argc, char** argv) {
  std::string config_path;
  qf::engine::LiveOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--instance" && i + 1 < argc) {
      o.instance = argv[++i];
    } else if (a == "--discard-risk-state") {
      qf::engine::discard_risk_state(true); // start flat: the saved risk state is set aside
    } else {
      return usage("unknown argument " + a);
    }
  }
  o.config = qf::config::load_config(config_path);
  return qf::engine::run_live(o);
}

int check_host(int argc, char** argv) {
  int cpu = -1;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
      cpu = std::atoi(argv[++i]);
    } else {
      return usage(std::string("unknown check-host argument ") + argv[i]);
    }
  }
  int hurting = 0;
  for (const auto& f : qf::engine::check_host(cpu)) {
    std::printf("%-4s %-26s %s%s%s\n", f.hurts_latency ? "WARN" : "ok", f.what.c_str(), f.found.c_str(),
                f.advice.empty() ? "" : "  -> ", f.advice.c_str());
    hurting += f.hurts_latency ? 1 : 0;
  }
  std::printf("%d finding(s) would hurt latency\n", hurting);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "replay") == 0) {
      return replay(argc, argv);
    }
    if (argc >= 2 && std::strcmp(argv[1], "check-host") == 0) {
      return check_host(argc, argv);
    }
    if (argc >= 2 && std::strcmp(argv[1], "--config") == 0) {
      return live(argc, argv);
    }
    return usage(argc < 2 ? "no command" : std::string("unknown command ") + argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf-engine: %s\n", e.what());
    return 1;
  }
}
