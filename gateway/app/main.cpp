// qf-gateway --config FILE [--instance NAME] [--port N] [--control-timeout-ms N]
// Serves the engine's state (read-only shared memory) over HTTP, WebSocket and Prometheus, the
// dashboard, and admin-protected controls through the control queue. See gateway/src/server.hpp.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "qf/config/config.hpp"
#include "server.hpp"

namespace {
void usage() {
  std::fprintf(stderr,
               "usage: qf-gateway --config FILE [--instance NAME] [--port N (0: ephemeral)] [--control-timeout-ms N]\n"
               "                  [--auth-failures-per-min N] [--store-url URL (history; default [store] url)]\n");
}
} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string config_path, instance;
  int port = -1;
  int control_timeout_ms = 2000;
  int auth_failures_per_min = 30;
  std::string store_url;
  bool store_url_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--config" && has_value) {
      config_path = argv[++i];
    } else if (a == "--instance" && has_value) {
      instance = argv[++i];
    } else if (a == "--port" && has_value) {
      char* end = nullptr;
      const long p = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || p < 0 || p > 65535) {
        std::fprintf(stderr, "qf-gateway: --port: expected 0..65535\n");
        return 2;
      }
      port = static_cast<int>(p);
    } else if (a == "--control-timeout-ms" && has_value) {
      control_timeout_ms = std::atoi(argv[++i]);
      if (control_timeout_ms <= 0) {
        std::fprintf(stderr, "qf-gateway: --control-timeout-ms: expected a positive integer\n");
        return 2;
      }
    } else if (a == "--auth-failures-per-min" && has_value) {
      auth_failures_per_min = std::atoi(argv[++i]);
      if (auth_failures_per_min <= 0) {
        std::fprintf(stderr, "qf-gateway: --auth-failures-per-min: expected a positive integer\n");
        return 2;
      }
    } else if (a == "--store-url" && has_value) {
      store_url = argv[++i];
      store_url_given = true;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (config_path.empty()) {
    usage();
    return 2;
  }
  try {
    const qf::config::Config cfg = qf::config::load_config(config_path);
    qf::gateway::ServerOptions o;
    o.gateway = cfg.gateway;
    o.instance = instance.empty() ? cfg.engine.instance : instance;
    o.config_path = config_path;
    if (port >= 0) {
      o.gateway.port = port;
    }
    if (o.gateway.web_root.empty()) {
      o.gateway.web_root = QF_GATEWAY_WEB_ROOT;
    }
    o.vendor_root = QF_GATEWAY_VENDOR_ROOT;
    o.control_timeout_ms = control_timeout_ms;
    o.auth_failures_per_min = auth_failures_per_min;
    o.store_url = store_url_given ? store_url : (cfg.store.enabled ? cfg.store.url : std::string());
    return qf::gateway::run_server(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf-gateway: %s\n", e.what());
    return 1;
  }
}
