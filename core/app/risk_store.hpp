#pragma once
// The risk store: the paper portfolio, the kill switch and the risk limits in force
// (core::RiskSnapshot) in a small binary file, so a restart never silently resets a tripped kill
// switch, a position or a limit changed by command. Written
// by the live core loop's housekeeping at most once a second and at shutdown (never per event):
// write a temporary file, then rename it over the old one, so a crash at any moment leaves
// either the previous or the new state. No fsync: the rename protects against a process crash
// (SIGKILL), which is what this is for; a power loss may lose the last second.
#include <optional>
#include <string>

#include "qf/core/paper.hpp"

namespace qf::engine {

// The file is proven, not trusted: a checksum over the snapshot and range checks on every value
// (finite, money within +-1e12, kill mode and cause known, each limit within the config loader's
// range) refuse a changed or damaged file with a message naming the file and the field. Version 3
// carries the limits; a version 2 file (no limits) is still read, its limits the config's. The
// persisted limits win over a config changed since (HACKING.md Decisions). The first load or save takes an exclusive flock on
// `<path>.lock`, held for the process's life: a second engine on the same file refuses to start.

// --discard-risk-state: the next load renames the file to `<path>.discarded` and starts flat.
void discard_risk_state(bool discard) noexcept;
// Throws std::runtime_error when the file cannot be written.
void save_risk_state(const std::string& path, const core::RiskSnapshot& s);
// nullopt when there is no file (or it is discarded); throws std::runtime_error for a file that
// is not a risk store of version 2 or 3, fails its checksum or a range check, was written for a
// different number of instruments, or is locked by another engine.
[[nodiscard]] std::optional<core::RiskSnapshot> load_risk_state(const std::string& path, std::uint32_t instruments);

} // namespace qf::engine
