#pragma once
// Websocket and HTTP endpoints as the client needs them: scheme (TLS or not), host, port, path.
// Start-up and reconnect paths only (allocates, throws).

#include <string>
#include <string_view>

namespace qf::feeds::net {

struct Url {
  std::string scheme = "ws"; // ws | wss | http | https
  bool tls = false;
  std::string host;
  int port = 0;
  std::string path = "/"; // with the query, always starting with '/'

  [[nodiscard]] std::string text() const; // "wss://host:port/path", the scheme as parsed
};

// Accepts ws://, wss://, http:// and https:// URLs with an optional port (defaults 80 / 443).
// Throws std::invalid_argument naming the URL and what is wrong with it.
[[nodiscard]] Url parse_url(std::string_view url);

// `base` with `path` appended ("wss://h:1" + "/stream?x" -> path "/stream?x"; a base path is kept).
[[nodiscard]] Url join(const Url& base, std::string_view path);

} // namespace qf::feeds::net
