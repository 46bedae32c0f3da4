//===- Status.h - Error values for the growc runtime ------------*- C++ -*-===//
//
// The runtime reports failures (bad files, I/O errors) as values rather than
// exceptions: it is loaded into host processes that may be built without
// exception support, and a malformed checkpoint must never bring such a
// process down. Status carries an error message; StatusOr<T> carries either a
// T or an error.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_STATUS_H
#define GROWC_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace growc::rt {

/// Either success or an error with a human-readable message. Marked
/// [[nodiscard]] so that a dropped error is a compiler warning.
class [[nodiscard]] Status {
public:
  /// A successful status (the default-constructed value).
  Status() = default;

  static Status ok() { return Status(); }

  /// An error. An empty message is replaced by a placeholder so that an
  /// error is never mistaken for success nor printed as an empty string.
  static Status error(std::string message) {
    Status s;
    s.failed = true;
    s.msg = message.empty() ? std::string("unknown error") : std::move(message);
    return s;
  }

  // Deliberately no operator bool: LLVM's Error converts to true on failure
  // while std::optional converts to true on success, and growc uses both.
  bool isOk() const { return !failed; }

  /// The error message; empty for a successful status.
  const std::string &message() const { return msg; }

private:
  bool failed = false;
  std::string msg;
};

/// Either a value of type T or an error Status.
template <typename T> class [[nodiscard]] StatusOr {
public:
  /// Implicit so that functions can simply `return value;`.
  StatusOr(T value) : val(std::move(value)) {}

  /// Implicit so that functions can simply `return Status::error(...);`.
  /// Constructing from an ok Status is a programming error; rather than
  /// leaving a StatusOr that is neither a value nor an error, it becomes an
  /// error saying so.
  StatusOr(Status error) : st(std::move(error)) {
    if (st.isOk())
      st = Status::error("internal error: StatusOr constructed from an ok "
                         "Status without a value");
  }

  bool isOk() const { return val.has_value(); }

  /// Status::ok() when holding a value, otherwise the error.
  const Status &status() const { return st; }

  /// Accessors. Precondition: isOk().
  T &value() & {
    assert(isOk() && "StatusOr::value() called on an error");
    return *val;
  }
  const T &value() const & {
    assert(isOk() && "StatusOr::value() called on an error");
    return *val;
  }
  T &&value() && {
    assert(isOk() && "StatusOr::value() called on an error");
    return std::move(*val);
  }

  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T &&operator*() && { return std::move(*this).value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  Status st;
  std::optional<T> val;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_STATUS_H
