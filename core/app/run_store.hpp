#pragma once
// qf-engine replay --store URL: records a finished replay as a backtest run in PostgreSQL
// (store/migrations/002_runs.sql): the run row (captures, venue, the config as JSON, the JSON
// summary), its fills and its equity series, in one transaction. The migrations are applied
// first (store/migrations of the source tree) through qf-store's own migrate() (qf::store's writer code, without its process parts).

#include <cstdint>
#include <string>

#include "replay.hpp"

namespace qf::engine {

struct RunTimes {
  std::int64_t started_unix_ns = 0, ended_unix_ns = 0; // wall clock of the replay
};

// Returns the new run id. Throws std::runtime_error naming what failed (the connection, a
// migration, the insert); nothing is stored then.
[[nodiscard]] std::string store_run(const std::string& url, const ReplayResult& result, const std::string& config_json,
                                    const RunTimes& times);

} // namespace qf::engine
