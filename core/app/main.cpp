// qf-engine: the QuantFlow engine.
//   qf-engine replay --input CAPTURE [--input CAPTURE ...] [--venue binance-spot|binance-usdm|coinbase|kraken|okx|bybit-spot|bybit-linear|coinbase-advanced]
//                    [--config FILE] [--tap FILE] [--speed max|1] [--loops N] [--equity-csv FILE] [--progress]
//                    [--store URL]   (records the run in PostgreSQL at the end: run_store.hpp)
//                    (CAPTURE: a file, a directory or a glob; several are one stream, in time order)
//   qf-engine features --input CAPTURE... --out FILE.csv [--venue V] [--config FILE] [--horizon-bars N]
//                      [--profit-take X] [--stop-loss X]   the training dataset (features.hpp)
//   qf-engine check-host [--cpu N] [--tuned]
//   qf-engine --config FILE [--instance NAME] [--tuned]   the live engine, until SIGINT / SIGTERM
// --tuned: the tuned profile of a two-core host: the hot thread on CPU 1 with SCHED_FIFO
// (kTunedPriority), over the config's core_cpu / realtime_priority; check-host --tuned tries it
// on a throwaway thread and says what it could and could not do.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "features.hpp"
#include "host.hpp"
#include "live.hpp"
#include "replay.hpp"
#include "run_store.hpp"
#include "risk_store.hpp"

namespace {

constexpr int kTunedCpu = 1;
constexpr int kTunedPriority = 50;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int usage(const std::string& why) {
  std::fprintf(stderr,
               "qf-engine: %s\n"
               "usage: qf-engine --config FILE [--instance NAME] [--tuned] [--discard-risk-state]\n"
               "       qf-engine replay --input CAPTURE [--input CAPTURE ...] [--venue binance-spot|binance-usdm|coinbase|kraken|okx|bybit-spot|bybit-linear|coinbase-advanced]\n"
               "                        [--config FILE] [--tap FILE] [--speed max|1] [--loops N] [--equity-csv FILE]\n"
               "                        [--progress]   (\"progress DONE TOTAL\" lines on stderr; a terminal gets a bar)\n"
               "                        [--store URL]  (the run, its fills and equity into PostgreSQL when it ends)\n"
               "                        CAPTURE: a file (plain or gzip), a directory (its *.capture and *.capture.gz\n"
               "                        files by name) or a quoted glob; several are replayed in order as one stream\n"
               "       qf-engine features --input CAPTURE... --out FILE.csv [--venue V] [--config FILE]\n"
               "                          [--horizon-bars N] [--profit-take X] [--stop-loss X]\n"
               "       qf-engine check-host [--cpu N] [--tuned]\n",
               why.c_str());
  return 2;
}

int replay(int argc, char** argv) {
  qf::engine::ReplayOptions o;
  std::string store_url, config_path;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--input" && has_value) {
      o.inputs.emplace_back(argv[++i]);
    } else if (a == "--venue" && has_value) {
      o.venue = argv[++i];
    } else if (a == "--config" && has_value) {
      config_path = argv[++i];
      o.config = qf::config::load_config(config_path);
    } else if (a == "--tap" && has_value) {
      o.tap = argv[++i];
    } else if (a == "--equity-csv" && has_value) {
      o.equity_csv = argv[++i];
    } else if (a == "--store" && has_value) {
      store_url = argv[++i];
      o.record_run = true;
    } else if (a == "--progress") {
      o.progress_lines = true;
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
  if (o.inputs.empty()) {
    return usage("replay needs --input CAPTURE");
  }
  qf::engine::RunTimes times;
  times.started_unix_ns = wall_ns();
  const qf::engine::ReplayResult r = qf::engine::run_replay(o);
  times.ended_unix_ns = wall_ns();
  std::fwrite(r.summary_json.data(), 1, r.summary_json.size(), stdout);
  if (store_url.empty()) {
    return r.exit_code;
  }
  std::fflush(stdout);
  try {
    const std::string id = qf::engine::store_run(
        store_url, r, config_path.empty() ? std::string() : qf::config::redacted_json(config_path), times);
    std::fprintf(stderr, "qf-engine: run %s stored (%zu fills, %zu equity rows)\n", id.c_str(), r.fills.size(),
                 r.equity.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf-engine: --store: run not stored: %s\n", e.what());
    return r.exit_code != 0 ? r.exit_code : 1;
  }
  return r.exit_code;
}

int features(int argc, char** argv) {
  qf::engine::FeaturesOptions o;
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      const bool has_value = i + 1 < argc;
      if (a == "--input" && has_value) {
        while (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) {
          o.inputs.emplace_back(argv[++i]);
        }
      } else if (a == "--out" && has_value) {
        o.out = argv[++i];
      } else if (a == "--venue" && has_value) {
        o.venue = argv[++i];
      } else if (a == "--config" && has_value) {
        o.config = qf::config::load_config(argv[++i]);
      } else if (a == "--horizon-bars" && has_value) {
        o.horizon_bars = std::stoi(argv[++i]);
      } else if (a == "--profit-take" && has_value) {
        o.profit_take = std::stod(argv[++i]);
      } else if (a == "--stop-loss" && has_value) {
        o.stop_loss = std::stod(argv[++i]);
      } else {
        return usage("unknown features argument " + a);
      }
    }
  } catch (const std::logic_error&) { // stoi / stod
    return usage("features: a numeric option got a value that is not a number");
  }
  if (o.inputs.empty() || o.out.empty()) {
    return usage("features needs --input CAPTURE... and --out FILE.csv");
  }
  const qf::engine::FeaturesSummary s = qf::engine::run_features(o);
  std::printf("{\"out\":\"%s\",\"rows_1s\":%zu,\"rows_1m\":%zu,\"labelled\":%zu}\n", o.out.c_str(), s.rows_1s,
              s.rows_1m, s.labelled);
  return 0;
}

int live(int argc, char** argv) {
  std::string config_path;
  qf::engine::LiveOptions o;
  bool tuned = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--instance" && i + 1 < argc) {
      o.instance = argv[++i];
    } else if (a == "--discard-risk-state") {
      qf::engine::discard_risk_state(true); // start flat: the saved risk state is set aside
    } else if (a == "--tuned") {
      tuned = true;
    } else {
      return usage("unknown argument " + a);
    }
  }
  o.config = qf::config::load_config(config_path);
  if (o.config.instruments.empty()) {
    throw std::runtime_error(config_path + ": the config names no instrument ([[instruments]])");
  }
  if (tuned) {
    o.config.engine.core_cpu = kTunedCpu;
    o.config.engine.realtime_priority = kTunedPriority;
  }
  return qf::engine::run_live(o);
}

int check_host(int argc, char** argv) {
  int cpu = -1;
  bool tuned = false;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
      cpu = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--tuned") == 0) {
      tuned = true;
      cpu = kTunedCpu;
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
  if (tuned) { // try the tuned profile on a throwaway thread: what could and could not be done
    std::vector<std::string> refused;
    std::thread([&refused] {
      qf::engine::TuningRequest t;
      t.cpu = kTunedCpu;
      t.realtime_priority = kTunedPriority;
      refused = qf::engine::apply_tuning(t);
    }).join();
    std::printf("tuned profile (hot thread on CPU %d, SCHED_FIFO %d): %s\n", kTunedCpu, kTunedPriority,
                refused.empty() ? "both can be applied here" : "refused in part:");
    for (const std::string& w : refused) {
      std::printf("  could not: %s\n", w.c_str());
    }
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "replay") == 0) {
      return replay(argc, argv);
    }
    if (argc >= 2 && std::strcmp(argv[1], "features") == 0) {
      return features(argc, argv);
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
