#pragma once
// EventSink: where a parser, a book sync or a session hands its core::Event values (the feed
// ring's RingSink live, a batch in replay, a vector in tests). A non-owning callable reference
// `void(const core::Event&)`: a function pointer and an object pointer, no allocation, so it is
// passed by value on the hot path. The callable must outlive the call it is passed to.

#include <memory>
#include <type_traits>

#include "qf/core/event.hpp"

namespace qf::feeds {

class EventSink {
public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, EventSink> &&
           std::is_invocable_v<std::remove_reference_t<F>&, const core::Event&>) EventSink(F&& f)
  noexcept // NOLINT(google-explicit-constructor): used like a function parameter
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, const core::Event& e) { (*static_cast<std::remove_reference_t<F>*>(object))(e); }) {}

  void operator()(const core::Event& e) const { call_(object_, e); }

private:
  void* object_;
  void (*call_)(void*, const core::Event&);
};

} // namespace qf::feeds
