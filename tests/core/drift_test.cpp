// Drift of the learned model's inputs (issue 15 item 4) and the model's lifecycle in the engine
// (item 5), on the engine core directly with generated events (capture time, no wall clock).
// - DriftMonitor's PSI equals a naive recomputation over the same window (ring wrap, NaN skipped);
// - an Engine whose model's reference is the deciles of its own inputs on generated data: fresh
//   data from the same generator never goes above the bound (confidence equals a twin engine's,
//   no drift event); a level shift in one input (the book imbalance) raises that input's statistic
//   past the bound, fades confidence by bound / PSI against the twin, and a notable event names it;
// - install_model puts a new model in force and publishes its record; refuse_model keeps the old.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "engine_fixture.hpp"
#include "qf/core/drift.hpp"
#include "qf/core/engine.hpp"

namespace qf::core {
namespace {

using test::level;
using test::marker;
using test::status;
using Inputs = std::array<double, kSignalFeatures>;

// numpy's default quantile (linear interpolation between order statistics).
double quantile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double q = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(q));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (q - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// The reference the trainer writes: deciles (ties merged) and each bin's share, value in bin
// "number of edges <= value".
FeatureDistribution reference(const std::vector<double>& values) {
  std::vector<double> v;
  for (const double x : values) {
    if (std::isfinite(x)) {
      v.push_back(x);
    }
  }
  FeatureDistribution d;
  for (int k = 1; k < 10; ++k) {
    const double e = quantile(v, k / 10.0);
    if (d.edges.empty() || e > d.edges.back()) {
      d.edges.push_back(e);
    }
  }
  d.expected.assign(d.edges.size() + 1, 0.0);
  for (const double x : v) {
    const auto b = static_cast<std::size_t>(std::upper_bound(d.edges.begin(), d.edges.end(), x) - d.edges.begin());
    d.expected[b] += 1.0 / static_cast<double>(v.size());
  }
  return d;
}

double naive_psi(const FeatureDistribution& d, const std::vector<double>& window) {
  std::vector<double> count(d.edges.size() + 1, 0.0);
  double n = 0;
  for (const double x : window) {
    if (std::isfinite(x)) {
      ++count[static_cast<std::size_t>(std::upper_bound(d.edges.begin(), d.edges.end(), x) - d.edges.begin())];
      ++n;
    }
  }
  double psi = 0;
  for (std::size_t b = 0; b < count.size(); ++b) {
    const double a = std::max(count[b] / n, 1e-4);
    const double e = std::max(d.expected[b], 1e-4);
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

TEST(drift_monitor, should_equal_a_naive_psi_over_the_last_window_skipping_missing_values) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::vector<double> train(5000);
  for (double& x : train) {
    x = normal(rng);
  }
  std::array<FeatureDistribution, 2> ref{reference(train), reference(train)};
  DriftMonitor<2> m(200);
  m.set_reference(ref);
  std::vector<std::array<double, 2>> seen;
  for (int t = 0; t < 1000; ++t) {
    const double shift = t >= 600 ? 1.0 : 0.0; // input 0 moves, input 1 does not
    std::array<double, 2> x{normal(rng) + shift, t % 7 == 0 ? std::numeric_limits<double>::quiet_NaN() : normal(rng)};
    m.update(x.data());
    seen.push_back(x);
    if (t < 199) {
      EXPECT_TRUE(std::isnan(m.psi(0))) << "judged before the window is full, bar " << t;
      continue;
    }
    for (int f = 0; f < 2; ++f) {
      std::vector<double> window;
      for (std::size_t k = seen.size() - 200; k < seen.size(); ++k) {
        window.push_back(seen[k][static_cast<std::size_t>(f)]);
      }
      ASSERT_NEAR(m.psi(f), naive_psi(ref[static_cast<std::size_t>(f)], window), 1e-12) << "bar " << t << " input " << f;
    }
  }
  EXPECT_GT(m.psi(0), 0.25);
  EXPECT_LT(m.psi(1), 0.1);
  EXPECT_EQ(m.samples(0), 200U);
  EXPECT_LT(m.samples(1), 200U); // NaN not counted
}

// Generated market: one book message and two trades per second of capture time; the book's
// quantities are drawn afresh each second (imbalance nearly independent bar to bar). `bid_boost`
// multiplies the bid quantities (a level shift of the imbalance input only).
class Market {
public:
  explicit Market(std::uint64_t seed) : rng_(seed) {}

  template <typename Apply>
  void second(Apply&& apply, double bid_boost = 1.0) {
    const std::uint64_t t = t0_ + s_ * 1'000'000'000ULL;
    std::normal_distribution<double> step(0.0, 3.0);
    std::uniform_int_distribution<std::int64_t> qty(1, 20);
    mid_ += static_cast<std::int64_t>(std::lround(step(rng_)));
    const auto b = [&] { return static_cast<std::int64_t>(static_cast<double>(qty(rng_) * 10'000'000) * bid_boost); };
    const std::uint64_t seq = ++seq_;
    apply(marker(0, EventKind::snapshot_begin, seq), t + 100'000'000);
    for (std::int64_t j = 1; j <= 3; ++j) {
      apply(level(0, Side::bid, mid_ - j, b(), seq), t + 100'000'000);
      apply(level(0, Side::ask, mid_ + j, qty(rng_) * 10'000'000, seq), t + 100'000'000);
    }
    apply(marker(0, EventKind::snapshot_end, seq), t + 100'000'000);
    std::bernoulli_distribution buy(0.5);
    for (int k = 0; k < 2; ++k) {
      const std::uint64_t tt = t + 300'000'000 + static_cast<std::uint64_t>(k) * 300'000'000;
      const bool is_buy = buy(rng_);
      Event e = marker(0, EventKind::trade, ++trade_id_);
      e.side = is_buy ? Side::bid : Side::ask;
      e.level.price = is_buy ? mid_ + 1 : mid_ - 1;
      e.level.qty = qty(rng_) * 1'000'000;
      e.level.exchange_ns = tt;
      apply(e, tt);
    }
    ++s_;
  }

private:
  std::mt19937_64 rng_;
  std::uint64_t t0_ = 1'723'161'255'000'000'000ULL;
  std::uint64_t s_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t trade_id_ = 0;
  std::int64_t mid_ = 6'000'000;
};

CoreConfig market_config() {
  CoreConfig c;
  // Short memories: the inputs at one bar close depend little on the last one, so a window of
  // 1000 bars holds many independent draws and sampling noise stays far below the bound.
  c.features.fast_halflife_s = 0.3;
  c.features.slow_halflife_s = 0.6;
  c.features.flow_halflife_s = 0.3;
  c.features.vol_halflife_s = 5.0;
  c.features.imbalance_levels = 3;
  return c;
}

// An engine on its own state segment, fed by Market, recording its inputs at each 1 s bar close.
struct EngineRun {
  EngineRun(const CoreConfig& config, const std::string& tag)
      : segment("drift-" + std::to_string(::getpid()) + "-" + tag, ipc::EngineMode::replay),
        clock(ipc::TscClock::calibrate(std::chrono::milliseconds(2))),
        engine(config, {{"binance-spot", "BTCUSDT", 2, 8, 0}}, segment.sections, clock) {
    engine.apply(status(0, FeedStatus::book_live), 0, 0);
  }
  void operator()(const Event& e, std::uint64_t t) {
    engine.apply(e, t, 0);
    if (engine.bars_1s(0).closed_bars() != bars) {
      bars = engine.bars_1s(0).closed_bars();
      const auto x = engine.signal_inputs(0);
      inputs.push_back({x(0), x(1), x(2), x(3), x(4)});
    }
  }
  ipc::DriftRecord drift() const {
    ipc::DriftRecord r{};
    EXPECT_EQ(segment.sections.records[0].drift.try_load(r), ipc::ReadStatus::ok);
    return r;
  }
  std::vector<std::string> notes(ipc::NotableKind kind) const {
    std::vector<std::string> out;
    const ipc::EventLog& log = *segment.sections.events;
    for (std::uint64_t i = 0; i < log.written.load(); ++i) {
      ipc::NotableEvent n{};
      if (log.entries[i % ipc::kEventLogSize].try_load(n) == ipc::ReadStatus::ok && n.kind == kind) {
        out.emplace_back(ipc::text_of(n.text));
      }
    }
    return out;
  }

  test::TestSegment segment;
  ipc::TscClock clock;
  Engine engine;
  std::uint64_t bars = 0;
  std::vector<Inputs> inputs;
};

// The model: the built-in experts with a fixed standardization, and as drift reference the
// deciles of the engine's own inputs over 20,000 generated seconds.
SignalModel market_model(const std::string& id) {
  static const std::array<FeatureDistribution, kSignalFeatures> ref = [] {
    EngineRun train(market_config(), "train");
    Market m(1);
    for (int s = 0; s < 20'000; ++s) {
      m.second(train);
    }
    std::array<FeatureDistribution, kSignalFeatures> out;
    for (std::size_t f = 0; f < kSignalFeatures; ++f) {
      std::vector<double> v;
      for (const Inputs& x : train.inputs) {
        v.push_back(x[f]);
      }
      out[f] = reference(v);
    }
    return out;
  }();
  SignalModel m;
  m.id = id;
  m.path = "/models/" + id + ".json";
  m.train_start_ns = 1;
  m.train_end_ns = 2;
  m.train_rows = 20'000;
  m.hmm = CoreConfig::default_hmm();
  m.mean.setZero();
  m.sd.setOnes();
  m.weights = CoreConfig::default_fusion().weights;
  m.bias.setZero();
  m.drift = ref;
  m.validation = {ValidationFold{100, 0.1, 0.55, 3.0, 0.02, 1.5, -2.0}};
  return m;
}

CoreConfig with_model(const SignalModel& m, double bound, std::size_t window) {
  CoreConfig c = market_config();
  c.use_model(m);
  c.drift.bound = bound;
  c.drift.window = window;
  return c;
}

constexpr std::size_t kWindow = 1000;
constexpr double kBound = 0.25;

TEST(engine_drift, unchanged_data_should_stay_below_the_bound_and_leave_confidence_alone) {
  const SignalModel model = market_model("qf-drift-a");
  EngineRun run(with_model(model, kBound, kWindow), "same");
  EngineRun twin(with_model(model, 1e9, kWindow), "same-twin"); // the same model, drift never acts
  Market a(2), b(2);
  double worst = 0;
  for (int s = 0; s < 4000; ++s) {
    a.second(run);
    b.second(twin);
    const ipc::DriftRecord d = run.drift();
    for (std::size_t f = 0; f < kSignalFeatures; ++f) {
      if (std::isfinite(d.psi[f])) {
        worst = std::max(worst, d.psi[f]);
      }
    }
    ASSERT_EQ(d.drifting, 0) << "second " << s << " worst PSI " << worst;
    ASSERT_EQ(run.engine.signal(0).confidence, twin.engine.signal(0).confidence) << "second " << s;
  }
  const ipc::DriftRecord d = run.drift();
  EXPECT_EQ(d.features, kSignalFeatures);
  EXPECT_EQ(d.bars, kWindow);
  EXPECT_EQ(d.fade, 1.0);
  std::printf("unchanged data: largest PSI over %d judged bars %.4f (bound %.2f)\n", 4000 - static_cast<int>(kWindow),
              worst, kBound);
  EXPECT_GT(worst, 0.0) << "judged at all";
  EXPECT_LT(worst, kBound);
  EXPECT_TRUE(run.notes(ipc::NotableKind::drift).empty());
  EXPECT_GT(twin.engine.signal(0).confidence, 0.0) << "a live book and a posterior: the fade has something to act on";
}

TEST(engine_drift, a_level_shift_in_one_input_should_raise_its_psi_past_the_bound_and_fade_confidence) {
  const SignalModel model = market_model("qf-drift-b");
  EngineRun run(with_model(model, kBound, kWindow), "shift");
  EngineRun twin(with_model(model, 1e9, kWindow), "shift-twin");
  Market a(3), b(3);
  for (int s = 0; s < 1200; ++s) { // a full window of normal data first
    a.second(run);
    b.second(twin);
  }
  ASSERT_EQ(run.drift().drifting, 0);
  int first_alarm = -1;
  for (int s = 0; s < 1500; ++s) {
    a.second(run, 4.0); // four times the bid depth: the imbalance moves up, nothing else does
    b.second(twin, 4.0);
    if (first_alarm < 0 && run.drift().drifting != 0) {
      first_alarm = s;
    }
  }
  ASSERT_GE(first_alarm, 0) << "never crossed the bound";
  EXPECT_LT(first_alarm, static_cast<int>(kWindow)) << "crossed before the window was all shifted data";
  const ipc::DriftRecord d = run.drift();
  std::printf("level shift: first alarm %d bars after the shift; PSI", first_alarm);
  for (std::size_t f = 0; f < kSignalFeatures; ++f) {
    std::printf(" %s %.4f", std::string(kSignalFeatureNames[f]).c_str(), d.psi[f]);
  }
  std::printf("; fade %.4f\n", d.fade);
  EXPECT_EQ(d.worst, 0) << "imbalance is input 0";
  EXPECT_GT(d.psi[0], kBound);
  // The naive statistic over the engine's own last window of inputs.
  std::vector<double> window;
  for (std::size_t k = run.inputs.size() - kWindow; k < run.inputs.size(); ++k) {
    window.push_back(run.inputs[k][0]);
  }
  EXPECT_NEAR(d.psi[0], naive_psi(model.drift[0], window), 1e-9);
  for (std::size_t f = 1; f < kSignalFeatures; ++f) {
    EXPECT_LT(d.psi[f], kBound) << kSignalFeatureNames[f] << " did not move";
  }
  // Confidence: the twin's (the same model, the same posterior) times bound / PSI.
  const double expected_fade = kBound / d.psi[0];
  EXPECT_DOUBLE_EQ(d.fade, expected_fade);
  EXPECT_GT(twin.engine.signal(0).confidence, 0.0);
  EXPECT_NEAR(run.engine.signal(0).confidence, twin.engine.signal(0).confidence * expected_fade, 1e-12);
  EXPECT_LT(run.engine.signal(0).confidence, twin.engine.signal(0).confidence);
  ipc::SignalRecord published{};
  ASSERT_EQ(run.segment.sections.records[0].signal.try_load(published), ipc::ReadStatus::ok);
  EXPECT_EQ(published.confidence, run.engine.signal(0).confidence);
  const auto notes = run.notes(ipc::NotableKind::drift);
  ASSERT_EQ(notes.size(), 1U);
  EXPECT_NE(notes[0].find("drift: imbalance PSI"), std::string::npos) << notes[0];
  EXPECT_EQ(d.alarms, 1U);
}

TEST(engine_model, install_should_put_the_new_model_in_force_and_refuse_should_keep_the_old) {
  const SignalModel first = market_model("qf-first");
  EngineRun run(with_model(first, kBound, 300), "reload");
  ipc::ModelRecord r{};
  ASSERT_EQ(run.segment.sections.feeds->model.try_load(r), ipc::ReadStatus::ok);
  EXPECT_EQ(r.loaded, 1);
  EXPECT_EQ(ipc::text_of(r.id), "qf-first");
  EXPECT_EQ(ipc::text_of(r.feature_names[4]), "bollinger_z");
  EXPECT_EQ(r.folds, 1);
  EXPECT_DOUBLE_EQ(r.fold[0].ic, 0.1);
  EngineRun twin(with_model(first, kBound, 300), "reload-twin"); // stays on the first model
  Market m(4), mt(4);
  for (int s = 0; s < 400; ++s) {
    m.second(run);
    mt.second(twin);
  }
  EXPECT_EQ(run.drift().bars, 300U);
  ipc::ControlCommand c{};
  c.id = 41;
  c.action = ipc::ControlAction::model_reload;
  run.engine.refuse_model(c, "features [a] differ from the engine's [b]", 5);
  ASSERT_EQ(run.segment.sections.feeds->model.try_load(r), ipc::ReadStatus::ok);
  EXPECT_EQ(ipc::text_of(r.id), "qf-first");
  EXPECT_EQ(ipc::text_of(r.last_refusal), "features [a] differ from the engine's [b]");
  EXPECT_EQ(r.refusals, 1U);
  EXPECT_EQ(run.engine.model()->id, "qf-first");

  SignalModel second_model = market_model("qf-second");
  second_model.weights *= -1.0; // a different model: the same mixture with the opposite sign
  c.id = 42;
  const auto old = run.engine.install_model(std::make_shared<const SignalModel>(second_model), c, 6);
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->id, "qf-first");
  EXPECT_EQ(run.engine.model()->id, "qf-second");
  ASSERT_EQ(run.segment.sections.feeds->model.try_load(r), ipc::ReadStatus::ok);
  EXPECT_EQ(ipc::text_of(r.id), "qf-second");
  EXPECT_EQ(r.reloads, 1U);
  EXPECT_EQ(run.drift().bars, 0U) << "the drift window restarts against the new reference";
  ipc::ControlAck ack{};
  const std::uint64_t acks = run.segment.sections.control->written.load();
  ASSERT_EQ(run.segment.sections.control->entries[(acks - 1) % ipc::kControlLogSize].try_load(ack), ipc::ReadStatus::ok);
  EXPECT_EQ(ack.id, 42U);
  EXPECT_EQ(ack.result, ipc::ControlResult::done);
  EXPECT_EQ(ipc::text_of(ack.text), "loaded qf-second");
  m.second(run);
  mt.second(twin);
  ASSERT_NE(twin.engine.signal(0).signal, 0.0);
  EXPECT_DOUBLE_EQ(run.engine.signal(0).signal, -twin.engine.signal(0).signal) << "the negated experts are in force";
}

} // namespace
} // namespace qf::core
