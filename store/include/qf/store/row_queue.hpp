#pragma once
// RowQueue: the bounded queue between the sources and the writer. A push to a full queue drops
// the row and counts it per table (published in the status file); nothing blocks the source.
// A mutex and a condition variable: the store is a reader process off every hot path, rows
// arrive at most a few thousand a second, and the writer waits on the database anyway.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "qf/store/row.hpp"

namespace qf::store {

class RowQueue {
public:
  explicit RowQueue(std::size_t capacity) : capacity_(capacity) {}

  // False (and counted in dropped(table)) when the queue is full or closed.
  bool push(Row&& row);
  // Moves up to `max` rows into `out`, waiting up to `wait` for the first one; returns how many.
  std::size_t pop_batch(std::vector<Row>& out, std::size_t max, std::chrono::milliseconds wait);
  // No more pushes; wakes the writer.
  void close();

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint64_t pushed(Table t) const noexcept { return pushed_[idx(t)].load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t dropped(Table t) const noexcept { return dropped_[idx(t)].load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t high_water() const noexcept { return high_water_.load(std::memory_order_relaxed); }

private:
  static constexpr std::size_t idx(Table t) noexcept { return static_cast<std::size_t>(t); }
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Row> rows_;
  bool closed_ = false;
  std::array<std::atomic<std::uint64_t>, kTableCount> pushed_{};
  std::array<std::atomic<std::uint64_t>, kTableCount> dropped_{};
  std::atomic<std::size_t> high_water_{0};
};

} // namespace qf::store
