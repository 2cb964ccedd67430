#pragma once
// The risk store: the paper portfolio and the kill switch (core::RiskSnapshot) in a small
// binary file, so a restart never silently resets a tripped kill switch or a position. Written
// by the live core loop's housekeeping at most once a second and at shutdown (never per event):
// write a temporary file, then rename it over the old one, so a crash at any moment leaves
// either the previous or the new state. No fsync: the rename protects against a process crash
// (SIGKILL), which is what this is for; a power loss may lose the last second.
#include <optional>
#include <string>

#include "qf/core/paper.hpp"

namespace qf::engine {

// Throws std::runtime_error when the file cannot be written.
void save_risk_state(const std::string& path, const core::RiskSnapshot& s);
// nullopt when there is no file; throws std::runtime_error for a file that is not a risk store
// of this version or was written for a different number of instruments.
[[nodiscard]] std::optional<core::RiskSnapshot> load_risk_state(const std::string& path, std::uint32_t instruments);

} // namespace qf::engine
