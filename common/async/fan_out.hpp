// Runs several tasks at once and waits for all of them, or until a deadline:
// the shape both pipelines share (a policy request's lookups, a message's
// scanners). Each task runs as its own coroutine, so one that is abandoned
// at the deadline finishes harmlessly on its own; it must therefore own (or
// share ownership of) everything it touches.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace mailsan::async {

using Task = std::function<boost::asio::awaitable<void>()>;

enum class AtDeadline {
  // Stop waiting; unfinished tasks go on and end by themselves (a lookup
  // that may still fill a cache).
  abandon,
  // Cancel unfinished tasks (terminal cancellation) and wait until each has
  // ended, so that nothing still reads what the caller is about to free (a
  // scanner reading the message spool).
  cancel_and_wait,
};

struct FanOutOptions {
  // None: wait for every task; a caller may still bound the wait from
  // outside (awaitable operators), which abandons the tasks.
  std::optional<std::chrono::steady_clock::duration> deadline;
  AtDeadline at_deadline = AtDeadline::abandon;
};

// Starts every task on `ex` and returns, per task, whether it finished before
// the deadline. A task that throws counts as finished; the exception is
// logged ("task_failed") and goes no further, so callers that want a
// failure as a value catch it in the task.
boost::asio::awaitable<std::vector<bool>> fan_out(boost::asio::any_io_executor ex,
                                                  std::vector<Task> tasks,
                                                  FanOutOptions options = {});

}  // namespace mailsan::async
