// libFuzzer target: the gateway's pure request handling (router.cpp): route_api over an empty
// snapshot, match_control, parse_risk_control, parse_trading_control and resolve_static. The input is split at the
// first three '\n' into method, path, query ("a=1&b" pairs) and a POST body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "router.hpp"

namespace gw = qf::gateway;

namespace {

std::string_view take_line(std::string_view& in) {
  const std::size_t nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return line;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const qf::ipc::StateSnapshot snapshot;
  static const gw::GatewayStats stats;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  gw::Request r;
  r.method = std::string(take_line(in));
  r.path = std::string(take_line(in));
  std::string_view query = take_line(in);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    r.query.emplace_back(std::string(pair.substr(0, eq)),
                         eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  const std::string_view body = in;

  const gw::Response api = gw::route_api(r, snapshot, stats, 1'700'000'000'000'000'000ULL);
  if (api.status < 100 || api.status > 599) {
    __builtin_trap();
  }
  gw::Response error;
  if (const auto target = gw::match_control(r.path, error)) {
    (void)target->name();
  }
  (void)gw::is_control_path(r.path);
  if (gw::is_risk_control_path(r.path)) {
    gw::ControlTarget target{};
    (void)gw::parse_risk_control(r.path, body, target);
  }
  if (gw::is_trading_control_path(r.path)) { // /api/orders, /api/risk/limits
    gw::ControlTarget target{};
    if (!gw::parse_trading_control(r.path, body, target)) {
      (void)target.name();
    }
  }
  (void)gw::find_instrument(snapshot, r.method, r.path);
  (void)gw::resolve_static(QF_FUZZ_WEB_ROOT, QF_FUZZ_VENDOR_ROOT, r.path);
  return 0;
}
