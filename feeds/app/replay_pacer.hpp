#pragma once
// ReplayPacer: how every replaying venue of qf-venue re-serves a capture, written once. Frames go
// out at their receive times divided by --speed (0: as fast as possible), held until the first
// subscription so a client that connects at the start sees every frame, at most 512 per pump;
// --loop restarts from the first frame, otherwise the replay is done. Service thread only.

#include <cstddef>
#include <cstdint>
#include <string>

#include "venue.hpp"
#include "venue_text.hpp"

namespace qf::feeds::venue {

class ReplayPacer {
public:
  ReplayPacer(double speed, bool loop) : speed_(speed), loop_(loop) {}

  // Sends the frames due at `now_ns`: recv_ns(i) is frame i's receive time, send(i) publishes it
  // and returns false when a fault withheld it. Returns what Venue::pump returns.
  template <class RecvNs, class Send>
  [[nodiscard]] std::int64_t pump(Host& host, std::uint64_t now_ns, std::size_t frames, RecvNs&& recv_ns, Send&& send) {
    if (!started_) {
      if (!host.has_sessions()) {
        return -1; // held until the first subscriber
      }
      started_ = true;
      start_ns_ = now_ns;
      base_ns_ = recv_ns(next_);
    }
    for (int budget = 512; budget > 0; --budget) {
      if (next_ == frames) {
        if (!loop_) {
          done_ = true;
          return -1;
        }
        ++loops_;
        next_ = 0;
        start_ns_ = now_ns;
        base_ns_ = recv_ns(0);
      }
      const std::uint64_t at = recv_ns(next_);
      if (speed_ > 0 && at > base_ns_) {
        const auto due = start_ns_ + static_cast<std::uint64_t>(static_cast<double>(at - base_ns_) / speed_);
        if (due > now_ns) {
          return static_cast<std::int64_t>(due - now_ns);
        }
      }
      if (send(next_++)) {
        ++sent_;
      }
    }
    return 0;
  }

  [[nodiscard]] bool started() const noexcept { return started_; }

  // /venue/stats members: "replay_started":..,"replay_done":..,"replay_frames":N,...
  void append_stats(std::string& out, std::size_t frames) const {
    out += "\"replay_started\":";
    out += started_ ? "true" : "false";
    out += ",\"replay_done\":";
    out += done_ ? "true" : "false";
    out += ",\"replay_frames\":";
    append_uint(out, frames);
    out += ",\"replay_position\":";
    append_uint(out, next_);
    out += ",\"replay_sent\":";
    append_uint(out, sent_);
    out += ",\"replay_loops\":";
    append_uint(out, loops_);
  }

private:
  double speed_;
  bool loop_;
  bool started_ = false;
  bool done_ = false;
  std::size_t next_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t base_ns_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t loops_ = 0;
};

// The /venue/stats members of a venue with a synthetic or a replayed market:
// "source":"synthetic"|"replay","generated":N, and the replay's when replaying.
[[nodiscard]] inline std::string market_stats(bool replay, std::uint64_t generated, const ReplayPacer& pacer,
                                              std::size_t frames) {
  std::string out = "\"source\":";
  out += replay ? "\"replay\"" : "\"synthetic\"";
  out += ",\"generated\":";
  append_uint(out, generated);
  if (replay) {
    out += ',';
    pacer.append_stats(out, frames);
  }
  return out;
}

} // namespace qf::feeds::venue
