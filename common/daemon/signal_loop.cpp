#include "common/daemon/signal_loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>

namespace mailsan::daemon {
namespace asio = boost::asio;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

void start_signal_loop(asio::io_context& io, std::function<void()> on_reload,
                       std::function<asio::awaitable<void>()> on_stop) {
  asio::co_spawn(
      io,
      [&io, on_reload = std::move(on_reload),
       on_stop = std::move(on_stop)]() -> asio::awaitable<void> {
        asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
        for (;;) {
          auto [ec, sig] = co_await signals.async_wait(use_nothrow);
          if (ec) co_return;
          if (sig != SIGHUP) break;
          on_reload();
        }
        // Still registered while draining: a second SIGTERM is absorbed
        // rather than killing the process with messages in flight.
        co_await on_stop();
        signals.cancel();
        io.stop();
      },
      asio::detached);
}

asio::awaitable<void> wait_until(std::function<bool()> done,
                                 std::chrono::steady_clock::time_point give_up,
                                 std::chrono::steady_clock::duration interval) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    timer.expires_after(interval);
    co_await timer.async_wait(use_nothrow);
  }
}

}  // namespace mailsan::daemon
