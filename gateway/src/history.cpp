#include "history.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>

#include "qf/ipc/json_writer.hpp"

namespace qf::gateway {
namespace {

constexpr std::string_view kPrefix = "/api/history/";
constexpr std::int64_t kMaxLimit = 10'000;

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool to_int(std::string_view v, std::int64_t& out) {
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc{} && p == v.data() + v.size() && !v.empty();
}

struct Params {
  std::string from = "0", to = "9223372036854775807", limit = "1000", offset = "0", interval = "1", kind;
};

// Reads the query parameters `allowed` of the request; a 400 naming the first bad one.
bool read_params(const Request& r, std::initializer_list<std::string_view> allowed, Params& p, Response& error) {
  std::int64_t from = 0, to = INT64_MAX;
  bool from_set = false, to_set = false;
  for (const auto& [k, v] : r.query) {
    bool known = false;
    for (const auto a : allowed) {
      known = known || k == a;
    }
    if (!known) {
      error = json_error(400, "unknown query parameter " + k, k);
      return false;
    }
    std::int64_t n = 0;
    if (k == "from" || k == "to") {
      if (!to_int(v, n) || n < 0) {
        error = json_error(400, k + ": expected Unix milliseconds (an integer >= 0)", k);
        return false;
      }
      (k == "from" ? from : to) = n;
      (k == "from" ? from_set : to_set) = true;
      (k == "from" ? p.from : p.to) = v;
    } else if (k == "limit") {
      if (!to_int(v, n) || n < 1 || n > kMaxLimit) {
        error = json_error(400, "limit: expected 1..10000", k);
        return false;
      }
      p.limit = v;
    } else if (k == "offset") {
      if (!to_int(v, n) || n < 0) {
        error = json_error(400, "offset: expected an integer >= 0", k);
        return false;
      }
      p.offset = v;
    } else if (k == "interval") {
      if (v != "1s" && v != "1m") {
        error = json_error(400, "interval: expected 1s or 1m", k);
        return false;
      }
      p.interval = v == "1s" ? "1" : "60";
    } else if (k == "kind") {
      p.kind = v;
    }
  }
  if (from_set && to_set && from >= to) {
    error = json_error(400, "from: must be before to", "from");
    return false;
  }
  return true;
}

// [from, to) in Unix ms over `ts`, as parameters $1 and $2.
constexpr const char* kRange = "ts >= to_timestamp($1::bigint / 1000.0) AND ts < to_timestamp(LEAST($2::bigint, "
                               "9000000000000) / 1000.0)";

std::string wrap(const char* columns, const char* table, const std::string& where, const char* order,
                 const std::string& tail) {
  return std::string("SELECT coalesce(json_agg(r), '[]'::json)::text FROM (SELECT (extract(epoch FROM ts) * 1000)"
                     "::bigint AS ts_ms, ") +
         columns + " FROM " + table + " WHERE " + kRange + where + " ORDER BY " + order + " " + tail + ") r";
}

// 8-4-4-4-12 hexadecimal digits: anything else would be a server-side cast error, not a 400.
bool is_uuid(std::string_view v) {
  if (v.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : std::isxdigit(static_cast<unsigned char>(v[i])) == 0) {
      return false;
    }
  }
  return true;
}

} // namespace

bool is_history_path(std::string_view path) noexcept { return path.starts_with(kPrefix); }

std::optional<HistoryQuery> parse_history(const Request& r, Response& error) {
  if (r.method != "GET") {
    error = json_error(405, "method not allowed; use GET");
    error.allow = "GET";
    return std::nullopt;
  }
  const auto seg = segments(std::string_view(r.path).substr(kPrefix.size()));
  Params p;
  HistoryQuery q;
  if (seg.size() == 1 && seg[0] == "equity") {
    if (!read_params(r, {"from", "to", "limit"}, p, error)) {
      return std::nullopt;
    }
    q.sql = wrap("engine_start, equity, drawdown, peak_equity, cash, realized, unrealized, fees, gross_exposure, "
                 "fills, orders",
                 "equity", "", "ts", "LIMIT $3");
    q.params = {p.from, p.to, p.limit};
  } else if (seg.size() == 3 && seg[0] == "bars") {
    if (!read_params(r, {"from", "to", "limit", "interval"}, p, error)) {
      return std::nullopt;
    }
    // One row per bar start: a bar stored by two engine runs is shown once (the newest run's).
    q.sql = wrap("open, high, low, close, volume, trades, rsi, bollinger_z, atr", "bars",
                 " AND venue = $4 AND symbol = $5 AND interval_s = $6::int", "ts", "LIMIT $3");
    q.sql.replace(q.sql.find("SELECT (extract"), 6, "SELECT DISTINCT ON (ts)");
    q.sql.replace(q.sql.find("ORDER BY ts "), 12, "ORDER BY ts, engine_start DESC ");
    q.params = {p.from, p.to, p.limit, std::string(seg[1]), std::string(seg[2]), p.interval};
  } else if (seg.size() == 1 && seg[0] == "fills") {
    if (!read_params(r, {"from", "to", "limit", "offset"}, p, error)) {
      return std::nullopt;
    }
    q.sql = wrap("engine_start, seq, order_id, venue, symbol, side, qty, price, fee, realized", "fills", "",
                 "ts, engine_start, seq", "LIMIT $3 OFFSET $4");
    q.params = {p.from, p.to, p.limit, p.offset};
  } else if (seg.size() == 3 && seg[0] == "signals") {
    if (!read_params(r, {"from", "to", "limit"}, p, error)) {
      return std::nullopt;
    }
    q.sql = wrap("engine_start, signal, confidence, regime, dominant", "signals", " AND venue = $4 AND symbol = $5",
                 "ts", "LIMIT $3");
    q.params = {p.from, p.to, p.limit, std::string(seg[1]), std::string(seg[2])};
  } else if (seg.size() == 1 && seg[0] == "events") {
    if (!read_params(r, {"from", "to", "limit", "kind"}, p, error)) {
      return std::nullopt;
    }
    q.sql = wrap("engine_start, seq, kind, venue, symbol, text", "events",
                 p.kind.empty() ? std::string() : std::string(" AND kind = $4"), "ts, engine_start, seq", "LIMIT $3");
    q.params = {p.from, p.to, p.limit};
    if (!p.kind.empty()) {
      q.params.push_back(p.kind);
    }
  } else if (seg.size() == 1 && seg[0] == "runs") {
    if (!read_params(r, {"from", "to", "limit"}, p, error)) {
      return std::nullopt;
    }
    // `ts`: the run's start (wall clock); key metrics from the stored summary.
    q.sql = wrap("run_id AS id, (extract(epoch FROM ended_at) * 1000)::bigint AS ended_ms, captures, venue, "
                 "metrics->'backtest'->'trades' AS trades, metrics->'backtest'->'final_equity' AS final_equity, "
                 "metrics->'backtest'->'total_return' AS total_return, metrics->'backtest'->'max_drawdown' AS "
                 "max_drawdown, coalesce(metrics->'backtest'->'sharpe', metrics->'backtest'->'sharpe_per_interval') "
                 "AS sharpe, metrics->'backtest'->'verdict' AS verdict",
                 "(SELECT *, started_at AS ts FROM runs) runs", "", "ts DESC, run_id", "LIMIT $3");
    q.params = {p.from, p.to, p.limit};
  } else if (seg.size() == 2 && seg[0] == "runs") {
    if (!read_params(r, {}, p, error)) {
      return std::nullopt;
    }
    if (!is_uuid(seg[1])) {
      error = json_error(400, "run id: expected a UUID", "id");
      return std::nullopt;
    }
    q.sql = "SELECT json_build_object('id', run_id, 'started_ms', (extract(epoch FROM started_at) * 1000)::bigint, "
            "'ended_ms', (extract(epoch FROM ended_at) * 1000)::bigint, 'captures', captures, 'venue', venue, "
            "'metrics', metrics, 'config', config, "
            "'equity', (SELECT coalesce(json_agg(e ORDER BY unix_ns), '[]'::json) FROM (SELECT unix_ns, equity, "
            "drawdown, realized, unrealized, fees FROM run_equity WHERE run_id = $1::uuid) e), "
            "'fills', (SELECT coalesce(json_agg(f ORDER BY seq), '[]'::json) FROM (SELECT seq, unix_ns, order_id, "
            "venue, symbol, side, qty, price, fee, realized FROM run_fills WHERE run_id = $1::uuid) f))::text "
            "FROM runs WHERE run_id = $1::uuid";
    q.params = {std::string(seg[1])};
    q.one = true;
    q.name = "run";
    return q;
  } else {
    error = json_error(404, "not found: " + r.path);
    return std::nullopt;
  }
  q.name = std::string(seg[0]);
  return q;
}

HistoryPool::HistoryPool(std::string url, int threads, std::function<void()> wake)
    : url_(std::move(url)), wake_(std::move(wake)) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { work(); });
  }
}

HistoryPool::~HistoryPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) {
    t.join();
  }
}

void HistoryPool::submit(std::uint64_t id, HistoryQuery q) {
  {
    std::lock_guard lock(mutex_);
    queries_.emplace_back(id, std::move(q));
  }
  ready_.notify_one();
}

std::vector<std::pair<std::uint64_t, Response>> HistoryPool::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(answers_, {});
}

void HistoryPool::work() {
  PGconn* conn = nullptr;
  while (true) {
    std::pair<std::uint64_t, HistoryQuery> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !queries_.empty(); });
      if (stopping_) {
        break;
      }
      job = std::move(queries_.front());
      queries_.pop_front();
    }
    if (conn != nullptr && PQstatus(conn) != CONNECTION_OK) {
      PQfinish(conn);
      conn = nullptr;
    }
    if (conn == nullptr) {
      conn = PQconnectdb(url_.c_str());
    }
    Response resp;
    if (PQstatus(conn) != CONNECTION_OK) {
      resp = json_error(503, std::string("history store unavailable: ") + PQerrorMessage(conn));
      PQfinish(conn);
      conn = nullptr;
    } else {
      std::vector<const char*> values;
      for (const auto& v : job.second.params) {
        values.push_back(v.c_str());
      }
      PGresult* res = PQexecParams(conn, job.second.sql.c_str(), static_cast<int>(values.size()), nullptr,
                                   values.data(), nullptr, nullptr, 0);
      if (job.second.one && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        resp = json_error(404, "no such " + job.second.name);
      } else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        ipc::JsonWriter out;
        out.begin_object().key(job.second.name).raw(PQgetvalue(res, 0, 0)).end_object();
        resp.body = out.take();
      } else {
        resp = json_error(503, std::string("history query failed: ") + PQerrorMessage(conn));
      }
      PQclear(res);
    }
    {
      std::lock_guard lock(mutex_);
      answers_.emplace_back(job.first, std::move(resp));
    }
    wake_();
  }
  if (conn != nullptr) {
    PQfinish(conn);
  }
}

} // namespace qf::gateway
