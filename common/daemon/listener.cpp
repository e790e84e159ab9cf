#include "common/daemon/listener.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <list>
#include <stdexcept>
#include <vector>

#include "common/log/rate_limited.hpp"

namespace mailsan::daemon {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::system::error_code(EMFILE, boost::system::system_category()) ||
         ec == boost::system::error_code(ENFILE, boost::system::system_category());
}

std::string describe_peer(tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto address = ep.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(ep.port());
}

void set_keepalive(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  int fd = socket.native_handle();
  int idle = 60, interval = 10, probes = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

}  // namespace

struct Listeners::State : std::enable_shared_from_this<Listeners::State> {
  State(asio::any_io_executor ex, ListenerOptions o)
      : executor(std::move(ex)),
        options(o),
        accept_failed_log(log::Level::error, "accept_failed") {}
  ~State() { release_reserve(); }

  asio::any_io_executor executor;
  ListenerOptions options;
  // std::list: accept loops hold references while the vectors would grow.
  std::list<tcp::acceptor> tcp_acceptors;
  std::list<unix_stream::acceptor> unix_acceptors;
  std::vector<std::string> unix_paths;
  AcceptHandler on_accept;
  std::vector<int> reserve;  // open descriptors on /dev/null
  bool reserve_released = false;
  bool stopping = false;
  std::uint64_t failures = 0;
  log::RateLimited accept_failed_log;
  std::vector<std::unique_ptr<asio::steady_timer>> pause_timers;

  // Opens the whole reserve or nothing: a partial reserve would only keep
  // descriptors from the sessions that are waiting for them.
  bool acquire_reserve() {
    while (reserve.size() < static_cast<std::size_t>(options.descriptor_reserve)) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        release_reserve();
        return false;
      }
      reserve.push_back(fd);
    }
    return true;
  }
  void release_reserve() {
    for (int fd : reserve) ::close(fd);
    reserve.clear();
  }

  void hand_on(tcp::socket socket) {
    if (options.tcp_keepalive) set_keepalive(socket);
    std::string peer = describe_peer(socket);
    on_accept(StreamSocket(std::move(socket)), std::move(peer));
  }
  void hand_on(unix_stream::socket socket) { on_accept(StreamSocket(std::move(socket)), "unix"); }

  template <typename Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor, std::string address,
                                    asio::steady_timer& pause) {
    auto self = shared_from_this();
    auto backoff = options.min_backoff;
    auto wait = [&]() -> asio::awaitable<void> {
      pause.expires_after(backoff);
      co_await pause.async_wait(use_nothrow);
      backoff = std::min(backoff * 2, options.max_backoff);
    };
    auto failed = [&](const boost::system::error_code& ec) {
      ++failures;
      accept_failed_log.record(
          [&](log::Line& line) { line.kv("listen", address).kv("error", ec.message()); });
      if (out_of_descriptors(ec)) {
        release_reserve();
        reserve_released = true;
      }
    };
    while (!stopping) {
      if (reserve_released) {
        // Accept again only once the sessions have given the reserve back.
        if (!acquire_reserve()) {
          co_await wait();
          continue;
        }
        // Still at the limit? Tried without suspending (the acceptor is
        // non-blocking), so the reserve is never held while a session might
        // need it: on EMFILE it is released before anything else runs.
        boost::system::error_code ec;
        auto socket = acceptor.accept(ec);
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
          failed(ec);
          co_await wait();
          continue;
        }
        reserve_released = false;
        backoff = options.min_backoff;
        if (!ec) {
          hand_on(std::move(socket));
          continue;
        }
      }
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (stopping || ec == asio::error::operation_aborted) break;
      if (!ec) {
        backoff = options.min_backoff;
        hand_on(std::move(socket));
        continue;
      }
      failed(ec);
      co_await wait();
    }
  }
};

Listeners::Listeners(asio::any_io_executor executor, ListenerOptions options)
    : state_(std::make_shared<State>(std::move(executor), options)) {}

Listeners::~Listeners() {
  stop();
  for (const auto& p : state_->unix_paths) ::unlink(p.c_str());
}

void Listeners::listen(const net::EndpointAddress& address) {
  boost::system::error_code ec;
  auto fail = [&](const std::string& reason) {
    throw std::runtime_error("cannot listen on " + address.to_string() + ": " + reason);
  };
  if (address.kind == net::EndpointAddress::Kind::unix_socket) {
    struct stat st {};
    if (::lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
      ::unlink(address.path.c_str());
    unix_stream::acceptor acceptor(state_->executor);
    unix_stream::endpoint ep(address.path);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) acceptor.non_blocking(true, ec);
    if (ec) fail(ec.message());
    ::chmod(address.path.c_str(), 0666);
    state_->unix_paths.push_back(address.path);
    state_->unix_acceptors.push_back(std::move(acceptor));
    return;
  }
  auto ip = asio::ip::make_address(address.host, ec);
  if (ec) fail("not a numeric IP address");
  tcp::endpoint ep(ip, address.port);
  tcp::acceptor acceptor(state_->executor);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor.non_blocking(true, ec);
  if (ec) fail(ec.message());
  state_->tcp_acceptors.push_back(std::move(acceptor));
}

void Listeners::start(AcceptHandler on_accept) {
  State& s = *state_;
  s.on_accept = std::move(on_accept);
  // A reserve that cannot be had at start-up (a tiny descriptor limit) is
  // tried again after the first failed accept.
  s.reserve_released = !s.acquire_reserve();
  auto spawn = [&](auto& acceptor, std::string address) {
    s.pause_timers.push_back(std::make_unique<asio::steady_timer>(s.executor));
    asio::co_spawn(s.executor, s.accept_loop(acceptor, std::move(address), *s.pause_timers.back()),
                   asio::detached);
  };
  for (auto& a : s.tcp_acceptors) {
    boost::system::error_code ec;
    auto ep = a.local_endpoint(ec);
    net::EndpointAddress address;
    address.host = ep.address().to_string();
    address.port = ep.port();
    spawn(a, address.to_string());
  }
  std::size_t i = 0;
  for (auto& a : s.unix_acceptors) spawn(a, "unix:" + s.unix_paths[i++]);
}

void Listeners::stop() {
  State& s = *state_;
  if (s.stopping) return;
  s.stopping = true;
  boost::system::error_code ignored;
  for (auto& a : s.tcp_acceptors) a.close(ignored);
  for (auto& a : s.unix_acceptors) a.close(ignored);
  for (auto& t : s.pause_timers) t->cancel();
  s.release_reserve();
}

std::uint64_t Listeners::accept_failures() const {
  return state_->failures;
}

}  // namespace mailsan::daemon
