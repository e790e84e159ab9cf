// c-ares on Asio: see ares_channel.hpp for the contract.
//
// c-ares reports, per socket, whether it wants to read and write. Each wish
// starts one async_wait on a non-owning stream_descriptor over c-ares' fd;
// a completed wait calls ares_process_fd and re-arms while the wish holds.
// When c-ares closes a socket it first reports (0, 0): the descriptor is
// then release()d, never closed by Asio, so a new socket that reuses the fd
// number gets a fresh watch and a stale wait cannot touch it.
#include "common/dns/ares_channel.hpp"

#include <ares.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstring>
#include <stdexcept>

namespace mailsan::dns {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;

struct AresChannel::Watch {
  explicit Watch(asio::any_io_executor ex, int socket) : descriptor(std::move(ex)), fd(socket) {}
  stream_descriptor descriptor;
  int fd;
  bool dead = false;  // c-ares closed the socket (or the channel went away)
  bool want_read = false;
  bool want_write = false;
  bool read_waiting = false;
  bool write_waiting = false;
};

namespace {

void library_init_once() {
  // ares_library_init is not thread-safe and only needed once per process;
  // a function-local static makes the first call the only one.
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS)
    throw std::runtime_error(std::string("ares_library_init: ") + ares_strerror(status));
}

}  // namespace

std::shared_ptr<AresChannel> AresChannel::open(asio::any_io_executor ex,
                                               const std::vector<ServerAddress>& servers,
                                               std::chrono::milliseconds timeout) {
  library_init_once();
  auto channel = std::make_shared<AresChannel>(Private{}, std::move(ex));
  ares_options options{};
  options.sock_state_cb = &AresChannel::socket_state;
  options.sock_state_cb_data = channel.get();
  options.timeout = static_cast<int>(std::max<std::chrono::milliseconds::rep>(timeout.count(), 1));
  // One try per server per ares_query: c-ares 1.18 doubles the timeout on
  // every round of retries, which would make a dead server cost
  // timeout × (2^tries − 1); the Resolver retries instead, at the same timeout.
  options.tries = 1;
  // Without NOCHECKRESP, c-ares 1.18 treats SERVFAIL and REFUSED like a
  // lost packet (next server, and at the end the status of the first try,
  // ECONNREFUSED), so a refusing server looked like a dead one. With it the
  // reply reaches us and ares_query reports ESERVFAIL / EREFUSED. The price:
  // no failover to the next server on those replies.
  options.flags = ARES_FLAG_NOCHECKRESP;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  ares_channel raw = nullptr;
  int status = ares_init_options(&raw, &options, mask);
  if (status != ARES_SUCCESS)
    throw std::runtime_error(std::string("ares_init_options: ") + ares_strerror(status));
  channel->channel_ = raw;
  if (!servers.empty()) {
    std::vector<ares_addr_port_node> nodes(servers.size());
    for (std::size_t i = 0; i < servers.size(); ++i) {
      ares_addr_port_node& node = nodes[i];
      node.next = i + 1 < servers.size() ? &nodes[i + 1] : nullptr;
      node.udp_port = servers[i].port;
      node.tcp_port = servers[i].port;
      if (servers[i].address.v6) {
        node.family = AF_INET6;
        std::memcpy(&node.addr.addr6, servers[i].address.bytes.data(), 16);
      } else {
        node.family = AF_INET;
        std::memcpy(&node.addr.addr4, servers[i].address.bytes.data(), 4);
      }
    }
    status = ares_set_servers_ports(raw, nodes.data());
    if (status != ARES_SUCCESS) {
      channel->close();
      throw std::runtime_error(std::string("ares_set_servers_ports: ") + ares_strerror(status));
    }
  }
  return channel;
}

AresChannel::AresChannel(Private, asio::any_io_executor ex) : ex_(ex), timer_(ex) {}

AresChannel::~AresChannel() {
  close();
}

void AresChannel::query(const std::string& name, int dns_type, Callback callback, void* arg) {
  if (!is_open()) {
    callback(arg, ARES_EDESTRUCTION, 0, nullptr, 0);
    return;
  }
  ares_query(channel_, name.c_str(), ns_c_in, dns_type, callback, arg);
  arm_timer();
}

void AresChannel::close() {
  if (channel_ == nullptr || closing_) return;
  closing_ = true;
  // Calls every pending callback with ARES_EDESTRUCTION and reports each
  // socket closed; channel_ stays set meanwhile so those reports find us.
  ares_destroy(channel_);
  channel_ = nullptr;
  release_watches();
  timer_.cancel();
}

void AresChannel::release_watches() {
  for (auto& [fd, watch] : watches_) {
    watch->dead = true;
    watch->descriptor.release();
  }
  watches_.clear();
}

void AresChannel::socket_state(void* self, int fd, int readable, int writable) {
  static_cast<AresChannel*>(self)->on_socket_state(fd, readable != 0, writable != 0);
}

void AresChannel::on_socket_state(int fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {
    if (it == watches_.end()) return;
    // release(), not close(): the fd is c-ares', and it closes it next.
    it->second->dead = true;
    it->second->descriptor.release();
    watches_.erase(it);
    return;
  }
  if (closing_) return;
  std::shared_ptr<Watch> watch;
  if (it != watches_.end()) {
    watch = it->second;
  } else {
    watch = std::make_shared<Watch>(ex_, fd);
    boost::system::error_code ec;
    watch->descriptor.assign(fd, ec);
    // Unwatchable (should not happen): the query then ends by its timeout.
    if (ec) return;
    watches_.emplace(fd, watch);
  }
  watch->want_read = readable;
  watch->want_write = writable;
  if (readable && !watch->read_waiting) wait(watch, true);
  if (writable && !watch->write_waiting) wait(watch, false);
}

void AresChannel::wait(const std::shared_ptr<Watch>& watch, bool read) {
  (read ? watch->read_waiting : watch->write_waiting) = true;
  watch->descriptor.async_wait(
      read ? stream_descriptor::wait_read : stream_descriptor::wait_write,
      [self = shared_from_this(), watch, read](const boost::system::error_code& ec) {
        self->on_ready(watch, read, ec);
      });
}

void AresChannel::on_ready(const std::shared_ptr<Watch>& watch, bool read,
                           const boost::system::error_code& ec) {
  (read ? watch->read_waiting : watch->write_waiting) = false;
  if (watch->dead || !is_open() || ec == asio::error::operation_aborted) return;
  if (!(read ? watch->want_read : watch->want_write)) return;
  // Any other error is the socket's; c-ares meets it when it reads or writes.
  const int fd = watch->fd;
  ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
  if (!watch->dead && is_open()) {
    if (watch->want_read && !watch->read_waiting) wait(watch, true);
    if (watch->want_write && !watch->write_waiting) wait(watch, false);
  }
  arm_timer();
}

void AresChannel::arm_timer() {
  if (!is_open()) return;
  timeval next{};
  if (ares_timeout(channel_, nullptr, &next) == nullptr) {
    timer_.cancel();  // nothing in flight
    return;
  }
  timer_.expires_after(std::chrono::seconds(next.tv_sec) + std::chrono::microseconds(next.tv_usec));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || !self->is_open()) return;
    // No socket is ready: this only lets c-ares time out and resend.
    ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->arm_timer();
  });
}

}  // namespace mailsan::dns
