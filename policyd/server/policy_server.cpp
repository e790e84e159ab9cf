#include "policyd/server/policy_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <list>
#include <variant>

#include "common/log/log.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

struct PolicyServer::Impl : std::enable_shared_from_this<PolicyServer::Impl> {
  Impl(asio::any_io_executor ex, PolicyResponder& r, PolicydMetrics& m)
      : executor(std::move(ex)), responder(r), metrics(m) {}

  // One open connection; `close` shuts its socket so a pending read returns.
  struct Connection {
    std::function<void()> close;
    bool busy = false;  // a request is being answered
  };

  asio::any_io_executor executor;
  PolicyResponder& responder;
  PolicydMetrics& metrics;
  std::vector<tcp::acceptor> tcp_acceptors;
  std::vector<unix_stream::acceptor> unix_acceptors;
  std::vector<std::string> unix_paths;
  std::list<Connection> open;
  std::size_t max_connections = 4096;
  std::size_t in_flight = 0;
  bool stopping = false;

  template <typename Socket>
  asio::awaitable<void> serve(Socket socket, std::string peer) {
    auto self = shared_from_this();
    auto conn = open.insert(open.end(), Connection{});
    conn->close = [&socket] {
      boost::system::error_code ignored;
      socket.shutdown(Socket::shutdown_both, ignored);
      socket.close(ignored);
    };
    metrics.connections.inc();
    metrics.connections_total.inc();

    PolicyRequestParser parser;
    MessageHeaders headers;
    std::array<char, 8192> buffer;
    std::string replies;
    while (!stopping) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
      if (ec) break;
      std::string_view data(buffer.data(), n);
      bool bad = false;
      // A client may send several requests at once; answer them in order and
      // write the replies together.
      while (!data.empty()) {
        std::size_t used = 0;
        auto status = parser.feed(data, &used);
        data.remove_prefix(used);
        if (status == PolicyRequestParser::Status::need_more) break;
        if (status == PolicyRequestParser::Status::error) {
          metrics.protocol_errors.inc();
          log::warning("bad_request").kv("peer", peer).kv("error", parser.error());
          bad = true;
          break;
        }
        PolicyRequest request = parser.take();
        conn->busy = true;
        ++in_flight;
        std::string action = co_await responder.answer(request, headers);
        --in_flight;
        conn->busy = false;
        replies += encode_reply(action);
      }
      if (!replies.empty()) {
        auto [wec, written] =
            co_await asio::async_write(socket, asio::buffer(replies), use_nothrow);
        (void)written;
        if (wec) break;
        replies.clear();
      }
      // The protocol has no error reply: a bad request gets none, and the
      // connection is closed so Postfix starts afresh.
      if (bad) break;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    open.erase(conn);
    metrics.connections.dec();
  }

  template <typename Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor) {
    auto self = shared_from_this();
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) break;
        // EMFILE and friends: pause instead of spinning.
        log::error("accept_failed").kv("error", ec.message());
        asio::steady_timer pause(executor, std::chrono::milliseconds(100));
        co_await pause.async_wait(use_nothrow);
        continue;
      }
      if (open.size() >= max_connections) {
        metrics.connections_refused.inc();
        log::warning("too_many_connections")
            .kv("limit", static_cast<std::uint64_t>(max_connections));
        continue;  // the socket closes as it goes out of scope
      }
      std::string peer = describe(socket);
      asio::co_spawn(executor, serve(std::move(socket), std::move(peer)), asio::detached);
    }
  }

  static std::string describe(tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  static std::string describe(unix_stream::socket&) { return "unix"; }
};

PolicyServer::PolicyServer(asio::any_io_executor ex, PolicyResponder& responder,
                           PolicydMetrics& metrics)
    : impl_(std::make_shared<Impl>(std::move(ex), responder, metrics)) {}

PolicyServer::~PolicyServer() {
  stop();
  for (const auto& p : impl_->unix_paths) ::unlink(p.c_str());
}

void PolicyServer::listen(const net::EndpointAddress& address) {
  boost::system::error_code ec;
  if (address.kind == net::EndpointAddress::Kind::unix_socket) {
    struct stat st {};
    if (::lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
      ::unlink(address.path.c_str());
    unix_stream::acceptor acceptor(impl_->executor);
    unix_stream::endpoint ep(address.path);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + address.to_string() + ": " + ec.message());
    // Postfix's smtpd runs as another user; access is governed by the
    // directory the socket is put in.
    ::chmod(address.path.c_str(), 0666);
    impl_->unix_paths.push_back(address.path);
    impl_->unix_acceptors.push_back(std::move(acceptor));
    return;
  }
  auto ip = asio::ip::make_address(address.host, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + address.to_string() + ": not an IP address");
  tcp::endpoint ep(ip, address.port);
  tcp::acceptor acceptor(impl_->executor);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + address.to_string() + ": " + ec.message());
  impl_->tcp_acceptors.push_back(std::move(acceptor));
}

void PolicyServer::start() {
  for (auto& a : impl_->tcp_acceptors)
    asio::co_spawn(impl_->executor, impl_->accept_loop(a), asio::detached);
  for (auto& a : impl_->unix_acceptors)
    asio::co_spawn(impl_->executor, impl_->accept_loop(a), asio::detached);
}

void PolicyServer::set_max_connections(std::size_t n) {
  impl_->max_connections = n;
}

void PolicyServer::stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  boost::system::error_code ignored;
  for (auto& a : impl_->tcp_acceptors) a.close(ignored);
  for (auto& a : impl_->unix_acceptors) a.close(ignored);
  // Idle connections are closed now; busy ones finish their request first
  // (their loop sees `stopping` after writing the reply).
  for (auto& c : impl_->open)
    if (!c.busy) c.close();
}

std::size_t PolicyServer::connections() const {
  return impl_->open.size();
}
std::size_t PolicyServer::requests_in_flight() const {
  return impl_->in_flight;
}

}  // namespace mailsan::policyd
