#pragma once
// Padded input for the venue parsers: simdjson reads up to kPadding bytes past a payload (any
// values), so every buffer a parser sees has that many readable bytes after its end. A receive
// buffer is allocated once as max_bytes + kPadding (WsConnection does it for frames, PaddedBuffer
// for REST bodies, replay and tests); "too big" is a refusal, never a regrowth.

#include <cstddef>
#include <memory>
#include <string_view>

namespace qf::feeds {

// Bytes that must be readable after every payload handed to a parser. Equal to
// simdjson::SIMDJSON_PADDING (checked where simdjson is included) so headers stay free of simdjson.h.
inline constexpr std::size_t kPadding = 64;

// A payload and how many bytes are readable from `data` (capacity >= size + kPadding).
struct PaddedView {
  const char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
};

// An owned buffer with room for `max_bytes` of payload plus kPadding, allocated once.
class PaddedBuffer {
public:
  explicit PaddedBuffer(std::size_t max_bytes);
  // Copies `payload` in; false (buffer unchanged) when it is longer than max_bytes.
  [[nodiscard]] bool assign(std::string_view payload) noexcept;
  [[nodiscard]] PaddedView view() const noexcept { return {data_.get(), size_, max_bytes_ + kPadding}; }
  [[nodiscard]] std::size_t max_bytes() const noexcept { return max_bytes_; }

private:
  std::unique_ptr<char[]> data_;
  std::size_t max_bytes_;
  std::size_t size_ = 0;
};

} // namespace qf::feeds
