#include "risk_writer.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <exception>

#include "risk_store.hpp"

namespace qf::engine {

RiskWriter::RiskWriter(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}

RiskWriter::~RiskWriter() { stop(); }

void RiskWriter::stop() {
  stop_.store(true, std::memory_order_release);
  wake_.notify();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RiskWriter::run() {
  pthread_setname_np(pthread_self(), "qf-risk-writer");
  std::uint64_t written = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    const ipc::EventCount::Key key = wake_.prepare_wait();
    if (offered_.load(std::memory_order_acquire) == written && !stop_.load(std::memory_order_acquire)) {
      wake_.wait_for(key, kStopCheckNs);
    } else {
      wake_.cancel_wait(key);
    }
    const std::uint64_t offered = offered_.load(std::memory_order_acquire);
    if (offered == written) {
      continue;
    }
    Bytes b;
    if (slot_.try_load(b) != ipc::ReadStatus::ok) {
      continue; // the hot thread is storing a newer one: take that next time
    }
    core::RiskSnapshot s;
    std::memcpy(&s, b.bytes, sizeof(s));
    written = offered;
    try {
      save_risk_state(path_, s);
      writes_.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what()); // keep trading state in memory; retried with the next snapshot
    }
  }
}

} // namespace qf::engine
