#pragma once
// qf-engine --config FILE [--instance NAME]: the live engine. Feed threads (libwebsockets,
// parsing, book synchronisation) push events into one SPSC ring each; the core thread (this
// process's main thread, pinned and tuned from the config) drains them into the Engine, which
// publishes into /qf.<instance>.state; commands arrive through /qf.<instance>.control and are
// acknowledged in the state. Runs until SIGINT or SIGTERM, then closes the feeds and marks both
// segments stopped.

#include <string>

#include "qf/config/config.hpp"
#include "qf/core/backtest_metrics.hpp"
#include "qf/core/engine.hpp"

namespace qf::engine {

struct LiveOptions {
  config::Config config;
  std::string instance; // overrides config.engine.instance when non-empty
};

// Returns the process exit code (0 after a clean stop). Throws on start-up errors (a segment
// owned by a live engine, a venue URL that does not parse, ...).
int run_live(const LiveOptions& options);

// The core's parameters from the config's [book] and [features] sections.
[[nodiscard]] core::CoreConfig core_config_from(const config::Config& config);
// The config's [[composite]] entries over the engine's instrument ids (config order).
[[nodiscard]] std::vector<core::CompositeSpec> composite_specs(const config::Config& config);
// [backtest] of the config: the go/no-go criteria of a replay.
[[nodiscard]] core::BacktestCriteria backtest_criteria_from(const config::Config& config);

} // namespace qf::engine
