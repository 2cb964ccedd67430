#pragma once
// ModelLoader: the model reload's file work off the hot thread (ControlAction::model_reload). The
// core agent hands the command over (request: one store and an EventCount notify, never a file);
// the loader thread ("qf-model-loader") reads and checks [signal] model's file with
// load_signal_model (a feature list that differs from the engine's is refused with the message
// naming the difference) and leaves the result in its one slot; the agent takes it in a later
// housekeeping pass and installs it between events (Engine::install_model) or records the refusal,
// so the old model stays in force. One reload at a time: a second request while one is loading is
// refused. The replaced model comes back through retire() and is released on the loader thread.

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "qf/core/agent.hpp"
#include "qf/core/signal_model.hpp"
#include "qf/ipc/cache.hpp"
#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/eventcount.hpp"

namespace qf::engine {

class ModelLoader {
public:
  explicit ModelLoader(std::string path);
  ~ModelLoader();
  ModelLoader(const ModelLoader&) = delete;
  ModelLoader& operator=(const ModelLoader&) = delete;

  // Hot thread: nullptr when the command is taken, else why not.
  const char* request(const ipc::ControlCommand& command) noexcept;
  // Hot thread: a finished load, once (the slot is free again after it).
  bool take(core::ModelLoad& out) noexcept;
  // Hot thread: the replaced model, released on the loader thread.
  void retire(std::shared_ptr<const core::SignalModel> model) noexcept;
  void stop();

  static constexpr std::uint64_t kStopCheckNs = 100'000'000;

private:
  enum State : int { idle = 0, requested = 1, done = 2 };
  void run();

  std::string path_;
  // The slot: written by the hot thread in `idle`, by the loader in `requested`, read after `done`.
  ipc::ControlCommand command_{};
  std::shared_ptr<const core::SignalModel> model_;
  std::array<char, 192> error_{};
  std::shared_ptr<const core::SignalModel> retired_; // hot thread writes it while retire_ is false
  alignas(ipc::kCacheLinePair) std::atomic<int> state_{idle};
  alignas(ipc::kCacheLinePair) std::atomic<bool> retire_{false};
  std::atomic<bool> stop_{false};
  ipc::EventCount wake_;
  std::thread thread_;
};

} // namespace qf::engine
