#pragma once
/// Runs an awaitable to completion on a test's io_context, as the event loop
/// would, and hands back its result (or rethrows its exception). For tests
/// of repositories and other awaitable APIs; call from the test's thread.
/// T must be default-constructible (co_spawn hands one over on an exception).

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace peregrine::storage::testing {

template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e) { error = e; });
    io.restart();
    io.run();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<T> out;
    boost::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) out.emplace(std::move(v));
    });
    io.restart();
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
  }
}

}  // namespace peregrine::storage::testing
