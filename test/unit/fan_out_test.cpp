#include "common/async/fan_out.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>

namespace asio = boost::asio;
using mailsan::async::AtDeadline;
using mailsan::async::fan_out;
using mailsan::async::FanOutOptions;
using mailsan::async::Task;
using namespace std::chrono_literals;

namespace {

// A task that waits `delay` and then marks `*done`; with `cancelled` it also
// records whether its wait was cancelled.
Task waits(std::chrono::milliseconds delay, std::shared_ptr<int> done,
           std::shared_ptr<int> cancelled = nullptr) {
  return [delay, done, cancelled]() -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, delay);
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec && cancelled) ++*cancelled;
    ++*done;
  };
}

std::vector<bool> run(asio::io_context& io, std::vector<Task> tasks, FanOutOptions options) {
  std::vector<bool> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await fan_out(io.get_executor(), std::move(tasks), options);
      },
      asio::detached);
  io.run();
  return result;
}

}  // namespace

TEST_CASE("fan_out waits for every task when there is no deadline", "[fan_out]") {
  asio::io_context io;
  auto done = std::make_shared<int>(0);
  std::vector<Task> tasks{waits(5ms, done), waits(1ms, done), waits(0ms, done)};
  auto finished = run(io, std::move(tasks), {});
  CHECK(finished == std::vector<bool>{true, true, true});
  CHECK(*done == 3);
}

TEST_CASE("fan_out returns at once when every task completes without suspending", "[fan_out]") {
  asio::io_context io;
  auto done = std::make_shared<int>(0);
  std::vector<Task> tasks;
  for (int i = 0; i < 3; ++i)
    tasks.push_back([done]() -> asio::awaitable<void> {
      ++*done;
      co_return;
    });
  auto finished = run(io, std::move(tasks), {.deadline = 10s});
  CHECK(finished == std::vector<bool>{true, true, true});
  CHECK(*done == 3);
}

TEST_CASE("fan_out abandons a slow task at the deadline and it still ends by itself", "[fan_out]") {
  asio::io_context io;
  auto done = std::make_shared<int>(0);
  auto cancelled = std::make_shared<int>(0);
  std::vector<Task> tasks{waits(1ms, done), waits(200ms, done, cancelled)};
  auto start = std::chrono::steady_clock::now();
  std::vector<bool> finished;
  std::chrono::steady_clock::duration waited{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        finished = co_await fan_out(io.get_executor(), std::move(tasks),
                                    {.deadline = 20ms, .at_deadline = AtDeadline::abandon});
        waited = std::chrono::steady_clock::now() - start;
      },
      asio::detached);
  io.run();  // returns once the abandoned task has ended too
  CHECK(finished == std::vector<bool>{true, false});
  CHECK(waited < 150ms);
  CHECK(*done == 2);
  CHECK(*cancelled == 0);  // abandoned, not cancelled
}

TEST_CASE("fan_out cancels unfinished tasks at the deadline and waits until they let go",
          "[fan_out]") {
  asio::io_context io;
  auto done = std::make_shared<int>(0);
  auto cancelled = std::make_shared<int>(0);
  std::vector<Task> tasks{waits(1ms, done), waits(10s, done, cancelled)};
  auto start = std::chrono::steady_clock::now();
  std::vector<bool> finished;
  int done_when_returned = -1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        finished = co_await fan_out(io.get_executor(), std::move(tasks),
                                    {.deadline = 20ms, .at_deadline = AtDeadline::cancel_and_wait});
        done_when_returned = *done;
      },
      asio::detached);
  io.run();
  CHECK(finished == std::vector<bool>{true, false});
  CHECK(done_when_returned == 2);  // the cancelled task had ended before fan_out returned
  CHECK(*cancelled == 1);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("fan_out counts a task that throws as finished", "[fan_out]") {
  asio::io_context io;
  auto done = std::make_shared<int>(0);
  std::vector<Task> tasks{[]() -> asio::awaitable<void> {
                            throw std::runtime_error("boom");
                            co_return;
                          },
                          waits(1ms, done)};
  auto finished = run(io, std::move(tasks), {.deadline = 1s});
  CHECK(finished == std::vector<bool>{true, true});
  CHECK(*done == 1);
}
