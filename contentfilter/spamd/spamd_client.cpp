#include "contentfilter/spamd/spamd_client.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace mailsan::filter {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kWriteChunk = 64 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;

std::string describe(const error_code& ec) {
  return ec == asio::error::operation_aborted ? "cancelled" : ec.message();
}

SpamdResult failure(std::string why) {
  SpamdResult r;
  r.error = std::move(why);
  return r;
}

// Sends the head and the message, then reads and parses the reply. spamd
// may answer before it has read everything (a protocol error), so a failed
// write still reads what spamd said: its complaint explains more than EPIPE.
template <class Socket>
asio::awaitable<SpamdResult> converse(Socket& socket, SpamdCommand command, std::string head,
                                      const MessageSpool* message,
                                      SpamdResponseParser::Limits limits) {
  error_code write_ec;
  std::string buffer = std::move(head);
  const std::uint64_t size = message ? message->size() : 0;
  std::uint64_t offset = 0;
  for (;;) {
    if (offset < size) {
      const std::size_t old = buffer.size();
      const auto want =
          static_cast<std::size_t>(std::min<std::uint64_t>(kWriteChunk, size - offset));
      buffer.resize(old + want);
      const std::size_t got = message->read(offset, buffer.data() + old, want);
      if (got == 0) co_return failure("cannot read the message from its spool");
      buffer.resize(old + got);
      offset += got;
    }
    if (buffer.empty()) break;
    auto [ec, written] = co_await asio::async_write(socket, asio::buffer(buffer), use_nothrow);
    if (ec == asio::error::operation_aborted) co_return failure("cancelled");
    if (ec) {
      write_ec = ec;
      break;
    }
    buffer.clear();
  }
  error_code ignored;
  if (!write_ec) socket.shutdown(Socket::shutdown_send, ignored);

  SpamdResponseParser parser(command, limits);
  std::array<char, kReadChunk> in;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(in), use_nothrow);
    if (n > 0) {
      std::size_t used = 0;
      if (parser.feed(std::string_view(in.data(), n), used) !=
          SpamdResponseParser::Status::incomplete)
        break;
    }
    if (ec == asio::error::eof) {
      parser.finish();
      break;
    }
    if (ec == asio::error::operation_aborted) co_return failure("cancelled");
    if (ec) {
      if (write_ec) co_return failure("write: " + describe(write_ec));
      co_return failure("read: " + describe(ec));
    }
  }
  if (parser.status() == SpamdResponseParser::Status::error) {
    if (write_ec) co_return failure("write: " + describe(write_ec));
    co_return failure("malformed reply: " + std::string(parser.error()));
  }
  SpamdResult result;
  result.response = parser.take();
  const SpamdResponse& r = result.response;
  if (!r.ok())
    result.error = "spamd said " + std::to_string(r.code) + " " +
                   std::string(sysexits_name(r.code)) + ": " + r.message;
  else if (command == SpamdCommand::ping && r.message != "PONG")
    result.error = "no PONG: " + r.message;
  co_return result;
}

std::string timeout_text(std::chrono::milliseconds t) {
  if (t.count() % 1000 == 0) return std::to_string(t.count() / 1000) + " s";
  return std::to_string(t.count()) + " ms";
}

}  // namespace

SpamdClient::SpamdClient(asio::any_io_executor ex, SpamdClientOptions options)
    : executor_(std::move(ex)), options_(std::move(options)) {}

asio::awaitable<SpamdResult> SpamdClient::check(SpamdCommand command, const MessageSpool& message,
                                                std::string user) {
  std::string head = encode_spamd_request(command, user, message.size());
  co_return co_await request(command, std::move(head), &message);
}

asio::awaitable<SpamdResult> SpamdClient::ping() {
  std::string head = encode_spamd_request(SpamdCommand::ping, "", 0);
  co_return co_await request(SpamdCommand::ping, std::move(head), nullptr);
}

asio::awaitable<SpamdResult> SpamdClient::tell(SpamdTell tell, const MessageSpool& message,
                                               std::string user) {
  std::string head = encode_spamd_request(SpamdCommand::tell, user, message.size(), tell);
  co_return co_await request(SpamdCommand::tell, std::move(head), &message);
}

asio::awaitable<SpamdResult> SpamdClient::request(SpamdCommand command, std::string head,
                                                  const MessageSpool* message) {
  asio::steady_timer deadline(executor_, options_.timeout);
  auto talk = connect_and_talk(command, std::move(head), message);
  auto expiry = deadline.async_wait(use_nothrow);
  auto outcome = co_await (std::move(talk) || std::move(expiry));
  if (outcome.index() == 0) co_return std::move(std::get<0>(outcome));
  // The deadline came first, or the caller cancelled the whole exchange
  // (then the timer's wait was cancelled too).
  auto [ec] = std::get<1>(outcome);
  if (ec) co_return failure("cancelled");
  co_return failure("timeout after " + timeout_text(options_.timeout));
}

asio::awaitable<SpamdResult> SpamdClient::connect_and_talk(SpamdCommand command, std::string head,
                                                           const MessageSpool* message) {
  SpamdResponseParser::Limits limits;
  limits.max_body = options_.max_reply_body;
  limits.max_kept_body =
      command == SpamdCommand::process ? options_.max_kept_reply_body : options_.max_reply_body;
  const net::EndpointAddress& a = options_.address;
  const std::string where = "connect to " + a.to_string() + ": ";
  if (a.kind == net::EndpointAddress::Kind::unix_socket) {
    unix_stream::socket socket(executor_);
    unix_stream::endpoint endpoint(a.path);
    auto [ec] = co_await socket.async_connect(endpoint, use_nothrow);
    if (ec) co_return failure(where + describe(ec));
    co_return co_await converse(socket, command, std::move(head), message, limits);
  }
  tcp::socket socket(executor_);
  error_code parse_ec;
  const auto address = asio::ip::make_address(a.host, parse_ec);
  if (!parse_ec) {
    tcp::endpoint endpoint(address, a.port);
    auto [ec] = co_await socket.async_connect(endpoint, use_nothrow);
    if (ec) co_return failure(where + describe(ec));
  } else {
    tcp::resolver resolver(executor_);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(a.host, std::to_string(a.port), use_nothrow);
    if (rec) co_return failure(where + describe(rec));
    auto [ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_nothrow);
    if (ec) co_return failure(where + describe(ec));
  }
  // The head and the last piece of the message are small writes: do not let
  // Nagle hold them back waiting for an acknowledgement.
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return co_await converse(socket, command, std::move(head), message, limits);
}

}  // namespace mailsan::filter
