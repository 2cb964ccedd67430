// What every parser harness shares: the input bound, the exact-size padded copy, and a sink whose
// sum the optimiser must keep (so no parse or emit is dropped as unused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "qf/core/event.hpp"
#include "qf/feeds/padded_buffer.hpp"

namespace qf::fuzz {

inline constexpr std::size_t kMaxInput = std::size_t{1} << 20; // the parsers' max_message_bytes

// The input in a buffer of exactly size + kPadding bytes, so ASan sees any read past the padding;
// nothing when the input is over kMaxInput.
inline std::optional<feeds::PaddedBuffer> padded_input(const std::uint8_t* data, std::size_t size) {
  if (size > kMaxInput) {
    return std::nullopt;
  }
  std::optional<feeds::PaddedBuffer> buffer(std::in_place, size);
  if (!buffer->assign(std::string_view(reinterpret_cast<const char*>(data), size))) {
    return std::nullopt;
  }
  return buffer;
}

// A sink folding every event into `sum`.
inline auto summing_sink(std::uint64_t& sum) {
  return [&sum](const core::Event& e) { sum += e.seq + static_cast<std::uint64_t>(e.level.qty); };
}

// Makes `value` observable, so the work that produced it stays.
inline void keep(std::uint64_t value) { __asm__ volatile("" : : "r"(value) : "memory"); }

} // namespace qf::fuzz
