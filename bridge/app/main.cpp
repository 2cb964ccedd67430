// qf-bridge: the engine's state and tick journal to NATS (see bridge/README.md).
//   qf-bridge --config FILE [--instance NAME] [--nats-url URL]
// Runs until SIGINT/SIGTERM; prints its counters as one JSON line on exit.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "bridge.hpp"
#include "qf/config/config.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int /*sig*/) { g_stop.store(true); }

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "qf-bridge: %s\nusage: qf-bridge --config FILE [--instance NAME] [--nats-url URL]\n", why);
  std::exit(2);
}
} // namespace

int main(int argc, char** argv) {
  std::string config_path, instance, url;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage((a + " needs a value").c_str());
      }
      return argv[++i];
    };
    if (a == "--config") {
      config_path = value();
    } else if (a == "--instance") {
      instance = value();
    } else if (a == "--nats-url") {
      url = value();
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  if (config_path.empty()) {
    usage("--config is required");
  }
  qf::config::Config config;
  try {
    config = qf::config::load_config(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf-bridge: %s\n", e.what());
    return 2;
  }
  if (!url.empty()) {
    config.bridge.nats_url = url;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  qf::bridge::Bridge bridge(config, instance.empty() ? config.engine.instance : instance);
  const int rc = bridge.run(g_stop);
  std::printf("%s\n", bridge.stats_json().c_str());
  std::fflush(stdout);
  return rc;
}
