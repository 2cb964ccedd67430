#include "model_loader.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string_view>

namespace qf::engine {

ModelLoader::ModelLoader(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}

ModelLoader::~ModelLoader() { stop(); }

void ModelLoader::stop() {
  stop_.store(true, std::memory_order_release);
  wake_.notify();
  if (thread_.joinable()) {
    thread_.join();
  }
}

const char* ModelLoader::request(const ipc::ControlCommand& command) noexcept {
  if (state_.load(std::memory_order_acquire) != idle) {
    return "a model reload is already in progress";
  }
  command_ = command;
  state_.store(requested, std::memory_order_release);
  wake_.notify();
  return nullptr;
}

bool ModelLoader::take(core::ModelLoad& out) noexcept {
  if (state_.load(std::memory_order_acquire) != done) {
    return false;
  }
  out.command = command_;
  out.model = std::move(model_);
  out.error = error_;
  state_.store(idle, std::memory_order_release);
  return true;
}

void ModelLoader::retire(std::shared_ptr<const core::SignalModel> model) noexcept {
  if (retire_.load(std::memory_order_acquire)) {
    return; // the previous one is not released yet (two reloads within one wake-up): dropped here
  }
  retired_ = std::move(model);
  retire_.store(true, std::memory_order_release);
  wake_.notify();
}

void ModelLoader::run() {
  pthread_setname_np(pthread_self(), "qf-model-loader");
  while (!stop_.load(std::memory_order_acquire)) {
    const ipc::EventCount::Key key = wake_.prepare_wait();
    if (state_.load(std::memory_order_acquire) != requested && !retire_.load(std::memory_order_acquire) &&
        !stop_.load(std::memory_order_acquire)) {
      wake_.wait_for(key, kStopCheckNs);
    } else {
      wake_.cancel_wait(key);
    }
    if (retire_.load(std::memory_order_acquire)) {
      retired_.reset();
      retire_.store(false, std::memory_order_release);
    }
    if (state_.load(std::memory_order_acquire) != requested) {
      continue;
    }
    error_.fill('\0');
    try {
      model_ = std::make_shared<const core::SignalModel>(core::load_signal_model(path_));
      spdlog::info("model reload: {} from {}", model_->id, path_);
    } catch (const std::exception& e) {
      model_.reset();
      std::string_view why = e.what(); // "PATH: problem"; the path is the model record's already
      if (why.starts_with(path_) && why.substr(path_.size()).starts_with(": ")) {
        why.remove_prefix(path_.size() + 2);
      }
      std::snprintf(error_.data(), error_.size(), "%.*s", static_cast<int>(why.size()), why.data());
      spdlog::warn("model reload refused: {}", e.what());
    }
    state_.store(done, std::memory_order_release);
  }
}

} // namespace qf::engine
