// The listening side of a daemon: binds inet: and unix: endpoints and runs
// one accept loop per socket, handing every accepted connection to the
// daemon's server as a protocol-neutral stream socket.
//
// Why one loop for every daemon: accept() failing for lack of resources
// (EMFILE, ENFILE, ENOBUFS, ENOMEM) is retried with back-off, never in a
// spin, and is logged at most every 10 s with a count. Connections already
// open keep being served meanwhile: a reserve of descriptors is held while
// accepting and given back the moment accept() hits the descriptor limit,
// so open sessions can still open what they need (the next hop, a spool
// file, a DNS socket); accepting resumes only once that reserve is free
// again. Clients that cannot be accepted wait in the kernel's backlog.
//
// SECURITY: whatever reaches a listening socket is handed on; the caller
// bounds connections (max_connections) and everything they send.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/net/endpoint_address.hpp"

namespace mailsan::daemon {

// A connected socket of either family; servers need only read, write, close.
using StreamSocket = boost::asio::generic::stream_protocol::socket;

struct ListenerOptions {
  // SO_KEEPALIVE on accepted inet: connections, first probe after 60 s idle,
  // so a peer that vanished without a FIN (a rebooted MX, a lost NAT entry)
  // is noticed within about 90 s instead of holding a connection slot.
  bool tcp_keepalive = false;
  // Descriptors held back from accept() for the sessions already open.
  int descriptor_reserve = 16;
  // Back-off after a failed accept() doubles from min to max. max bounds how
  // late a waiting client is greeted once descriptors are free again.
  std::chrono::milliseconds min_backoff{5};
  std::chrono::milliseconds max_backoff{250};
};

class Listeners {
 public:
  // peer: "192.0.2.1:12345", "[2001:db8::1]:12345" or "unix".
  using AcceptHandler = std::function<void(StreamSocket socket, std::string peer)>;

  explicit Listeners(boost::asio::any_io_executor executor, ListenerOptions options = {});
  // Closes the sockets and removes the unix socket files it made.
  ~Listeners();
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  // Binds and listens; throws std::runtime_error("cannot listen on ADDRESS:
  // reason"). inet: needs a numeric address. A stale unix socket file is
  // replaced, and the new one is made mode 0666: Postfix connects as another
  // user, so access is governed by the directory the socket is put in.
  void listen(const net::EndpointAddress& address);
  // Starts accepting on every bound socket; on_accept runs on the executor.
  void start(AcceptHandler on_accept);
  // Stops accepting; connections already handed out are the caller's.
  void stop();

  // accept() calls that failed, for metrics.
  std::uint64_t accept_failures() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mailsan::daemon
