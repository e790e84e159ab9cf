#include "common/async/fan_out.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>

#include "common/log/log.hpp"

namespace mailsan::async {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

// What the tasks and the waiter share; it outlives the waiter when tasks are
// abandoned.
struct Shared {
  Shared(const asio::any_io_executor& ex, std::size_t n)
      : finished(n, false), signals(n), all_done(ex, Clock::time_point::max()), left(n) {}
  std::vector<bool> finished;
  std::vector<asio::cancellation_signal> signals;
  asio::steady_timer all_done;  // cancelled when the last task ends
  std::size_t left;
};

}  // namespace

asio::awaitable<std::vector<bool>> fan_out(asio::any_io_executor ex, std::vector<Task> tasks,
                                           FanOutOptions options) {
  const std::size_t n = tasks.size();
  if (n == 0) co_return std::vector<bool>();
  auto shared = std::make_shared<Shared>(ex, n);
  for (std::size_t i = 0; i < n; ++i) {
    asio::co_spawn(
        ex,
        [task = std::move(tasks[i]), shared, i]() -> asio::awaitable<void> {
          try {
            co_await task();
          } catch (const std::exception& e) {
            log::error("task_failed").kv("error", e.what());
          }
          shared->finished[i] = true;
          if (--shared->left == 0) shared->all_done.cancel();
        },
        asio::bind_cancellation_slot(shared->signals[i].slot(), asio::detached));
  }
  // co_spawn may run a task to its end before returning (a cache hit that
  // never suspends); then there is nothing left to wait for.
  if (shared->left == 0) co_return shared->finished;

  if (!options.deadline) {
    co_await shared->all_done.async_wait(use_nothrow);
    co_return shared->finished;
  }
  asio::steady_timer deadline(ex, *options.deadline);
  auto first =
      co_await (shared->all_done.async_wait(use_nothrow) || deadline.async_wait(use_nothrow));
  if (first.index() == 0 || shared->left == 0) co_return shared->finished;

  const std::vector<bool> in_time = shared->finished;
  if (options.at_deadline == AtDeadline::cancel_and_wait) {
    for (std::size_t i = 0; i < n; ++i)
      if (!shared->finished[i]) shared->signals[i].emit(asio::cancellation_type::terminal);
    if (shared->left > 0) {
      shared->all_done.expires_at(Clock::time_point::max());
      co_await shared->all_done.async_wait(use_nothrow);
    }
  }
  co_return in_time;
}

}  // namespace mailsan::async
