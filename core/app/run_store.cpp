#include "run_store.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "qf/store/writer.hpp"

namespace qf::engine {
namespace {

// qf-store's Writer is a queue-fed thread over its live tables; a run is one transaction of
// three tables, so this is a small libpq writer of its own (the migrations are the store's).
using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

std::string error_of(PGconn* c) {
  std::string s = PQerrorMessage(c);
  for (char& ch : s) {
    ch = ch == '\n' || ch == '\t' ? ' ' : ch; // one line on stderr
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Runs `sql` with text parameters; returns the first value of the first row ("" when none).
std::string exec(PGconn* c, const std::string& sql, const std::vector<const char*>& params = {}) {
  PGresult* r = PQexecParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                             nullptr, 0);
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    PQclear(r);
    throw std::runtime_error(error_of(c));
  }
  std::string out = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return out;
}

void copy(PGconn* c, const std::string& sql, const std::string& rows) {
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COPY_IN;
  PQclear(r);
  if (!ok || PQputCopyData(c, rows.data(), static_cast<int>(rows.size())) != 1 || PQputCopyEnd(c, nullptr) != 1) {
    throw std::runtime_error(error_of(c));
  }
  bool done = true;
  while ((r = PQgetResult(c)) != nullptr) {
    done = done && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (!done) {
    throw std::runtime_error(error_of(c));
  }
}

// A COPY text field: the symbols and venues are plain, but escape what COPY treats specially.
std::string field(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
      out += '\\';
      out += ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
    } else {
      out += ch;
    }
  }
  return out;
}

// A text[] literal of the capture paths.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "\"" : ",\"";
    for (const char ch : items[i]) {
      if (ch == '"' || ch == '\\') {
        out += '\\';
      }
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

} // namespace

std::string store_run(const std::string& url, const ReplayResult& result, const std::string& config_json,
                      const RunTimes& times) {
  try {
    (void)store::migrate(url, QF_STORE_MIGRATIONS_DIR);
  } catch (const store::MigrationError& e) {
    throw std::runtime_error(std::string("migration failed: ") + e.what());
  }
  Conn conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect: " + error_of(conn.get()));
  }
  PGconn* c = conn.get();
  const std::string started = std::to_string(times.started_unix_ns);
  const std::string ended = std::to_string(times.ended_unix_ns);
  const std::string captures = text_array(result.inputs);
  exec(c, "BEGIN");
  const std::string id =
      exec(c,
           "INSERT INTO runs (started_at, ended_at, captures, venue, config, metrics) VALUES "
           "(to_timestamp($1::bigint / 1e9), to_timestamp($2::bigint / 1e9), $3::text[], $4, $5::jsonb, $6::jsonb) "
           "RETURNING run_id",
           {started.c_str(), ended.c_str(), captures.c_str(), result.venue.c_str(),
            config_json.empty() ? nullptr : config_json.c_str(), result.summary_json.c_str()});
  std::string rows;
  for (std::size_t i = 0; i < result.fills.size(); ++i) {
    const core::Fill& f = result.fills[i];
    const core::InstrumentSpec& spec = result.instruments.at(f.instrument);
    rows += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.17g}\t{:.17g}\t{:.17g}\t{:.17g}\n", id, i, f.unix_ns,
                        f.order_id, field(spec.venue), field(spec.symbol), f.side == core::Side::bid ? "buy" : "sell",
                        f.qty, f.price, f.fee, f.realized);
  }
  copy(c, "COPY run_fills FROM STDIN", rows);
  rows.clear();
  for (const EquityPoint& e : result.equity) {
    rows += fmt::format("{}\t{}\t{:.17g}\t{:.17g}\t{:.17g}\t{:.17g}\t{:.17g}\n", id, e.unix_ns, e.equity, e.drawdown,
                        e.realized, e.unrealized, e.fees);
  }
  copy(c, "COPY run_equity (run_id, unix_ns, equity, drawdown, realized, unrealized, fees) FROM STDIN", rows);
  exec(c, "COMMIT");
  return id;
}

} // namespace qf::engine
