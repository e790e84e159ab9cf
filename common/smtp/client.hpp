// An SMTP client connection on Asio: connect, read a reply, send a command
// and read its reply, write raw bytes. Each call has its own deadline.
//
// Called by the sender-address verification callout (greeting, EHLO or
// HELO, MAIL FROM:<>, RCPT TO:<...>, QUIT at a remote MX) and by the
// before-queue proxy that replays a transaction to the downstream Postfix
// (EHLO, XFORWARD, MAIL, RCPT..., DATA, the body, the final reply). It knows
// nothing of either: it moves lines and replies, and the caller runs the
// dialogue.
//
// SECURITY: replies come from servers we do not control; they are parsed by
// ReplyParser, which bounds and sanitises them. Commands are built by callers
// from addresses a remote client gave us, so command() refuses a line with
// CR or LF rather than send it: one command must never carry a second.
//
// Failures are values, never exceptions: Result::ec / the returned
// error_code is one of errc, a system error from the socket (connection
// refused, host unreachable, ...), or std::errc::operation_canceled when the
// caller's cancellation slot fired. A reply the server sent, 4xx and 5xx
// included, is a success of the client: ec is clear and the code is in the
// Reply. After any failure but bad_command the connection is closed and
// every later call fails with errc::closed until the next connect(): the
// dialogue cannot be resumed once a deadline cut it off in the middle of a
// command or reply.
//
// One operation at a time, from the executor's thread only; the Client must
// outlive the operations it started.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "common/smtp/reply.hpp"

namespace mailsan::smtp {

enum class errc {
  timeout = 1,      // the deadline passed; the connection was closed
  closed,           // the server closed or reset the connection, or it was not open
  malformed_reply,  // the server's bytes are not an SMTP reply (see malformed_reason())
  bad_command,      // the command contains CR or LF; nothing was sent
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

struct Result {
  std::error_code ec;  // a failure of the connection; the server's 4xx/5xx is in reply
  Reply reply;
};

class Client {
 public:
  explicit Client(boost::asio::any_io_executor ex);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens a connection to `to`, from `bind_from` (port chosen by the
  // system) when given; *bind_from is read when the awaitable starts. An
  // open connection is closed first. The greeting is not read: call
  // read_reply() for it.
  boost::asio::awaitable<std::error_code> connect(
      boost::asio::ip::tcp::endpoint to, std::chrono::milliseconds timeout,
      const boost::asio::ip::address* bind_from = nullptr);

  // Reads one reply: the greeting, or the reply to the message body. Bytes
  // the server sent beyond that reply stay buffered for the next read.
  boost::asio::awaitable<Result> read_reply(std::chrono::milliseconds timeout);

  // Sends `line` followed by CRLF and reads the reply, both within timeout.
  // A line containing CR or LF is refused with errc::bad_command and not
  // sent; the connection stays usable. The line is copied at the call.
  boost::asio::awaitable<Result> command(std::string_view line, std::chrono::milliseconds timeout);

  // Sends bytes as they are (the message body, already dot-stuffed and
  // ending with CRLF.CRLF); reads nothing. `bytes` must stay valid until the
  // returned awaitable completes: pass it in the co_await expression itself.
  boost::asio::awaitable<std::error_code> write(std::string_view bytes,
                                                std::chrono::milliseconds timeout);

  // Drops the connection at once, without QUIT, and anything buffered.
  void close();
  bool is_open() const { return socket_.is_open(); }

  // After errc::malformed_reply: what was wrong with the reply, for the log.
  std::string_view malformed_reason() const { return malformed_reason_; }

 private:
  using Clock = std::chrono::steady_clock;

  boost::asio::awaitable<Result> send_command(std::string wire, std::chrono::milliseconds timeout);
  boost::asio::awaitable<std::error_code> write_until(std::string_view bytes,
                                                      Clock::time_point deadline);
  boost::asio::awaitable<Result> read_until(Clock::time_point deadline);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer deadline_timer_;
  ReplyParser parser_;
  // Read but not yet parsed: at most one read's worth, since reading stops
  // as soon as a reply is complete and resumes only once this is empty.
  std::string unparsed_;
  std::string malformed_reason_;
};

}  // namespace mailsan::smtp

template <>
struct std::is_error_code_enum<mailsan::smtp::errc> : std::true_type {};
