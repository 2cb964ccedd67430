// qf-monitor: a read-only terminal view of a running qf-engine (aeron_stat in spirit).
//   qf-monitor [--instance NAME] [--interval MS] [--once | --json]
// It maps /qf.<instance>.state read-only, waits politely while no engine is there, follows
// engine restarts, and never writes to the segment. Keys: q quit, j/k or arrows select,
// Tab switches between the quotes and latency panes, s toggles interval/cumulative latency,
// ? help. It redraws on terminal resize.
#include <ncurses.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "qf/ipc/state_reader.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "render.hpp"

namespace {

using qf::ipc::StateSnapshot;

struct Options {
  std::string instance = "default";
  int interval_ms = 250;
  bool once = false;
  bool json = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "qf-monitor: %s\nusage: qf-monitor [--instance NAME] [--interval MS] [--once | --json]\n", why);
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--instance" && i + 1 < argc) {
      o.instance = argv[++i];
    } else if (a == "--interval" && i + 1 < argc) {
      try {
        o.interval_ms = std::stoi(argv[++i]);
      } catch (const std::exception&) {
        usage("--interval takes milliseconds");
      }
      if (o.interval_ms < 10 || o.interval_ms > 60'000) {
        usage("--interval must be within 10..60000 ms");
      }
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-h" || a == "--help") {
      usage("help");
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  return o;
}

volatile std::sig_atomic_t g_stop = 0;

enum Pair : short { kGood = 1, kWarn, kBad, kBadge, kSelected, kDim };

short health_colour(qf::ipc::BookHealth h) {
  switch (h) {
  case qf::ipc::BookHealth::live: return kGood;
  case qf::ipc::BookHealth::syncing: return kWarn;
  default: return kBad;
  }
}

class Screen {
public:
  explicit Screen(const Options& o) : options_(o), reader_(o.instance) {
    for (auto& h : previous_) {
      h = std::make_unique<qf::ipc::HistogramSnapshot>();
    }
  }

  int run() {
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    if (has_colors()) {
      start_color();
      use_default_colors();
      init_pair(kGood, COLOR_GREEN, -1);
      init_pair(kWarn, COLOR_YELLOW, -1);
      init_pair(kBad, COLOR_RED, -1);
      init_pair(kBadge, COLOR_BLACK, COLOR_YELLOW);
      init_pair(kSelected, COLOR_BLACK, COLOR_CYAN);
      init_pair(kDim, COLOR_BLUE, -1);
    }
    timeout(options_.interval_ms);
    auto last = std::chrono::steady_clock::now();
    refresh_state(0.0);
    while (g_stop == 0) {
      draw();
      const int key = getch();
      if (key == 'q' || key == 'Q') {
        break;
      }
      handle_key(key);
      const auto now = std::chrono::steady_clock::now();
      const double elapsed = std::chrono::duration<double>(now - last).count();
      if (elapsed * 1000.0 >= options_.interval_ms * 0.9) {
        refresh_state(elapsed);
        last = now;
      }
    }
    endwin();
    return 0;
  }

private:
  void refresh_state(double seconds) {
    auto next = std::make_unique<StateSnapshot>();
    reader_.read(*next);
    if (current_) {
      rates_ = qf::monitor::rates_between(*current_, *next, seconds);
      if (current_->generation == next->generation) {
        for (std::size_t i = 0; i < qf::ipc::kStageCount; ++i) {
          *previous_[i] = *current_->latency[i];
        }
        have_previous_ = true;
      } else {
        have_previous_ = false;
      }
    }
    current_ = std::move(next);
  }

  void handle_key(int key) {
    const bool on_quotes = focus_ == 0;
    const int count = on_quotes ? static_cast<int>(current_->instruments.size()) : static_cast<int>(qf::ipc::kStageCount);
    int& sel = on_quotes ? selected_instrument_ : selected_stage_;
    switch (key) {
    case KEY_UP:
    case 'k': sel = std::max(0, sel - 1); break;
    case KEY_DOWN:
    case 'j': sel = std::min(std::max(0, count - 1), sel + 1); break;
    case '\t': focus_ = 1 - focus_; break;
    case 's': cumulative_ = !cumulative_; break;
    case '?': help_ = !help_; break;
    case KEY_RESIZE: clear(); break;
    default: break;
    }
  }

  void put(int y, int x, const std::string& text, int attrs = 0) {
    const int width = COLS - x;
    if (y >= LINES || width <= 0) {
      return;
    }
    if (attrs != 0) {
      attron(attrs);
    }
    mvaddnstr(y, x, text.c_str(), width);
    if (attrs != 0) {
      attroff(attrs);
    }
  }

  void draw() {
    erase();
    const StateSnapshot& s = *current_;
    const std::uint64_t now = qf::ipc::realtime_ns();
    int y = 0;
    put(y, 0, "QuantFlow monitor", A_BOLD);
    if (!qf::ipc::has_engine(s.status)) {
      put(y, 19, std::string("engine: ") + qf::ipc::to_string(s.status), COLOR_PAIR(kWarn) | A_BOLD);
      put(2, 0, s.message);
      put(4, 0, "waiting for the engine on instance '" + options_.instance + "' (q quits)", COLOR_PAIR(kDim));
      refresh();
      return;
    }
    const std::string badge = std::string(" ") + qf::ipc::to_string(s.mode) + " ";
    put(y, 19, badge, COLOR_PAIR(s.mode == qf::ipc::EngineMode::live ? kGood : kBadge) | A_BOLD | A_REVERSE);
    const short state_colour = s.status == qf::ipc::EngineStatus::running ? kGood : kBad;
    std::string state = std::string("engine ") + qf::ipc::to_string(s.status);
    if (s.status == qf::ipc::EngineStatus::stalled) {
      state += " (heartbeat " + qf::monitor::duration_text(s.heartbeat_age_ns) + " ago)";
    }
    put(y, 21 + static_cast<int>(badge.size()), state, COLOR_PAIR(state_colour) | A_BOLD);
    char line[512];
    std::snprintf(line, sizeof line, "gen %llu  pid %d  up %s  %.0f msg/s in  %.0f events/s  core cpu %d  %s",
                  static_cast<unsigned long long>(s.generation), s.engine_pid,
                  qf::monitor::duration_text(now > s.start_unix_ns ? now - s.start_unix_ns : 0).c_str(),
                  rates_.messages_per_s, rates_.events_per_s, s.engine.core_cpu,
                  qf::monitor::profile_text(s.engine).c_str());
    put(++y, 0, line);
    put(++y, 0, qf::monitor::risk_line(s),
        qf::monitor::kill_tripped(s) ? COLOR_PAIR(kBad) | A_BOLD : (s.portfolio.drawdown > 0.05 ? COLOR_PAIR(kWarn) : 0));
    y += 1;

    std::snprintf(line, sizeof line, "%-17s %-10s %15s %15s %8s %15s %9s %-12s %7s %6s", "VENUE", "SYMBOL", "BID", "ASK",
                  "SPR bps", "LAST", "AGE", "HEALTH", "SIGNAL", "REGIME");
    put(y++, 0, line, A_BOLD | (focus_ == 0 ? A_UNDERLINE : 0));
    for (std::size_t i = 0; i < s.instruments.size() && y < LINES - 12; ++i) {
      const auto& in = s.instruments[i];
      const int pd = in.info.price_decimals;
      const double bid = static_cast<double>(in.quote.bid_price);
      const double ask = static_cast<double>(in.quote.ask_price);
      const double spread = bid > 0 ? (ask - bid) / ((ask + bid) / 2) * 1e4 : 0.0;
      const std::uint64_t age = now > in.quote.updated_unix_ns && in.quote.updated_unix_ns != 0 ? now - in.quote.updated_unix_ns : 0;
      const auto px = [pd](std::int64_t price, std::int64_t qty) {
        return qty == 0 ? std::string("-") : qf::monitor::price_text(price, pd);
      };
      const bool two_sided = in.quote.bid_qty != 0 && in.quote.ask_qty != 0;
      char spread_text[16];
      std::snprintf(spread_text, sizeof spread_text, two_sided ? "%.3f" : "-", spread);
      std::snprintf(line, sizeof line, "%-17s %-10s %15s %15s %8s %15s %9s", in.info.venue.data(), in.info.symbol.data(),
                    px(in.quote.bid_price, in.quote.bid_qty).c_str(), px(in.quote.ask_price, in.quote.ask_qty).c_str(),
                    spread_text, px(in.quote.last_price, in.quote.last_qty).c_str(),
                    in.quote.updated_unix_ns == 0 ? "-" : qf::monitor::duration_text(age).c_str());
      const bool sel = focus_ == 0 && static_cast<int>(i) == selected_instrument_;
      put(y, 0, line, sel ? COLOR_PAIR(kSelected) : 0);
      put(y, 93, qf::ipc::to_string(in.health.health), COLOR_PAIR(health_colour(in.health.health)) | A_BOLD);
      std::snprintf(line, sizeof line, "%+7.3f %6u", in.signal.signal, in.signal.dominant);
      put(y, 106, line);
      ++y;
    }
    ++y;
    if (!s.composites.empty()) {
      put(y++, 0, "COMPOSITE BOOKS", A_BOLD);
      const std::vector<std::string> lines = qf::monitor::composite_lines(s);
      for (std::size_t i = 0; i < lines.size() && y < LINES - 12; ++i) {
        const bool crossed = lines[i].find("CROSSED") != std::string::npos;
        put(y++, 0, lines[i], i % 2 == 0 ? A_BOLD | (crossed ? COLOR_PAIR(kWarn) : 0) : (lines[i].find("excluded") != std::string::npos ? COLOR_PAIR(kWarn) : 0));
      }
      ++y;
    }
    put(y++, 0, std::string("LATENCY (") + (cumulative_ ? "since start" : "last interval") + ", s toggles)",
        A_BOLD | (focus_ == 1 ? A_UNDERLINE : 0));
    put(y++, 0, qf::monitor::latency_heading(), A_BOLD);
    for (std::size_t i = 0; i < qf::ipc::kStageCount; ++i) {
      put(y++, 0, qf::monitor::latency_row(static_cast<qf::ipc::Stage>(i), stage_histogram(i)),
          focus_ == 1 && static_cast<int>(i) == selected_stage_ ? COLOR_PAIR(kSelected) : 0);
    }
    y = draw_histogram(y + 1, stage_histogram(static_cast<std::size_t>(selected_stage_)));
    if (!s.feeds.empty() && y < LINES - 3) {
      put(++y, 0, "FEEDS", A_BOLD);
      for (const auto& f : s.feeds) {
        std::snprintf(line, sizeof line, "%-20s msgs %llu  reconnects %llu  gaps %llu  resyncs %llu  parse errors %llu  ring hw %llu",
                      f.name.data(), static_cast<unsigned long long>(f.messages), static_cast<unsigned long long>(f.reconnects),
                      static_cast<unsigned long long>(f.gaps), static_cast<unsigned long long>(f.resyncs),
                      static_cast<unsigned long long>(f.parse_errors), static_cast<unsigned long long>(f.ring_high_water));
        put(++y, 0, line);
      }
    }
    if (y < LINES - 2) {
      put(++y, 0, "RECENT EVENTS", A_BOLD);
      const std::size_t room = static_cast<std::size_t>(std::max(0, LINES - y - 2));
      const std::size_t from = s.events.size() > room ? s.events.size() - room : 0;
      for (std::size_t i = from; i < s.events.size(); ++i) {
        put(++y, 0, std::string(s.events[i].text.data()));
      }
    }
    if (help_) {
      draw_help();
    }
    put(LINES - 1, 0, "q quit  j/k select  Tab pane  s interval/cumulative  ? help", COLOR_PAIR(kDim));
    refresh();
  }

  const qf::ipc::HistogramSnapshot& stage_histogram(std::size_t i) {
    if (cumulative_ || !have_previous_) {
      return *current_->latency[i];
    }
    interval_ = current_->latency[i]->since(*previous_[i]);
    return interval_;
  }

  // Horizontal bars over power-of-two ranges of the selected stage.
  int draw_histogram(int y, const qf::ipc::HistogramSnapshot& h) {
    put(y++, 0, std::string("histogram: ") + qf::ipc::to_string(static_cast<qf::ipc::Stage>(selected_stage_)), A_BOLD);
    std::array<std::uint64_t, 38> octaves{};
    for (std::size_t b = 0; b < h.buckets.size(); ++b) {
      if (h.buckets[b] != 0) {
        const std::uint64_t lo = qf::ipc::HistogramBucketing::lower_bound(b);
        const auto oct = static_cast<std::size_t>(lo == 0 ? 0 : 64 - __builtin_clzll(lo));
        octaves[std::min(oct, octaves.size() - 1)] += h.buckets[b];
      }
    }
    std::size_t first = octaves.size();
    std::size_t last = 0;
    std::uint64_t peak = 0;
    for (std::size_t i = 0; i < octaves.size(); ++i) {
      if (octaves[i] != 0) {
        first = std::min(first, i);
        last = i;
        peak = std::max(peak, octaves[i]);
      }
    }
    if (peak == 0) {
      put(y++, 2, "(no samples)", COLOR_PAIR(kDim));
      return y;
    }
    const int bar_width = std::max(10, COLS - 34);
    for (std::size_t i = first; i <= last && y < LINES - 6; ++i) {
      const std::uint64_t lo = i == 0 ? 0 : (std::uint64_t{1} << (i - 1));
      char label[64];
      std::snprintf(label, sizeof label, "%9s %10llu ", qf::monitor::duration_text(lo).c_str(),
                    static_cast<unsigned long long>(octaves[i]));
      const auto len = static_cast<int>(static_cast<double>(octaves[i]) / static_cast<double>(peak) * bar_width);
      put(y, 2, label);
      put(y, 24, std::string(static_cast<std::size_t>(std::max(len, octaves[i] ? 1 : 0)), '#'), COLOR_PAIR(kGood));
      ++y;
    }
    return y;
  }

  void draw_help() {
    const char* lines[] = {" qf-monitor keys ", " q        quit", " j/k, up/down   select", " Tab      quotes <-> latency pane",
                           " s        latency: last interval / since start", " ?        this help"};
    int y = 3;
    for (const char* l : lines) {
      put(y++, 4, std::string(l) + std::string(48 - std::min<std::size_t>(48, std::strlen(l)), ' '),
          COLOR_PAIR(kSelected));
    }
  }

  Options options_;
  qf::ipc::StateReader reader_;
  std::unique_ptr<StateSnapshot> current_;
  std::array<std::unique_ptr<qf::ipc::HistogramSnapshot>, qf::ipc::kStageCount> previous_;
  qf::ipc::HistogramSnapshot interval_;
  bool have_previous_ = false;
  qf::monitor::Rates rates_;
  int focus_ = 0;
  int selected_instrument_ = 0;
  int selected_stage_ = static_cast<int>(qf::ipc::Stage::receive_to_publish);
  bool cumulative_ = false;
  bool help_ = false;
};

} // namespace

int main(int argc, char** argv) {
  const Options options = parse_args(argc, argv);
  if (options.once || options.json) {
    qf::ipc::StateReader reader(options.instance);
    auto snap = std::make_unique<StateSnapshot>();
    reader.read(*snap);
    const std::string out = options.json ? qf::monitor::json_report(*snap, qf::ipc::realtime_ns())
                                         : qf::monitor::text_report(*snap, qf::ipc::realtime_ns());
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  return Screen(options).run();
}
