#pragma once
// The Prometheus text exposition (format 0.0.4) of /metrics: engine status and identity, feed
// and instrument counters, the latency histograms (bucket bounds kLatencyBoundsNs), paper
// risk and the gateway's own counters. A pure function of the snapshot and the reader's
// clock. Event-loop thread only (it allocates).

#include <cstdint>
#include <string>

#include "qf/ipc/state_reader.hpp"
#include "render_json.hpp"

namespace qf::gateway {

// Prometheus text exposition format 0.0.4.
[[nodiscard]] std::string render_metrics(const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns);

} // namespace qf::gateway
