#include "qf/store/writer.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qf/ipc/tsc_clock.hpp"

namespace qf::store {
namespace {

std::string one_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') {
    s.pop_back();
  }
  return s;
}

// The SQLSTATE of a failed result ("" when the failure is the connection's).
std::string sqlstate(const PGresult* r) {
  const char* s = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s != nullptr ? s : "";
}

// Runs a command; on failure fills `error` (and `state`, the SQLSTATE) and returns false.
bool exec(PGconn* c, const std::string& sql, std::string& error, std::string* cmd_tuples = nullptr,
          std::string* state = nullptr) {
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) {
    error = one_line(PQerrorMessage(c));
    if (state != nullptr) {
      *state = sqlstate(r);
    }
  } else if (cmd_tuples != nullptr) {
    *cmd_tuples = PQcmdTuples(r);
  }
  PQclear(r);
  return ok;
}

std::string day_text(std::int64_t day) {
  const auto secs = static_cast<std::time_t>(day * 86'400);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// Applies the pending migrations on an open connection. A lost connection is a runtime_error
// (the caller retries), a failing migration a MigrationError.
int apply_migrations(PGconn* c, const std::string& dir) {
  std::string error;
  (void)exec(c, "SET client_min_messages = warning", error); // no NOTICE for IF NOT EXISTS on stderr
  const auto lost = [&] {
    if (PQstatus(c) != CONNECTION_OK) {
      throw std::runtime_error("connection lost while migrating: " + error);
    }
  };
  // One migrator at a time, whatever number of stores start together.
  if (!exec(c, "SELECT pg_advisory_lock(7401402)", error) ||
      !exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
               "applied_at timestamptz NOT NULL DEFAULT now())",
            error)) {
    lost();
    throw MigrationError("schema_migrations: " + error);
  }
  std::set<std::string> done;
  PGresult* r = PQexec(c, "SELECT version FROM schema_migrations");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    error = one_line(PQerrorMessage(c));
    PQclear(r);
    lost();
    throw MigrationError("schema_migrations: " + error);
  }
  for (int i = 0; i < PQntuples(r); ++i) {
    done.insert(PQgetvalue(r, i, 0));
  }
  PQclear(r);
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".sql") {
      files.push_back(e.path());
    }
  }
  if (ec || files.empty()) {
    throw MigrationError(dir + ": no migrations (*.sql) there");
  }
  std::sort(files.begin(), files.end());
  int applied = 0;
  for (const auto& f : files) {
    const std::string version = f.stem().string();
    if (done.count(version) != 0) {
      continue;
    }
    std::ifstream in(f);
    std::stringstream sql;
    sql << in.rdbuf();
    if (!in) {
      throw MigrationError(f.string() + ": cannot read");
    }
    const std::string record = fmt::format("INSERT INTO schema_migrations (version) VALUES ('{}')", version);
    if (!exec(c, "BEGIN", error) || !exec(c, sql.str(), error) || !exec(c, record, error) ||
        !exec(c, "COMMIT", error)) {
      std::string ignored;
      (void)exec(c, "ROLLBACK", ignored);
      lost();
      throw MigrationError(f.string() + ": " + error);
    }
    ++applied;
  }
  (void)exec(c, "SELECT pg_advisory_unlock(7401402)", error);
  return applied;
}

} // namespace

int migrate(const std::string& url, const std::string& dir) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string why = one_line(PQerrorMessage(c));
    PQfinish(c);
    throw std::runtime_error("cannot connect: " + why);
  }
  try {
    const int n = apply_migrations(c, dir);
    PQfinish(c);
    return n;
  } catch (...) {
    PQfinish(c);
    throw;
  }
}

Writer::Writer(WriterOptions options, RowQueue& queue) : options_(std::move(options)), queue_(queue) {}

Writer::~Writer() {
  stop();
  disconnect();
}

void Writer::start() { thread_ = std::thread([this] { run(); }); }

void Writer::stop() {
  stopping_.store(true);
  queue_.close();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::string Writer::fatal_error() const {
  std::lock_guard lock(mutex_);
  return fatal_;
}

void Writer::fail(const std::string& what) {
  std::lock_guard lock(mutex_);
  last_error_ = what;
}

void Writer::disconnect() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  connected_.store(false);
  partitions_.clear();
}

bool Writer::connect() {
  conn_ = PQconnectdb(options_.url.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    fail("connect: " + one_line(PQerrorMessage(conn_)));
    disconnect();
    return false;
  }
  try {
    migrations_applied_.fetch_add(static_cast<std::uint64_t>(apply_migrations(conn_, options_.migrations_dir)));
  } catch (const MigrationError& e) {
    std::lock_guard lock(mutex_);
    fatal_ = std::string("migration failed: ") + e.what();
    return false;
  } catch (const std::exception& e) {
    fail(e.what());
    disconnect();
    return false;
  }
  std::string error;
  for (std::size_t t = 0; t < kTableCount; ++t) {
    const std::string sql = fmt::format("CREATE TEMP TABLE IF NOT EXISTS s_{0} (LIKE {0} INCLUDING DEFAULTS) "
                                        "ON COMMIT DELETE ROWS",
                                        kTableNames[t]);
    if (!exec(conn_, sql, error)) {
      fail("staging: " + error);
      disconnect();
      return false;
    }
  }
  connected_.store(true);
  connections_.fetch_add(1);
  next_maintenance_mono_ns_ = 0;
  maintain();
  return connected_.load();
}

bool Writer::ensure_partition(Table t, std::int64_t day) {
  if (!partitioned(t) || partitions_.count({t, day}) != 0) {
    return true;
  }
  std::string error;
  if (!exec(conn_, fmt::format("SELECT qf_ensure_partition('{}', '{}')", to_string(t), day_text(day)), error)) {
    fail("partition: " + error);
    return false;
  }
  partitions_.insert({t, day});
  return true;
}

// Partitions ahead of today, and retention; hourly.
void Writer::maintain() {
  const std::uint64_t now = ipc::monotonic_ns();
  if (now < next_maintenance_mono_ns_) {
    return;
  }
  next_maintenance_mono_ns_ = now + 3'600'000'000'000ULL;
  const auto today = static_cast<std::int64_t>(std::time(nullptr) / 86'400);
  for (std::size_t t = 1; t < kTableCount; ++t) {
    for (int d = 0; d <= options_.partitions_ahead_days; ++d) {
      if (!ensure_partition(static_cast<Table>(t), today + d)) {
        disconnect();
        return;
      }
    }
    if (options_.retention_days > 0) {
      PGresult* r = PQexec(conn_, fmt::format("SELECT qf_drop_partitions('{}', {})", kTableNames[t],
                                              options_.retention_days)
                                      .c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        partitions_dropped_.fetch_add(std::strtoull(PQgetvalue(r, 0, 0), nullptr, 10));
        partitions_.clear(); // a dropped day is created again when a row needs it
      } else {
        fail("retention: " + one_line(PQerrorMessage(conn_)));
      }
      PQclear(r);
    }
  }
}

bool Writer::write(const std::vector<Row>& batch) {
  for (const Row& row : batch) {
    if (!ensure_partition(row.table, row.day)) {
      return false;
    }
  }
  std::array<std::size_t, kTableCount> counts{};
  std::array<std::uint64_t, kTableCount> inserted{};
  for (const Row& row : batch) {
    ++counts[static_cast<std::size_t>(row.table)];
  }
  std::string error, state;
  bool ok = exec(conn_, "BEGIN", error, nullptr, &state);
  for (std::size_t t = 0; ok && t < kTableCount; ++t) {
    if (counts[t] == 0) {
      continue;
    }
    const char* name = kTableNames[t];
    const char* columns = static_cast<Table>(t) == Table::engines ? "(engine_start, generation, instance, mode, pid)" : "";
    PGresult* r = PQexec(conn_, fmt::format("COPY s_{} {} FROM STDIN", name, columns).c_str());
    ok = PQresultStatus(r) == PGRES_COPY_IN;
    state = ok ? "" : sqlstate(r);
    PQclear(r);
    if (!ok) {
      error = one_line(PQerrorMessage(conn_));
      break;
    }
    copy_buf_.clear();
    for (const Row& row : batch) {
      if (static_cast<std::size_t>(row.table) == t) {
        copy_buf_ += row.line;
        copy_buf_ += '\n';
      }
    }
    ok = PQputCopyData(conn_, copy_buf_.data(), static_cast<int>(copy_buf_.size())) == 1 &&
         PQputCopyEnd(conn_, nullptr) == 1;
    while ((r = PQgetResult(conn_)) != nullptr) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && ok) {
        ok = false;
        state = sqlstate(r);
      }
      PQclear(r);
    }
    if (!ok) {
      error = one_line(PQerrorMessage(conn_));
      break;
    }
    std::string tuples;
    ok = exec(conn_, fmt::format("INSERT INTO {0} SELECT * FROM s_{0} ON CONFLICT DO NOTHING", name), error, &tuples,
              &state);
    inserted[t] = std::strtoull(tuples.c_str(), nullptr, 10);
  }
  ok = ok && exec(conn_, "COMMIT", error, nullptr, &state);
  if (!ok) {
    write_errors_.fetch_add(1);
    fail("write: " + error);
    // Only a data exception (SQLSTATE class 22) or a constraint violation (23) is about the rows;
    // anything else (a server shutting down, 57P01, or a lost connection) is retried.
    if (PQstatus(conn_) == CONNECTION_OK && (state.starts_with("22") || state.starts_with("23"))) {
      // The server refused the rows themselves: retrying cannot help. Dropped, counted, logged.
      std::string ignored;
      (void)exec(conn_, "ROLLBACK", ignored);
      std::fprintf(stderr, "qf-store: batch of %zu rows rejected: %s\n", batch.size(), error.c_str());
      for (std::size_t t = 0; t < kTableCount; ++t) {
        rejected_[t].fetch_add(counts[t]);
      }
      return true;
    }
    return false;
  }
  batches_.fetch_add(1);
  for (std::size_t t = 0; t < kTableCount; ++t) {
    written_[t].fetch_add(inserted[t]);
    duplicates_[t].fetch_add(counts[t] - std::min<std::uint64_t>(counts[t], inserted[t]));
  }
  return true;
}

void Writer::run() {
  std::vector<Row> batch;
  int backoff_ms = options_.retry_min_ms;
  while (true) {
    if (!fatal_error().empty()) {
      return;
    }
    if (conn_ == nullptr && !connect()) {
      if (!fatal_error().empty()) {
        return;
      }
      connect_failures_.fetch_add(1);
      if (stopping_.load()) {
        break;
      }
      // Backoff, waking early to stop.
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms);
      while (!stopping_.load() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      backoff_ms = std::min(backoff_ms * 2, options_.retry_max_ms);
      continue;
    }
    if (batch.empty()) {
      if (queue_.pop_batch(batch, options_.batch_rows, std::chrono::milliseconds(options_.flush_ms)) == 0) {
        if (stopping_.load()) {
          break;
        }
        maintain();
        continue;
      }
    }
    pending_rows_.store(batch.size());
    if (write(batch)) {
      batch.clear();
      pending_rows_.store(0);
      backoff_ms = options_.retry_min_ms;
    } else {
      disconnect();
    }
  }
  // Stopped with the server away: what is still held was not written.
  for (const Row& row : batch) {
    unwritten_[static_cast<std::size_t>(row.table)].fetch_add(1);
  }
  batch.clear();
  while (queue_.pop_batch(batch, options_.batch_rows, std::chrono::milliseconds(0)) > 0) {
    for (const Row& row : batch) {
      unwritten_[static_cast<std::size_t>(row.table)].fetch_add(1);
    }
    batch.clear();
  }
  pending_rows_.store(0);
}

void Writer::status(ipc::JsonWriter& out) const {
  out.key("connected").boolean(connected_.load()).key("connections").u64(connections_.load());
  out.key("connect_failures").u64(connect_failures_.load()).key("write_errors").u64(write_errors_.load());
  out.key("batches").u64(batches_.load()).key("pending_rows").u64(pending_rows_.load());
  out.key("migrations_applied").u64(migrations_applied_.load()).key("partitions_dropped").u64(partitions_dropped_.load());
  {
    std::lock_guard lock(mutex_);
    out.key("last_error").str(last_error_).key("fatal").str(fatal_);
  }
  const auto per_table = [&](const char* name, const auto& counters) {
    out.key(name).begin_object();
    for (std::size_t t = 0; t < kTableCount; ++t) {
      out.key(kTableNames[t]).u64(counters[t].load());
    }
    out.end_object();
  };
  per_table("written", written_);
  per_table("duplicates", duplicates_);
  per_table("rejected", rejected_);
  per_table("unwritten", unwritten_);
}

} // namespace qf::store
