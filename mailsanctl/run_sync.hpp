// Runs one coroutine of the shared code (the quarantine, ...) to its end on
// an io_context of its own: mailsanctl is a command-line tool that does one
// thing at a time, and its adapters answer synchronously, so the coroutine
// finishes within run(). An exception from it is rethrown here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace mailsan::ctl {

template <class T>
T run_sync(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  std::optional<T> result;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e)
      failure = e;
    else
      result.emplace(std::move(value));
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

}  // namespace mailsan::ctl
