// libFuzzer target: any bytes as WebSocket client messages through handle_subscribe_request
// (the gateway's subscribe / unsubscribe / ping parser), several messages per input split at
// '\n' on one client, against a snapshot without an engine and one with two instruments.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ws_subscribe.hpp"

namespace gw = qf::gateway::detail;

namespace {

qf::ipc::StateSnapshot with_engine() {
  qf::ipc::StateSnapshot s;
  s.status = qf::ipc::EngineStatus::running;
  s.instruments.resize(2);
  return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const qf::ipc::StateSnapshot empty;
  static const qf::ipc::StateSnapshot engine = with_engine();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const qf::ipc::StateSnapshot* s : {&empty, &engine}) {
    gw::WsClient c;
    std::size_t pos = 0;
    while (pos <= in.size()) {
      const std::size_t nl = std::min(in.find('\n', pos), in.size());
      gw::handle_subscribe_request(c, std::string(in.substr(pos, nl - pos)),
                                   [s]() -> const qf::ipc::StateSnapshot& { return *s; }, 20.0);
      pos = nl + 1;
    }
    if (c.replies.size() > 16 || c.instruments.size() > 64) {
      __builtin_trap(); // the bounds the gateway relies on
    }
  }
  return 0;
}
