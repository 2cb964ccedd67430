#pragma once
// Writer: the one thread that talks to PostgreSQL (libpq). On each (re)connection it applies the
// pending migrations (store/migrations/*.sql in name order, each in its own transaction, recorded
// in schema_migrations; a failing one is fatal: fatal_error() names the file and the server's
// message) and creates the day partitions ahead. Then it drains the RowQueue in batches: per
// table, COPY into a temporary staging table and INSERT ... SELECT ... ON CONFLICT DO NOTHING,
// all in one transaction, so a re-sent row is ignored and counted as a duplicate. When the
// server is away the batch is kept and retried with exponential backoff while the queue holds
// (and beyond its bound drops, counted) what arrives meanwhile. A batch the server refuses
// for its content (SQLSTATE class 22 or 23, not a shutdown or the connection) is dropped and
// counted as rejected.

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "qf/ipc/json_writer.hpp"
#include "qf/store/row_queue.hpp"

struct pg_conn;

namespace qf::store {

struct WriterOptions {
  std::string url;            // libpq connection string or URL
  std::string migrations_dir; // store/migrations
  std::size_t batch_rows = 5000;
  int flush_ms = 200;
  int retry_min_ms = 50;
  int retry_max_ms = 5000;
  int retention_days = 90; // 0: keep
  int partitions_ahead_days = 3;
};

class MigrationError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Connects to `url` and applies the pending migrations of `dir`; returns how many it applied.
// Throws MigrationError (a migration failed) or std::runtime_error (no connection).
int migrate(const std::string& url, const std::string& dir);

class Writer {
public:
  Writer(WriterOptions options, RowQueue& queue);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void start();
  // Stops after writing what the queue holds, or at once while the server is away; joins.
  void stop();

  // Non-empty once a migration failed: the store must stop.
  [[nodiscard]] std::string fatal_error() const;
  void status(ipc::JsonWriter& out) const;

private:
  void run();
  bool connect();
  void disconnect();
  bool write(const std::vector<Row>& batch);
  bool ensure_partition(Table t, std::int64_t day);
  void maintain();
  void fail(const std::string& what);

  WriterOptions options_;
  RowQueue& queue_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  pg_conn* conn_ = nullptr;
  std::set<std::pair<Table, std::int64_t>> partitions_; // created on this connection
  std::uint64_t next_maintenance_mono_ns_ = 0;
  std::string copy_buf_;

  mutable std::mutex mutex_; // guards the strings below
  std::string fatal_, last_error_;
  std::atomic<bool> connected_{false};
  std::array<std::atomic<std::uint64_t>, kTableCount> written_{}, duplicates_{}, rejected_{}, unwritten_{};
  std::atomic<std::uint64_t> batches_{0}, write_errors_{0}, connect_failures_{0}, connections_{0};
  std::atomic<std::uint64_t> migrations_applied_{0}, partitions_dropped_{0}, pending_rows_{0};
};

} // namespace qf::store
