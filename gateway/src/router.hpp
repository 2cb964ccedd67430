#pragma once
// The gateway's request routing, independent of the HTTP server: a parsed request and a
// snapshot in, a status, content type and body out. REST endpoints (/api/...) and /metrics
// are answered here; controls are recognised here (match_control) and executed by the server
// because they wait for the engine; static files are resolved by resolve_static.
// Event-loop thread only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/state_reader.hpp"
#include "render_json.hpp"

namespace qf::gateway {

struct Request {
  std::string method; // "GET", "POST", ...
  std::string path;   // decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow; // for 405
};

[[nodiscard]] Response json_error(int status, std::string_view message, std::string_view parameter = {});

// GET /api/... and /metrics. Unknown paths under /api are 404, a known path with the wrong
// method is 405 (controls included: they need POST).
[[nodiscard]] Response route_api(const Request& r, const ipc::StateSnapshot& s, const GatewayStats& g,
                                 std::uint64_t now_unix_ns);

struct ControlTarget {
  ipc::ControlAction action;
  std::string venue, symbol; // resync only
  std::string label;         // the name for the audit log and the reply, when set
  // paper_order (venue and symbol above): side 0 buy / 1 sell, the decimal text of qty and price
  // (made exact with the instrument's decimals once the snapshot names it); set_limit: the limit
  // and its value as mantissa / 10^decimals.
  std::uint8_t side = 0;
  ipc::OrderType order_type = ipc::OrderType::market;
  std::string qty = {};
  std::string price = {};
  ipc::RiskLimitId limit = ipc::RiskLimitId::none;
  std::int64_t value_mantissa = 0;
  std::uint8_t value_decimals = 0;
  [[nodiscard]] std::string name() const; // "resync binance-spot:BTCUSDT", "kill", label
};
// /api/control/resync/{venue}/{symbol}, /api/control/{kill,unkill,flatten,resume}.
// nullopt: not a control path; a Response: a control path that is malformed.
[[nodiscard]] std::optional<ControlTarget> match_control(std::string_view path, Response& error);
[[nodiscard]] bool is_control_path(std::string_view path) noexcept;

// POST /api/risk/kill-switch {"enabled": true|false, "mode": "halt"|"reduce-only"|"flatten"}
// (mode defaults to halt; enabled false releases the switch, like reset) and POST
// /api/risk/reset (empty body or {}). Fills `target` (its label is set even for a bad body, for
// the audit log); returns a 400 naming the offending field for a bad body. Unknown fields are
// refused, like the config.
[[nodiscard]] bool is_risk_control_path(std::string_view path) noexcept;
[[nodiscard]] std::optional<Response> parse_risk_control(std::string_view path, std::string_view body,
                                                         ControlTarget& target);

// POST /api/orders {"instrument": "venue:SYMBOL", "side": "buy"|"sell", "type": "market"|"limit"
// (default market), "qty": "0.01", "price": "61000.5" (limit only)} and POST /api/risk/limits
// {"limit": "<RiskLimitId name>", "value": "5000"}; decimals as strings (or JSON numbers). Like
// parse_risk_control: fills `target`, or a 400 naming the field. The instrument and the
// decimals of qty/price are checked against the snapshot in start_control; the limit's range
// is the engine's to judge.
[[nodiscard]] bool is_trading_control_path(std::string_view path) noexcept;
[[nodiscard]] std::optional<Response> parse_trading_control(std::string_view path, std::string_view body,
                                                            ControlTarget& target);
// A 400 naming `field` ({"error", "status", "parameter", "field"}), as the parsers above answer.
[[nodiscard]] Response invalid_field(std::string_view field, std::string_view what);

// The instrument index for venue/symbol (symbol case-insensitive), or -1.
[[nodiscard]] int find_instrument(const ipc::StateSnapshot& s, std::string_view venue, std::string_view symbol) noexcept;

struct StaticFile {
  std::string path;
  const char* mime;
};
// Maps a URL path to a file under web_root ("/" -> index.html) or, for /vendor/<name>, under
// vendor_root. Refuses any ".." segment, hidden files and anything resolving outside the root.
[[nodiscard]] std::optional<StaticFile> resolve_static(const std::string& web_root, const std::string& vendor_root,
                                                       std::string_view url_path);

} // namespace qf::gateway
