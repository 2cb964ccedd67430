#include "qf/ipc/bus_guard.hpp"

#include <csignal>
#include <mutex>

namespace qf::ipc::detail {

namespace {

struct sigaction g_previous {};

extern "C" void on_bus_error(int signal, siginfo_t* info, void* context) {
  if (BusGuard* g = current_bus_guard()) {
    siglongjmp(g->env, 1); // async-signal-safe for a synchronous fault on this thread
  }
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(signal, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(signal);
    return;
  }
  ::signal(SIGBUS, SIG_DFL); // not a guarded read: the faulting access repeats and gets the default
}

} // namespace

BusGuard*& current_bus_guard() noexcept {
  static thread_local BusGuard* guard __attribute__((tls_model("initial-exec"))) = nullptr;
  return guard;
}

void install_bus_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_bus_error;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

} // namespace qf::ipc::detail
