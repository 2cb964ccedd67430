#include "features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "qf/core/engine.hpp"
#include "replay.hpp"

namespace qf::engine {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Row {
  std::size_t session = 0;
  std::size_t instrument = 0;
  bool minute = false; // 1 m bar (else 1 s)
  std::uint64_t t_ns = 0;
  core::Bar bar;
  Eigen::Matrix<double, core::kSignalFeatures, 1> inputs;
  core::FeatureValues f;
  core::BarIndicators ind;
  Eigen::Matrix<double, core::kRegimeObs, 1> obs;
  Eigen::Matrix<double, core::kRegimes, 1> posterior;
  ipc::BookHealth health = ipc::BookHealth::syncing;
  core::SignalOutput signal;
  // Labels (NaN when the horizon passes the end of the session).
  std::uint64_t label_end_ns = 0;
  double fwd_ret_1 = kNaN;
  double fwd_ret_h = kNaN;
  double tb_label = kNaN;
  double tb_ret = kNaN;
  std::uint64_t tb_t_ns = 0;
};

struct MidSample {
  std::uint64_t t_ns;
  double mid;
};

// The first sample after `t` (path sorted by time).
std::vector<MidSample>::const_iterator first_after(const std::vector<MidSample>& path, std::uint64_t t) {
  return std::upper_bound(path.begin(), path.end(), t, [](std::uint64_t v, const MidSample& s) { return v < s.t_ns; });
}

// The mid in effect at `t`: the last sample at or before it.
double mid_at(const std::vector<MidSample>& path, std::uint64_t t) {
  const auto it = first_after(path, t);
  return it == path.begin() ? kNaN : std::prev(it)->mid;
}

void label(Row& row, const std::vector<MidSample>& path, std::uint64_t session_end_ns, const FeaturesOptions& o) {
  const std::uint64_t interval = row.minute ? 60'000'000'000ULL : 1'000'000'000ULL;
  const std::uint64_t horizon = interval * static_cast<std::uint64_t>(o.horizon_bars);
  row.label_end_ns = row.t_ns + horizon;
  const double mid0 = row.f.mid;
  if (!(mid0 > 0.0)) {
    return;
  }
  if (row.t_ns + interval <= session_end_ns) {
    row.fwd_ret_1 = std::log(mid_at(path, row.t_ns + interval) / mid0) * 1e4;
  }
  if (row.label_end_ns > session_end_ns) {
    return;
  }
  row.fwd_ret_h = std::log(mid_at(path, row.label_end_ns) / mid0) * 1e4;
  // Barriers from the row's own volatility (per sqrt second) over the horizon, in bps.
  const double width =
      std::max(row.f.realized_vol * std::sqrt(static_cast<double>(horizon) * 1e-9) * 1e4, o.min_barrier_bps);
  const double up = o.profit_take * width;
  const double down = -o.stop_loss * width;
  row.tb_label = 0.0;
  row.tb_ret = row.fwd_ret_h;
  row.tb_t_ns = row.label_end_ns;
  for (auto it = first_after(path, row.t_ns); it != path.end() && it->t_ns <= row.label_end_ns; ++it) {
    const double r = std::log(it->mid / mid0) * 1e4;
    if (r >= up || r <= down) {
      row.tb_label = r >= up ? 1.0 : -1.0;
      row.tb_ret = r;
      row.tb_t_ns = it->t_ns;
      break;
    }
  }
}

void num(std::FILE* f, double v) {
  if (std::isfinite(v)) {
    std::fprintf(f, ",%.17g", v);
  } else {
    std::fputs(",", f); // empty: not available (NaN indicator before warm-up, label past the end)
  }
}

} // namespace

FeaturesSummary run_features(const FeaturesOptions& options) {
  if (options.inputs.empty()) {
    throw std::runtime_error("features needs at least one --input CAPTURE");
  }
  if (options.horizon_bars < 1) {
    throw std::runtime_error("--horizon-bars must be at least 1");
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(options.out.c_str(), "w"), &std::fclose);
  if (!out) {
    throw std::runtime_error(options.out + ": cannot write the feature file");
  }
  std::fputs("session,venue,symbol,bar,t_ns,bar_start_ns,open,high,low,close,volume,trades,"
             "imbalance,trade_flow,ret_fast,ret_slow,bollinger_z,"
             "mid,microprice,spread_bps,realized_vol,vwap,rsi,atr,"
             "obs_ret_bps,obs_vol_bps,p_regime0,p_regime1,p_regime2,health,signal,confidence,"
             "label_end_ns,fwd_ret_1_bps,fwd_ret_h_bps,tb_label,tb_ret_bps,tb_t_ns\n",
             out.get());
  static_assert(core::kSignalFeatures == 5 && core::kRegimeObs == 2 && core::kRegimes == 3, "the CSV header");
  FeaturesSummary summary;
  for (std::size_t session = 0; session < options.inputs.size(); ++session) {
    std::vector<Row> rows;
    std::vector<std::vector<MidSample>> paths;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> closed; // per instrument: 1 s, 1 m bars seen
    std::uint64_t session_end_ns = 0;
    ReplayOptions ro;
    ro.inputs = {options.inputs[session]}; // one session per file: no label crosses files
    ro.venue = options.venue;
    ro.config = options.config;
    ro.on_event = [&](const core::Engine& engine, const core::Event& e, std::uint64_t now_ns) {
      const std::size_t i = e.instrument;
      if (paths.size() < engine.instrument_count()) {
        paths.resize(engine.instrument_count());
        closed.resize(engine.instrument_count(), {0, 0});
      }
      session_end_ns = std::max(session_end_ns, now_ns);
      const double mid = engine.features(i).mid;
      if (mid > 0.0 && (paths[i].empty() || paths[i].back().mid != mid)) {
        if (!paths[i].empty() && paths[i].back().t_ns == now_ns) {
          paths[i].back().mid = mid; // one mid per instant: the last
        } else {
          paths[i].push_back({now_ns, mid});
        }
      }
      const auto emit = [&](const core::BarBuilder& bars, std::uint64_t& seen, bool minute) {
        if (bars.closed_bars() == seen) {
          return;
        }
        seen = bars.closed_bars();
        Row r;
        r.session = session;
        r.instrument = i;
        r.minute = minute;
        r.t_ns = now_ns;
        r.bar = bars.last_closed();
        r.inputs = engine.signal_inputs(i);
        r.f = engine.features(i);
        r.ind = engine.bars_1s(i).indicators();
        r.obs = engine.regime_observation(i);
        r.posterior = engine.regime(i);
        r.health = engine.health(i);
        r.signal = engine.signal(i);
        rows.push_back(r);
      };
      emit(engine.bars_1s(i), closed[i].first, false);
      emit(engine.bars_1m(i), closed[i].second, true);
    };
    const ReplayResult result = run_replay(ro);
    for (Row& r : rows) {
      label(r, paths[r.instrument], session_end_ns, options);
    }
    for (const Row& r : rows) {
      std::FILE* f = out.get();
      const core::InstrumentSpec& id = result.instruments.at(r.instrument);
      std::fprintf(f, "%zu,%s,%s,%s,%llu,%llu", r.session, id.venue.c_str(), id.symbol.c_str(), r.minute ? "1m" : "1s",
                   static_cast<unsigned long long>(r.t_ns), static_cast<unsigned long long>(r.bar.start_ns));
      for (const double v : {r.bar.open, r.bar.high, r.bar.low, r.bar.close, r.bar.volume}) {
        num(f, v);
      }
      std::fprintf(f, ",%u", r.bar.trades);
      for (int k = 0; k < core::kSignalFeatures; ++k) {
        num(f, r.inputs(k));
      }
      for (const double v : {r.f.mid, r.f.microprice, r.f.spread_bps, r.f.realized_vol, r.f.vwap, r.ind.rsi, r.ind.atr}) {
        num(f, v);
      }
      for (int k = 0; k < core::kRegimeObs; ++k) {
        num(f, r.obs(k));
      }
      for (int k = 0; k < core::kRegimes; ++k) {
        num(f, r.posterior(k));
      }
      std::fprintf(f, ",%s", ipc::to_string(r.health));
      num(f, r.signal.signal);
      num(f, r.signal.confidence);
      std::fprintf(f, ",%llu", static_cast<unsigned long long>(r.label_end_ns));
      for (const double v : {r.fwd_ret_1, r.fwd_ret_h, r.tb_label, r.tb_ret}) {
        num(f, v);
      }
      if (std::isfinite(r.tb_label)) {
        std::fprintf(f, ",%llu\n", static_cast<unsigned long long>(r.tb_t_ns));
      } else {
        std::fputs(",\n", f);
      }
      (r.minute ? summary.rows_1m : summary.rows_1s) += 1;
      summary.labelled += std::isfinite(r.tb_label) ? 1U : 0U;
    }
  }
  if (std::fflush(out.get()) != 0) {
    throw std::runtime_error(options.out + ": write failed");
  }
  return summary;
}

} // namespace qf::engine
