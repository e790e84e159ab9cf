// Client: each socket operation races a timer set to the call's deadline in
// a parallel group; whichever finishes first cancels the other, and the
// group completes once both are done, so nothing is left pending against the
// socket or the timer when a call returns. The caller's cancellation slot is
// connected to the group, which passes a cancellation on to both.
//
// Asio's awaitable throws from the next co_await once the caller's
// cancellation slot has fired; every co_await here is preceded by a check,
// so that a cancellation arriving between two steps (after a command was
// written, before its reply is read) comes back as a value too.
#include "common/smtp/client.hpp"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <tuple>
#include <utility>

namespace mailsan::smtp {

namespace asio = boost::asio;

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "smtp"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::timeout:
        return "SMTP deadline passed; the connection is closed and unusable";
      case errc::closed:
        return "the SMTP connection is closed";
      case errc::malformed_reply:
        return "the SMTP server sent a malformed reply";
      case errc::bad_command:
        return "SMTP command contains CR or LF; not sent";
    }
    return "unknown SMTP client error";
  }
};

// Bytes asked of the socket per read. A reply is bounded by ReplyParser
// (100 lines of 512 bytes); this bounds what waits behind it.
constexpr std::size_t kReadChunk = 4096;

using Clock = std::chrono::steady_clock;

// now + timeout, saturating instead of overflowing for a huge timeout.
Clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  const Clock::time_point now = Clock::now();
  if (timeout >=
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now))
    return Clock::time_point::max();
  return now + timeout;
}

std::error_code cancelled() {
  return std::make_error_code(std::errc::operation_canceled);
}

std::error_code from_socket(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::connection_aborted || ec == asio::error::broken_pipe)
    return errc::closed;
  if (ec == asio::error::operation_aborted) return cancelled();
  return ec;
}

// The outcome of an operation raced against the deadline timer: order[0]
// says which finished first. The timer finishing with an error means the
// group was cancelled from outside, by the caller.
std::error_code race_outcome(const std::array<std::size_t, 2>& order,
                             const boost::system::error_code& op_ec,
                             const boost::system::error_code& timer_ec) {
  if (order[0] == 0) return op_ec ? from_socket(op_ec) : std::error_code();
  if (!timer_ec) return errc::timeout;
  return cancelled();
}

bool has_line_break(std::string_view line) {
  return line.find_first_of("\r\n") != std::string_view::npos;
}

asio::awaitable<Result> refuse(errc why) {
  co_return Result{why, {}};
}

}  // namespace

const std::error_category& category() {
  static const Category instance;
  return instance;
}

Client::Client(asio::any_io_executor ex) : socket_(ex), deadline_timer_(ex) {}

void Client::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  parser_.reset();
  unparsed_.clear();
}

asio::awaitable<std::error_code> Client::connect(asio::ip::tcp::endpoint to,
                                                 std::chrono::milliseconds timeout,
                                                 const asio::ip::address* bind_from) {
  close();
  malformed_reason_.clear();
  const Clock::time_point deadline = deadline_after(timeout);
  boost::system::error_code ec;
  socket_.open(to.protocol(), ec);
  if (ec) co_return std::error_code(ec);
  if (bind_from != nullptr) {
    socket_.bind(asio::ip::tcp::endpoint(*bind_from, 0), ec);
    if (ec) {
      close();
      co_return std::error_code(ec);
    }
  }
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    close();
    co_return cancelled();
  }
  deadline_timer_.expires_at(deadline);
  auto group = asio::experimental::make_parallel_group(socket_.async_connect(to, asio::deferred),
                                                       deadline_timer_.async_wait(asio::deferred));
  const auto result =
      co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  const std::error_code failure =
      race_outcome(std::get<0>(result), std::get<1>(result), std::get<2>(result));
  if (failure) {
    close();
    co_return failure;
  }
  // Every write is a whole command or body chunk followed by waiting for a
  // reply; Nagle would only hold the tail of a body back until the server's
  // delayed ACK.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  co_return std::error_code();
}

asio::awaitable<Result> Client::read_reply(std::chrono::milliseconds timeout) {
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    close();
    co_return Result{cancelled(), {}};
  }
  co_return co_await read_until(deadline_after(timeout));
}

asio::awaitable<Result> Client::command(std::string_view line, std::chrono::milliseconds timeout) {
  // Checked and copied here, at the call, rather than in the coroutine: its
  // body runs only once awaited, and the caller's string may be gone by then.
  if (has_line_break(line)) return refuse(errc::bad_command);
  std::string wire;
  wire.reserve(line.size() + 2);
  wire.append(line).append("\r\n");
  return send_command(std::move(wire), timeout);
}

asio::awaitable<Result> Client::send_command(std::string wire, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = deadline_after(timeout);
  const std::error_code written = co_await write_until(wire, deadline);
  if (written) co_return Result{written, {}};
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    close();
    co_return Result{cancelled(), {}};
  }
  co_return co_await read_until(deadline);
}

asio::awaitable<std::error_code> Client::write(std::string_view bytes,
                                               std::chrono::milliseconds timeout) {
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    close();
    co_return cancelled();
  }
  co_return co_await write_until(bytes, deadline_after(timeout));
}

asio::awaitable<std::error_code> Client::write_until(std::string_view bytes,
                                                     Clock::time_point deadline) {
  if (!socket_.is_open()) co_return errc::closed;
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    close();
    co_return cancelled();
  }
  deadline_timer_.expires_at(deadline);
  auto group = asio::experimental::make_parallel_group(
      asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), asio::deferred),
      deadline_timer_.async_wait(asio::deferred));
  const auto result =
      co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  // A write cut short leaves half a command or body at the server: the
  // dialogue cannot go on.
  const std::error_code failure =
      race_outcome(std::get<0>(result), std::get<1>(result), std::get<3>(result));
  if (failure) close();
  co_return failure;
}

asio::awaitable<Result> Client::read_until(Clock::time_point deadline) {
  for (;;) {
    if (!unparsed_.empty()) {
      std::size_t used = 0;
      const ReplyParser::Status status = parser_.feed(unparsed_, used);
      unparsed_.erase(0, used);
      if (status == ReplyParser::Status::complete) co_return Result{{}, parser_.take()};
      if (status == ReplyParser::Status::error) {
        // There is no telling where the next reply would start.
        malformed_reason_ = parser_.error();
        close();
        co_return Result{errc::malformed_reply, {}};
      }
    }
    if (!socket_.is_open()) co_return Result{errc::closed, {}};
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      close();
      co_return Result{cancelled(), {}};
    }

    // The parser took everything before asking for more, so unparsed_ is
    // empty here and the read goes straight into it.
    unparsed_.resize(kReadChunk);
    deadline_timer_.expires_at(deadline);
    auto group = asio::experimental::make_parallel_group(
        socket_.async_read_some(asio::buffer(unparsed_.data(), unparsed_.size()), asio::deferred),
        deadline_timer_.async_wait(asio::deferred));
    const auto result =
        co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    const std::error_code failure =
        race_outcome(std::get<0>(result), std::get<1>(result), std::get<3>(result));
    if (failure) {
      close();
      co_return Result{failure, {}};
    }
    unparsed_.resize(std::get<2>(result));
  }
}

}  // namespace mailsan::smtp
