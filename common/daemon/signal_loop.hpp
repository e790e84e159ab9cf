// The signals every mailsan daemon answers (SPEC §6): SIGHUP reloads,
// SIGTERM and SIGINT drain and stop. One loop, so each daemon writes only
// what reloading and draining mean for it.
//
//   daemon::start_signal_loop(
//       io, [&] { /* re-read the config, apply what may change */ },
//       [&]() -> asio::awaitable<void> {
//         server.stop();
//         co_await daemon::wait_until([&] { return server.idle(); }, give_up);
//         co_await counters.flush();
//       });
//   io.run();  // returns once on_stop has finished
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace mailsan::daemon {

// Spawns the loop on `io`. on_reload runs for each SIGHUP, on the I/O
// thread; the first SIGTERM or SIGINT runs on_stop and then stops `io`.
// Signals that come while on_stop runs are ignored.
void start_signal_loop(boost::asio::io_context& io, std::function<void()> on_reload,
                       std::function<boost::asio::awaitable<void>()> on_stop);

// Checks `done` every `interval` until it returns true or `give_up` has
// passed: the drain after SIGTERM, bounded by the daemon's own timeouts.
boost::asio::awaitable<void> wait_until(
    std::function<bool()> done, std::chrono::steady_clock::time_point give_up,
    std::chrono::steady_clock::duration interval = std::chrono::milliseconds(10));

}  // namespace mailsan::daemon
