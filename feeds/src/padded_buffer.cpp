#include "qf/feeds/padded_buffer.hpp"

#include <cstring>

namespace qf::feeds {

PaddedBuffer::PaddedBuffer(std::size_t max_bytes)
    : data_(std::make_unique<char[]>(max_bytes + kPadding)), max_bytes_(max_bytes) {
}

bool PaddedBuffer::assign(std::string_view payload) noexcept {
  if (payload.size() > max_bytes_) {
    return false;
  }
  std::memcpy(data_.get(), payload.data(), payload.size());
  std::memset(data_.get() + payload.size(), 0, kPadding);
  size_ = payload.size();
  return true;
}

} // namespace qf::feeds
