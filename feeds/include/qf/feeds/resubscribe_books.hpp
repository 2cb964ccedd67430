#pragma once
// ResubscribeBooks: the per-instrument bookkeeping of a venue whose only way back to a correct
// book is a fresh snapshot from a resubscribe (Coinbase level2, Kraken book; no REST), written
// once. It holds one Slot per instrument of a connection (ids 0..n-1, the parser's), and does
// what is the same for every such venue: a disconnect makes every book not live with a
// `disconnected` status, an operator resync makes one not live with a `resync` status and raises
// a resubscribe request the session takes once, and the state / counters lookups that answer
// safely for an unknown id. A venue's BookSync derives from it and writes only its on_message
// (what a snapshot, an update, a checksum or a sequence mean), its on_disconnect and its own slot
// fields. ResubscribeBookSet is the face ResubscribeSession sees (cold calls, virtual).
// Slot derives from SyncSlot<Counters>; Counters has `disconnects` and `resyncs`. Feed thread;
// nothing allocates after construction.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/emitters.hpp"
#include "qf/feeds/event_sink.hpp"

namespace qf::feeds {

enum class SubscribedBookState : std::uint8_t {
  syncing, // no snapshot yet, or a disconnect / resync / integrity failure since
  live,    // the book is the venue's
};

// What a session asks of its BookSync apart from on_message.
class ResubscribeBookSet {
public:
  virtual ~ResubscribeBookSet() = default;
  // The connection dropped: every book not live until its next snapshot (`disconnected` each).
  virtual void on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept = 0;
  virtual void resync(core::InstrumentId instrument, std::uint64_t recv_ticks, EventSink sink) noexcept = 0;
  [[nodiscard]] virtual bool take_resubscribe_request(core::InstrumentId instrument) noexcept = 0;
  [[nodiscard]] virtual SubscribedBookState state(core::InstrumentId instrument) const noexcept = 0;
};

template <class Counters> struct SyncSlot {
  SubscribedBookState state = SubscribedBookState::syncing;
  bool resubscribe = false;
  Counters counters;
};

template <class Slot> class ResubscribeBooks : public ResubscribeBookSet {
public:
  using Counters = decltype(Slot::counters);

  // The operator's resync of one instrument: not live, a `resync` status, a resubscribe request.
  // Unknown ids are ignored (counted).
  void resync(core::InstrumentId instrument, std::uint64_t recv_ticks, EventSink sink) noexcept override {
    if (instrument >= slots_.size()) {
      ++ignored_;
      return;
    }
    Slot& s = slots_[instrument];
    s.state = SubscribedBookState::syncing;
    s.resubscribe = true;
    ++s.counters.resyncs;
    emit_status(instrument, core::FeedStatus::resync, 0, 0, recv_ticks, sink);
  }
  // True once per instrument whose book asked for a resubscribe since the last call; the session
  // resubscribes `instrument` when it returns true.
  [[nodiscard]] bool take_resubscribe_request(core::InstrumentId instrument) noexcept override {
    if (instrument >= slots_.size() || !slots_[instrument].resubscribe) {
      return false;
    }
    slots_[instrument].resubscribe = false;
    return true;
  }

  [[nodiscard]] std::size_t instruments() const noexcept { return slots_.size(); }
  [[nodiscard]] SubscribedBookState state(core::InstrumentId instrument) const noexcept override {
    return instrument < slots_.size() ? slots_[instrument].state : SubscribedBookState::syncing;
  }
  [[nodiscard]] const Counters& counters(core::InstrumentId instrument) const noexcept {
    return instrument < slots_.size() ? slots_[instrument].counters : kNoCounters;
  }
  [[nodiscard]] std::uint64_t ignored() const noexcept { return ignored_; }

protected:
  // Throws std::invalid_argument unless instruments is in [1, 65535) (`owner` names the class).
  ResubscribeBooks(std::size_t instruments, const char* owner) {
    if (instruments == 0 || instruments >= 0xffff) {
      throw std::invalid_argument(std::string(owner) + ": instruments must be in [1, 65535)");
    }
    slots_.resize(instruments);
  }

  // The connection dropped: every book not live until its next snapshot, a `disconnected` status
  // each; `reset(slot)` forgets what the venue tracks per connection.
  template <class Reset> void disconnect_all(std::uint64_t recv_ticks, EventSink sink, Reset&& reset) noexcept {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      s.state = SubscribedBookState::syncing;
      ++s.counters.disconnects;
      reset(s);
      emit_status(static_cast<core::InstrumentId>(i), core::FeedStatus::disconnected, 0, 0, recv_ticks, sink);
    }
  }

  std::vector<Slot> slots_;
  std::uint64_t ignored_ = 0;

private:
  static inline const Counters kNoCounters{};
};

} // namespace qf::feeds
