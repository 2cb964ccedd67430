#include "router.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <strings.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics.hpp"
#include "qf/ipc/fixed_point.hpp"

namespace qf::gateway {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') {
      ++i;
    }
    const std::size_t j = path.find('/', i);
    const std::size_t end = j == std::string_view::npos ? path.size() : j;
    if (end > i) {
      parts.push_back(path.substr(i, end - i));
    }
    i = end;
  }
  return parts;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Response json_body(ipc::JsonWriter& o) {
  Response r;
  r.body = o.take();
  return r;
}

Response method_not_allowed(const char* allow) {
  std::string msg = "method not allowed; use ";
  msg += allow;
  Response r = json_error(405, msg);
  r.allow = allow;
  return r;
}

// Checks that every query parameter is one of `known`; fills `bad` with the first unknown one.
bool only_known(const Request& r, std::initializer_list<std::string_view> known, std::string& bad) {
  for (const auto& [k, v] : r.query) {
    bool ok = false;
    for (const auto kn : known) {
      ok = ok || k == kn;
    }
    if (!ok) {
      bad = k;
      return false;
    }
  }
  return true;
}

const std::string* query_value(const Request& r, std::string_view name) {
  for (const auto& [k, v] : r.query) {
    if (k == name) {
      return &v;
    }
  }
  return nullptr;
}

// Parses an optional integer parameter within [lo, hi]; on error fills `err`.
bool int_param(const Request& r, const char* name, long lo, long hi, long& out, Response& err) {
  const std::string* v = query_value(r, name);
  if (v == nullptr) {
    return true;
  }
  long n = 0;
  const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || ptr != v->data() + v->size() || n < lo || n > hi) {
    std::string msg = "invalid parameter '";
    msg += name;
    msg += "': expected an integer from ";
    msg += std::to_string(lo);
    msg += " to ";
    msg += std::to_string(hi);
    err = json_error(400, msg, name);
    return false;
  }
  out = n;
  return true;
}

Response unknown_parameter(const std::string& name);

// The query of a book or composite book: ?depth=1..kBookDepth (kBookDepth when absent) and nothing
// else; nullopt with `depth` set, or the error response.
std::optional<Response> depth_query(const Request& r, long& depth) {
  std::string bad;
  if (!only_known(r, {"depth"}, bad)) {
    return unknown_parameter(bad);
  }
  depth = static_cast<long>(ipc::kBookDepth);
  Response err;
  if (!int_param(r, "depth", 1, static_cast<long>(ipc::kBookDepth), depth, err)) {
    return err;
  }
  return std::nullopt;
}

Response unknown_parameter(const std::string& name) {
  std::string msg = "unknown parameter '";
  msg += name;
  msg += "'";
  return json_error(400, msg, name);
}

Response not_running(const ipc::StateSnapshot& s) {
  std::string msg = ipc::to_string(s.status);
  if (!s.message.empty()) {
    msg += ": ";
    msg += s.message;
  }
  return json_error(503, msg);
}

} // namespace

Response json_error(int status, std::string_view message, std::string_view parameter) {
  ipc::JsonWriter o;
  o.begin_object().key("error").str(message).key("status").i64(status);
  if (!parameter.empty()) {
    o.key("parameter").str(parameter);
  }
  o.end_object();
  Response r;
  r.status = status;
  r.body = o.take();
  return r;
}

int find_instrument(const ipc::StateSnapshot& s, std::string_view venue, std::string_view symbol) noexcept {
  for (std::size_t i = 0; i < s.instruments.size(); ++i) {
    if (venue_of(s.instruments[i].info) == venue && iequals(symbol_of(s.instruments[i].info), symbol)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool is_control_path(std::string_view path) noexcept {
  return path == "/api/control" || path.starts_with("/api/control/");
}

std::string ControlTarget::name() const {
  if (!label.empty()) {
    return label;
  }
  std::string n;
  switch (action) {
  case ipc::ControlAction::resync:
    n = "resync ";
    n += venue;
    n += ':';
    n += symbol;
    return n;
  case ipc::ControlAction::kill_on: return "kill";
  case ipc::ControlAction::kill_off: return "unkill";
  case ipc::ControlAction::flatten: return "flatten";
  case ipc::ControlAction::resume: return "resume";
  case ipc::ControlAction::kill_reduce_only: return "kill reduce-only";
  case ipc::ControlAction::reset: return "risk reset";
  case ipc::ControlAction::paper_order: return "paper order";
  case ipc::ControlAction::set_limit: return "risk limit";
  case ipc::ControlAction::model_reload: return "model reload";
  }
  return "unknown";
}

std::optional<ControlTarget> match_control(std::string_view path, Response& error) {
  if (!is_control_path(path)) {
    return std::nullopt;
  }
  const auto parts = split_path(path); // api control <action> ...
  if (parts.size() >= 3 && parts[2] == "resync") {
    if (parts.size() != 5) {
      error = json_error(404, "expected /api/control/resync/{venue}/{symbol}");
      return std::nullopt;
    }
    return ControlTarget{ipc::ControlAction::resync, std::string(parts[3]), std::string(parts[4]), {}};
  }
  if (parts.size() == 4 && parts[2] == "model" && parts[3] == "reload") {
    return ControlTarget{ipc::ControlAction::model_reload, {}, {}, {}};
  }
  if (parts.size() == 3) {
    if (parts[2] == "kill") {
      return ControlTarget{ipc::ControlAction::kill_on, {}, {}, {}};
    }
    if (parts[2] == "unkill") {
      return ControlTarget{ipc::ControlAction::kill_off, {}, {}, {}};
    }
    if (parts[2] == "flatten") {
      return ControlTarget{ipc::ControlAction::flatten, {}, {}, {}};
    }
    if (parts[2] == "resume") {
      return ControlTarget{ipc::ControlAction::resume, {}, {}, {}};
    }
  }
  std::string msg = "no such control: ";
  msg += path;
  error = json_error(404, msg);
  return std::nullopt;
}

bool is_risk_control_path(std::string_view path) noexcept {
  return path == "/api/risk/kill-switch" || path == "/api/risk/reset";
}

namespace {
Response bad_field(std::string_view field, std::string_view what) {
  std::string msg = "invalid field '";
  msg += field;
  msg += "': ";
  msg += what;
  Response r = json_error(400, msg, field);
  // {"error":..., "status":400, "parameter":"<field>"}: also name it as "field".
  r.body.pop_back();
  r.body += ",\"field\":";
  ipc::JsonWriter f;
  f.str(field);
  r.body += f.take();
  r.body += '}';
  return r;
}
// Parses a control body; `duplicate` names the first key that appears twice in one object
// (refused, not resolved: last-wins once turned the kill switch off). Discarded when malformed.
nlohmann::json parse_strict(std::string_view body, std::string& duplicate) {
  std::vector<std::vector<std::string>> seen;
  const auto no_duplicates = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if (ev == nlohmann::json::parse_event_t::object_start) {
      seen.emplace_back();
    } else if (ev == nlohmann::json::parse_event_t::object_end && !seen.empty()) {
      seen.pop_back();
    } else if (ev == nlohmann::json::parse_event_t::key && !seen.empty()) {
      const std::string k = parsed.get<std::string>();
      if (std::find(seen.back().begin(), seen.back().end(), k) != seen.back().end() && duplicate.empty()) {
        duplicate = k;
      }
      seen.back().push_back(k);
    }
    return true;
  };
  return nlohmann::json::parse(body.begin(), body.end(), no_duplicates, false);
}

// The exact decimal text of a JSON string or number ("0.01", 0.01), empty for anything else.
// A number is taken in nlohmann's shortest round-trip spelling (an exponent is then malformed).
std::string decimal_text(const nlohmann::json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_number()) {
    return v.dump();
  }
  return {};
}
} // namespace

std::optional<Response> parse_risk_control(std::string_view path, std::string_view body, ControlTarget& target) {
  const bool reset = path == "/api/risk/reset";
  target = ControlTarget{reset ? ipc::ControlAction::reset : ipc::ControlAction::kill_on, {}, {},
                         reset ? "risk reset" : "risk kill-switch"};
  std::size_t start = 0;
  while (start < body.size() && std::isspace(static_cast<unsigned char>(body[start])) != 0) {
    ++start;
  }
  if (reset && start == body.size()) {
    return std::nullopt; // no body needed
  }
  std::string duplicate;
  const nlohmann::json j = parse_strict(body, duplicate);
  if (!duplicate.empty()) {
    return bad_field(duplicate, "duplicate key");
  }
  if (j.is_discarded() || !j.is_object()) {
    return bad_field("body", reset ? "expected an empty body or a JSON object {}"
                                   : R"(expected a JSON object {"enabled": true|false, "mode": "halt"|"reduce-only"|"flatten"})");
  }
  for (const auto& [k, v] : j.items()) {
    if (reset || (k != "enabled" && k != "mode")) {
      return bad_field(k, reset ? "reset takes no fields" : "unknown field; expected enabled and mode");
    }
  }
  if (reset) {
    return std::nullopt;
  }
  const auto en = j.find("enabled");
  if (en == j.end() || !en->is_boolean()) {
    return bad_field("enabled", en == j.end() ? "missing; expected true or false" : "expected true or false");
  }
  std::string mode = "halt";
  const auto md = j.find("mode");
  if (md != j.end()) {
    if (!md->is_string()) {
      return bad_field("mode", "expected \"halt\", \"reduce-only\" or \"flatten\"");
    }
    mode = md->get<std::string>();
    if (mode != "halt" && mode != "reduce-only" && mode != "flatten") {
      return bad_field("mode", "expected \"halt\", \"reduce-only\" or \"flatten\"");
    }
  }
  if (!en->get<bool>()) {
    target.action = ipc::ControlAction::kill_off;
    target.label = "risk kill-switch off";
    return std::nullopt;
  }
  target.action = mode == "halt"          ? ipc::ControlAction::kill_on
                  : mode == "reduce-only" ? ipc::ControlAction::kill_reduce_only
                                          : ipc::ControlAction::flatten;
  target.label = "risk kill-switch ";
  target.label += mode;
  return std::nullopt;
}

bool is_trading_control_path(std::string_view path) noexcept {
  return path == "/api/orders" || path == "/api/risk/limits";
}

std::optional<Response> parse_trading_control(std::string_view path, std::string_view body, ControlTarget& target) {
  const bool order = path == "/api/orders";
  target = ControlTarget{order ? ipc::ControlAction::paper_order : ipc::ControlAction::set_limit, {}, {},
                         order ? "paper order" : "risk limit"};
  std::string duplicate;
  const nlohmann::json j = parse_strict(body, duplicate);
  if (!duplicate.empty()) {
    return bad_field(duplicate, "duplicate key");
  }
  if (j.is_discarded() || !j.is_object()) {
    return bad_field("body", order ? R"(expected a JSON object {"instrument": "venue:SYMBOL", "side": "buy"|"sell", "type": "market"|"limit", "qty": "0.01", "price": "..." (limit only)})"
                                   : R"(expected a JSON object {"limit": "max_order_notional", "value": "5000"})");
  }
  const auto text_of = [&](const char* k) -> std::string {
    const auto it = j.find(k);
    return it == j.end() || !it->is_string() ? std::string() : it->get<std::string>();
  };
  if (!order) {
    for (const auto& [k, v] : j.items()) {
      if (k != "limit" && k != "value") {
        return bad_field(k, "unknown field; expected limit and value");
      }
    }
    const std::string name = text_of("limit");
    target.limit = ipc::risk_limit_from(name);
    if (target.limit == ipc::RiskLimitId::none) {
      std::string why = "expected one of";
      for (std::size_t i = 1; i < ipc::kRiskLimitIds; ++i) {
        why += i == 1 ? " " : ", ";
        why += ipc::kRiskLimitNames[i];
      }
      return bad_field("limit", why);
    }
    target.label = "risk limit ";
    target.label += name;
    const auto v = j.find("value");
    const std::string value = v == j.end() ? std::string() : decimal_text(*v);
    const int decimals = ipc::infer_decimals(value);
    if (decimals < 0 || ipc::parse_fixed(value, decimals, target.value_mantissa) != ipc::DecimalError::ok) {
      return bad_field("value", "expected a decimal number (\"5000\", 0.1), at most 18 digits");
    }
    target.value_decimals = static_cast<std::uint8_t>(decimals);
    return std::nullopt;
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "instrument" && k != "side" && k != "type" && k != "qty" && k != "price") {
      return bad_field(k, "unknown field; expected instrument, side, type, qty and price");
    }
  }
  const std::string instrument = text_of("instrument");
  const std::size_t colon = instrument.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == instrument.size()) {
    return bad_field("instrument", "expected \"venue:SYMBOL\"");
  }
  target.venue = instrument.substr(0, colon);
  target.symbol = instrument.substr(colon + 1);
  const std::string side = text_of("side");
  if (side != "buy" && side != "sell") {
    return bad_field("side", "expected \"buy\" or \"sell\"");
  }
  target.side = side == "buy" ? 0 : 1;
  const std::string type = j.contains("type") ? text_of("type") : std::string("market");
  if (type != "market" && type != "limit") {
    return bad_field("type", "expected \"market\" or \"limit\"");
  }
  target.order_type = type == "limit" ? ipc::OrderType::limit : ipc::OrderType::market;
  const auto q = j.find("qty");
  target.qty = q == j.end() ? std::string() : decimal_text(*q);
  if (target.qty.empty()) {
    return bad_field("qty", "missing; expected a positive decimal (\"0.01\")");
  }
  const auto pr = j.find("price");
  if (target.order_type == ipc::OrderType::limit) {
    target.price = pr == j.end() ? std::string() : decimal_text(*pr);
    if (target.price.empty()) {
      return bad_field("price", "a limit order needs a price (a positive decimal)");
    }
  } else if (pr != j.end()) {
    return bad_field("price", "a market order takes no price");
  }
  target.label = "paper order " + side + ' ' + type + ' ' + instrument;
  return std::nullopt;
}

Response invalid_field(std::string_view field, std::string_view what) {
  return bad_field(field, what);
}

namespace {

// GET /api/composite (every composite book) and /api/composite/{asset} (one), ?depth=1..10.
Response route_composite(const Request& r, const std::vector<std::string_view>& parts, const ipc::StateSnapshot& s) {
  if (parts.size() > 3) {
    std::string msg = "no such endpoint: ";
    msg += r.path;
    msg += " (expected /api/composite or /api/composite/{asset})";
    return json_error(404, msg);
  }
  if (r.method != "GET" && r.method != "HEAD") {
    return method_not_allowed("GET");
  }
  long depth = 0;
  if (auto err = depth_query(r, depth)) {
    return *err;
  }
  ipc::JsonWriter o;
  if (parts.size() == 2) {
    o.begin_object();
    render_engine_head(o, s);
    o.key("composites").begin_array();
    for (const ipc::CompositeSnapshot& c : s.composites) {
      render_composite(o, s, c, static_cast<std::size_t>(depth));
    }
    o.end_array().end_object();
    return json_body(o);
  }
  for (const ipc::CompositeSnapshot& c : s.composites) {
    if (iequals(ipc::text_of(c.info.asset), parts[2])) {
      render_composite(o, s, c, static_cast<std::size_t>(depth));
      return json_body(o);
    }
  }
  if (!ipc::has_engine(s.status)) {
    return not_running(s);
  }
  std::string msg = "unknown composite ";
  msg += parts[2];
  return json_error(404, msg);
}

} // namespace

Response route_api(const Request& r, const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns) {
  const bool get = r.method == "GET" || r.method == "HEAD";
  if (is_risk_control_path(r.path) || is_trading_control_path(r.path)) {
    return method_not_allowed("POST");
  }
  if (is_control_path(r.path)) {
    Response err;
    if (!match_control(r.path, err)) {
      return err;
    }
    return method_not_allowed("POST");
  }
  const auto parts = split_path(r.path);
  std::string bad;
  if (r.path == "/metrics") {
    if (!get) {
      return method_not_allowed("GET");
    }
    if (!only_known(r, {}, bad)) {
      return unknown_parameter(bad);
    }
    Response resp;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = render_metrics(s, g, now_unix_ns);
    return resp;
  }
  if (parts.size() < 2 || parts[0] != "api") {
    std::string msg = "no such endpoint: ";
    msg += r.path;
    return json_error(404, msg);
  }
  const std::string_view what = parts[1];
  if (what == "composite") {
    return route_composite(r, parts, s);
  }
  const bool per_instrument = what == "book" || what == "bars" || what == "features" || (what == "quotes" && parts.size() > 2);
  const bool collection = parts.size() == 2 && (what == "health" || what == "instruments" || what == "quotes" ||
                                                what == "signals" || what == "feeds" || what == "latency" ||
                                                what == "events" || what == "portfolio" || what == "positions" ||
                                                what == "fills" || what == "risk" || what == "drift");
  if (!collection && !(per_instrument && parts.size() == 4)) {
    std::string msg = "no such endpoint: ";
    msg += r.path;
    if (per_instrument) {
      msg += " (expected /api/";
      msg += what;
      msg += "/{venue}/{symbol})";
    }
    return json_error(404, msg);
  }
  if (!get) {
    return method_not_allowed("GET");
  }

  ipc::JsonWriter o;
  if (collection) {
    if (what == "health") {
      if (!only_known(r, {}, bad)) {
        return unknown_parameter(bad);
      }
      render_health(o, s, g, now_unix_ns);
      Response resp = json_body(o);
      resp.status = s.status == ipc::EngineStatus::running ? 200 : 503; // for load balancers and probes
      return resp;
    }
    if (what == "latency") {
      if (!only_known(r, {"buckets"}, bad)) {
        return unknown_parameter(bad);
      }
      long buckets = 1;
      Response err;
      if (!int_param(r, "buckets", 0, 1, buckets, err)) {
        return err;
      }
      o.begin_object();
      render_engine_head(o, s);
      o.key("stages");
      render_latency(o, s, buckets != 0 ? LatencyDetail::full : LatencyDetail::summary);
      o.end_object();
      return json_body(o);
    }
    if (what == "events" || what == "fills") { // the logs, newest first
      if (!only_known(r, {"limit"}, bad)) {
        return unknown_parameter(bad);
      }
      const bool events = what == "events";
      const auto size = static_cast<long>(events ? ipc::kEventLogSize : ipc::kFillLogSize);
      long limit = size;
      Response err;
      if (!int_param(r, "limit", 1, size, limit, err)) {
        return err;
      }
      o.begin_object();
      render_engine_head(o, s);
      o.key("written").u64(events ? s.events_written : s.fills_written);
      o.key(what);
      if (events) {
        render_events(o, s, static_cast<std::size_t>(limit));
      } else {
        render_fills(o, s, static_cast<std::size_t>(limit));
      }
      o.end_object();
      return json_body(o);
    }
    if (!only_known(r, {}, bad)) {
      return unknown_parameter(bad);
    }
    o.begin_object();
    render_engine_head(o, s);
    if (what == "portfolio") {
      o.key("portfolio");
      render_portfolio(o, s);
    } else if (what == "positions") {
      o.key("positions");
      render_positions(o, s);
    } else if (what == "risk") {
      o.key("risk");
      render_risk(o, s);
    } else if (what == "drift") {
      render_drift(o, s);
    } else if (what == "instruments") {
      o.key("instruments");
      render_instruments(o, s);
    } else if (what == "quotes") {
      o.key("quotes").begin_array();
      for (const auto& i : s.instruments) {
        render_quote(o, i, now_unix_ns);
      }
      o.end_array();
    } else if (what == "signals") {
      o.key("signals").begin_array();
      for (const auto& i : s.instruments) {
        render_signal(o, i);
      }
      o.end_array();
    } else { // feeds
      o.key("feeds");
      render_feeds(o, s);
    }
    o.end_object();
    return json_body(o);
  }

  // Per instrument: /api/<what>/{venue}/{symbol}
  const int idx = find_instrument(s, parts[2], parts[3]);
  if (idx < 0) {
    if (!ipc::has_engine(s.status)) {
      return not_running(s);
    }
    std::string msg = "unknown instrument ";
    msg += parts[2];
    msg += ':';
    msg += parts[3];
    return json_error(404, msg);
  }
  const ipc::InstrumentSnapshot& inst = s.instruments[static_cast<std::size_t>(idx)];
  if (what == "quotes") {
    if (!only_known(r, {}, bad)) {
      return unknown_parameter(bad);
    }
    render_quote(o, inst, now_unix_ns);
  } else if (what == "book") {
    long depth = 0;
    if (auto err = depth_query(r, depth)) {
      return *err;
    }
    render_book(o, inst, static_cast<std::size_t>(depth));
  } else if (what == "bars") {
    if (!only_known(r, {"interval"}, bad)) {
      return unknown_parameter(bad);
    }
    const std::string* interval = query_value(r, "interval");
    if (interval != nullptr && *interval != "1s" && *interval != "1m") {
      return json_error(400, "invalid parameter 'interval': expected 1s or 1m", "interval");
    }
    render_bar(o, inst, interval != nullptr && *interval == "1m");
  } else { // features
    if (!only_known(r, {}, bad)) {
      return unknown_parameter(bad);
    }
    render_features(o, inst);
  }
  return json_body(o);
}

std::optional<StaticFile> resolve_static(const std::string& web_root, const std::string& vendor_root,
                                         std::string_view url_path) {
  if (url_path.empty() || url_path[0] != '/' || url_path.find('\0') != std::string_view::npos ||
      url_path.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  auto parts = split_path(url_path);
  for (const auto p : parts) {
    if (p.empty() || p[0] == '.') { // "..", ".", hidden files
      return std::nullopt;
    }
  }
  std::string root = web_root;
  if (!parts.empty() && parts[0] == "vendor") {
    root = vendor_root;
    parts.erase(parts.begin());
    if (parts.empty()) {
      return std::nullopt;
    }
  }
  std::string rel;
  for (const auto p : parts) {
    rel += '/';
    rel += p;
  }
  if (rel.empty()) {
    rel = "/index.html";
  }
  char real_root[PATH_MAX];
  char real_file[PATH_MAX];
  const std::string candidate = root + rel;
  if (realpath(root.c_str(), real_root) == nullptr || realpath(candidate.c_str(), real_file) == nullptr) {
    return std::nullopt;
  }
  const std::string_view rr(real_root);
  const std::string_view rf(real_file);
  if (!rf.starts_with(rr) || rf.size() <= rr.size() || rf[rr.size()] != '/') { // a symlink out of the root
    return std::nullopt;
  }
  const auto dot = rel.rfind('.');
  const std::string_view ext = dot == std::string::npos ? std::string_view{} : std::string_view(rel).substr(dot);
  const char* mime = nullptr;
  if (ext == ".html") {
    mime = "text/html; charset=utf-8";
  } else if (ext == ".js") {
    mime = "text/javascript; charset=utf-8";
  } else if (ext == ".css") {
    mime = "text/css; charset=utf-8";
  } else if (ext == ".svg") {
    mime = "image/svg+xml";
  } else if (ext == ".png") {
    mime = "image/png";
  } else if (ext == ".ico") {
    mime = "image/x-icon";
  } else if (ext == ".json") {
    mime = "application/json";
  } else {
    return std::nullopt; // only what the dashboard needs
  }
  return StaticFile{real_file, mime};
}

} // namespace qf::gateway
