// Engine: the learned model's lifecycle and drift. Drift: after each event that closes a 1 s bar,
// the instrument's drift window takes the model's inputs (as `qf-engine features` wrote them for
// training); above [signal] drift_bound the instrument's confidence is multiplied by bound / PSI and
// a notable event names the feature (again when it comes back). Lifecycle: the model record (id,
// training period, validation summary, feature names) is published at start and after a reload;
// install_model swaps every instrument's parameters between two events (the agent calls it from
// its control path, never inside apply()), refuse_model keeps the old one and says why.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "engine_instrument.hpp"
#include "qf/core/engine.hpp"

namespace qf::core {

namespace {

template <std::size_t N>
void put_text(std::array<char, N>& dst, std::string_view src, bool keep_tail = false) noexcept {
  dst.fill('\0');
  const std::size_t n = std::min(src.size(), N - 1);
  std::memcpy(dst.data(), src.data() + (keep_tail ? src.size() - n : 0), n);
}

} // namespace

double Engine::drift_psi(std::size_t i, int f) const noexcept { return instruments_[i]->drift.psi(f); }
double Engine::drift_fade(std::size_t i) const noexcept { return instruments_[i]->fade; }

void Engine::update_drift(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  if (config_.model == nullptr) {
    return;
  }
  const Eigen::Matrix<double, kSignalFeatures, 1> x = signal_inputs(in);
  in.drift.update(x.data());
  double worst = -1.0;
  std::uint8_t worst_f = ipc::kNoFeature;
  for (int f = 0; f < kSignalFeatures; ++f) {
    const double psi = in.drift.psi(f);
    if (std::isfinite(psi) && psi > worst) {
      worst = psi;
      worst_f = static_cast<std::uint8_t>(f);
    }
  }
  const bool drifting = worst_f != ipc::kNoFeature && worst > config_.drift.bound;
  in.fade = drifting ? config_.drift.bound / worst : 1.0;
  in.drift_worst = worst_f;
  in.drift_updated_unix_ns = now_unix_ns;
  if (drifting != in.drifting) {
    in.drifting = drifting;
    in.drift_alarms += drifting ? 1 : 0;
    note_drift(in, now_unix_ns);
  }
  publish_drift(in, now_unix_ns);
}

void Engine::note_drift(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  char line[84];
  const int f = in.drift_worst;
  const std::string_view name = f != ipc::kNoFeature ? kSignalFeatureNames[static_cast<std::size_t>(f)] : "-";
  const double psi = f != ipc::kNoFeature ? in.drift.psi(f) : 0.0;
  if (in.drifting) {
    std::snprintf(line, sizeof line, "drift: %.*s PSI %.3f > bound %.3f, confidence x%.2f",
                  static_cast<int>(name.size()), name.data(), psi, config_.drift.bound, in.fade);
  } else {
    std::snprintf(line, sizeof line, "drift over: largest PSI %.3f (%.*s) <= bound %.3f, confidence restored", psi,
                  static_cast<int>(name.size()), name.data(), config_.drift.bound);
  }
  note(ipc::NotableKind::drift, in.id, line, now_unix_ns);
}

void Engine::publish_drift(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  (void)now_unix_ns;
  ipc::DriftRecord r{};
  r.features = config_.model != nullptr ? static_cast<std::uint8_t>(kSignalFeatures) : 0;
  r.drifting = in.drifting ? 1 : 0;
  r.worst = in.drift_worst;
  r.window = static_cast<std::uint32_t>(in.drift.window());
  r.bars = static_cast<std::uint32_t>(in.drift.bars());
  r.bound = config_.drift.bound;
  r.fade = in.fade;
  r.psi.fill(std::numeric_limits<double>::quiet_NaN());
  if (config_.model != nullptr) {
    for (int f = 0; f < kSignalFeatures; ++f) {
      r.psi[static_cast<std::size_t>(f)] = in.drift.psi(f);
      r.samples[static_cast<std::size_t>(f)] = in.drift.samples(f);
    }
  }
  r.alarms = in.drift_alarms;
  r.updated_unix_ns = in.drift_updated_unix_ns;
  publisher_.drift(in.id, r);
}

void Engine::publish_model(std::uint64_t now_unix_ns) noexcept {
  ipc::ModelRecord r{};
  const SignalModel* m = config_.model.get();
  r.reloads = model_reloads_;
  r.refusals = model_refusals_;
  r.drift_bound = config_.drift.bound;
  r.drift_window = static_cast<std::uint32_t>(config_.drift.window);
  r.last_refusal = model_refusal_;
  r.last_refusal_unix_ns = model_refusal_unix_ns_;
  r.updated_unix_ns = now_unix_ns;
  if (m != nullptr) {
    r.loaded = 1;
    r.features = static_cast<std::uint8_t>(kSignalFeatures);
    for (std::size_t f = 0; f < kSignalFeatures; ++f) {
      put_text(r.feature_names[f], kSignalFeatureNames[f]);
    }
    put_text(r.id, m->id);
    put_text(r.path, m->path, true);
    r.train_start_ns = m->train_start_ns;
    r.train_end_ns = m->train_end_ns;
    r.train_rows = m->train_rows;
    r.loaded_unix_ns = model_loaded_unix_ns_;
    r.trees = m->trees != nullptr ? 1 : 0;
    r.trees_weight = m->trees != nullptr ? m->trees_weight : 0.0;
    r.validation_folds = static_cast<std::uint32_t>(m->validation.size());
    r.folds = static_cast<std::uint8_t>(std::min(m->validation.size(), ipc::kMaxModelFolds));
    for (std::size_t k = 0; k < r.folds; ++k) {
      const ValidationFold& v = m->validation[k];
      r.fold[k] = ipc::ModelFold{v.test_rows,      v.ic, v.hit_rate, v.return_bps, v.sharpe_per_bar, v.max_drawdown_bps,
                                 v.buy_and_hold_bps};
    }
  }
  publisher_.model(r);
}

std::shared_ptr<const SignalModel> Engine::install_model(std::shared_ptr<const SignalModel> model,
                                                         const ipc::ControlCommand& command,
                                                         std::uint64_t now_unix_ns) noexcept {
  std::shared_ptr<const SignalModel> old = std::move(config_.model);
  config_.model = std::move(model);
  config_.apply_model(*config_.model); // fixed-size parameters and a shared_ptr copy: nothing allocates
  for (const auto& p : instruments_) {
    Instrument& in = *p;
    in.regime.set_params(config_.hmm);
    in.fusion.set_params(config_.fusion);
    in.drift.set_reference(config_.model->drift);
    in.drifting = false;
    in.fade = 1.0;
    in.drift_worst = ipc::kNoFeature;
    publish_drift(in, now_unix_ns);
  }
  ++model_reloads_;
  model_loaded_unix_ns_ = now_unix_ns;
  publish_model(now_unix_ns); // the new record first, then the acknowledgement
  char text[40];
  std::snprintf(text, sizeof text, "loaded %s", config_.model->id.c_str());
  acknowledge(command, ipc::ControlResult::done, text, now_unix_ns);
  return old;
}

void Engine::refuse_model(const ipc::ControlCommand& command, const char* why, std::uint64_t now_unix_ns) noexcept {
  ++model_refusals_;
  put_text(model_refusal_, why);
  model_refusal_unix_ns_ = now_unix_ns;
  publish_model(now_unix_ns);
  char line[84];
  std::snprintf(line, sizeof line, "model reload refused: %s", why);
  note(ipc::NotableKind::control, ipc::kNoInstrument, line, now_unix_ns);
  char text[40]; // the start of why; the whole of it is the model record's last_refusal
  std::snprintf(text, sizeof text, "refused: %s", why);
  acknowledge(command, ipc::ControlResult::rejected, text, now_unix_ns);
}

} // namespace qf::core
