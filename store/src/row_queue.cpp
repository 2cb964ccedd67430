#include "qf/store/row_queue.hpp"

namespace qf::store {

bool RowQueue::push(Row&& row) {
  const std::size_t t = idx(row.table);
  {
    std::lock_guard lock(mutex_);
    if (closed_ || rows_.size() >= capacity_) {
      dropped_[t].fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    rows_.push_back(std::move(row));
    if (rows_.size() > high_water_.load(std::memory_order_relaxed)) {
      high_water_.store(rows_.size(), std::memory_order_relaxed);
    }
  }
  pushed_[t].fetch_add(1, std::memory_order_relaxed);
  ready_.notify_one();
  return true;
}

std::size_t RowQueue::pop_batch(std::vector<Row>& out, std::size_t max, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, wait, [&] { return !rows_.empty() || closed_; });
  std::size_t n = 0;
  while (n < max && !rows_.empty()) {
    out.push_back(std::move(rows_.front()));
    rows_.pop_front();
    ++n;
  }
  return n;
}

void RowQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

std::size_t RowQueue::size() const {
  std::lock_guard lock(mutex_);
  return rows_.size();
}

} // namespace qf::store
