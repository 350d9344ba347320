#pragma once
/// Errors that cross module boundaries without tying them together.

#include <stdexcept>
#include <string>

namespace peregrine::core {

/// A bounded queue is full: the work was refused, not queued. The HTTP
/// server answers 503 with `Retry-After: retry_after_s`; the thrower has
/// counted the refusal.
class Overloaded : public std::runtime_error {
 public:
  explicit Overloaded(const std::string& what, int retry_after_s = 1)
      : std::runtime_error(what), retry_after_s_(retry_after_s) {}
  int retry_after_s() const noexcept { return retry_after_s_; }

 private:
  int retry_after_s_;
};

}  // namespace peregrine::core
