// Running a test body written as a coroutine on an io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>

namespace mailsan::test {

// Runs one test coroutine on io until it returns, rethrowing what it threw
// (a failed REQUIRE), with an overall limit so a hang fails the test instead
// of blocking the suite.
inline void run_test(boost::asio::io_context& io, boost::asio::awaitable<void> body) {
  std::exception_ptr failure;
  bool finished = false;
  boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
    io.stop();
  });
  io.run_for(std::chrono::seconds(60));
  if (failure) std::rethrow_exception(failure);
  REQUIRE(finished);
}

inline boost::asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

}  // namespace mailsan::test
