#include "qf/feeds/net/url.hpp"

#include <charconv>
#include <stdexcept>

namespace qf::feeds::net {
namespace {

[[noreturn]] void bad(std::string_view url, const char* why) {
  std::string msg = "bad URL '";
  msg.append(url);
  msg.append("': ");
  msg.append(why);
  throw std::invalid_argument(msg);
}

} // namespace

std::string Url::text() const {
  std::string out = scheme;
  out.append("://");
  out.append(host);
  out.push_back(':');
  out.append(std::to_string(port));
  out.append(path);
  return out;
}

Url parse_url(std::string_view url) {
  Url u;
  struct Scheme {
    std::string_view prefix;
    bool tls;
    int port;
  };
  static constexpr Scheme kSchemes[] = {{"wss://", true, 443}, {"https://", true, 443}, {"ws://", false, 80},
                                        {"http://", false, 80}};
  std::string_view rest;
  for (const Scheme& s : kSchemes) {
    if (url.substr(0, s.prefix.size()) == s.prefix) {
      u.tls = s.tls;
      u.port = s.port;
      u.scheme = std::string(s.prefix.substr(0, s.prefix.size() - 3));
      rest = url.substr(s.prefix.size());
      break;
    }
  }
  if (u.port == 0) {
    bad(url, "the scheme must be ws://, wss://, http:// or https://");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const std::size_t colon = authority.rfind(':');
  u.host = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value <= 0 || value > 65535) {
      bad(url, "the port must be 1..65535");
    }
    u.port = value;
  }
  if (u.host.empty()) {
    bad(url, "no host");
  }
  return u;
}

Url join(const Url& base, std::string_view path) {
  Url u = base;
  if (!u.path.empty() && u.path.back() == '/') {
    u.path.pop_back();
  }
  u.path.append(path);
  return u;
}

} // namespace qf::feeds::net
