#pragma once
// Readable gtest failures for the feeds' shared ParseResult: gtest finds PrintTo by ADL, so it
// sits in the enum's namespace.

#include <ostream>

#include "qf/feeds/parse_result.hpp"

namespace qf::feeds {

inline void PrintTo(ParseResult r, std::ostream* os) {
  *os << to_string(r);
}

} // namespace qf::feeds
