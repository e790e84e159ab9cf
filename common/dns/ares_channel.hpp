// One c-ares channel driven by Asio: the RAII owner of an ares_channel and
// the plumbing c-ares needs to run without blocking — its sockets, learnt
// through the socket-state callback and watched with async_wait, and one
// timer set from ares_timeout() for its retransmissions and timeouts.
//
// Internal to common/dns: the Resolver is the only caller. It sends queries
// and hands back raw replies; caching, retries and callers live above.
//
// Lifetime: close() (and the destructor) runs ares_destroy(), which calls
// every pending query callback with ARES_EDESTRUCTION before it returns.
// Pending waits hold a shared_ptr to this object and to their socket's
// watch, never a pointer into c-ares.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/dns/names.hpp"

struct ares_channeldata;

namespace mailsan::dns {

class AresChannel : public std::enable_shared_from_this<AresChannel> {
 public:
  // As c-ares' ares_callback: called exactly once per query, from inside
  // c-ares (so it must not close this channel; it may start a query).
  using Callback = void (*)(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  // servers empty: the ones in /etc/resolv.conf. Each try waits timeout on
  // each server; c-ares tries each server once (retries are the caller's,
  // see resolver.cpp). Throws std::runtime_error when c-ares cannot start.
  static std::shared_ptr<AresChannel> open(boost::asio::any_io_executor ex,
                                           const std::vector<ServerAddress>& servers,
                                           std::chrono::milliseconds timeout);

  ~AresChannel();
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  bool is_open() const { return channel_ != nullptr && !closing_; }
  // name must already be checked (normalize_name); dns_type as ns_t_a etc.
  // When closed, callback gets ARES_EDESTRUCTION at once.
  void query(const std::string& name, int dns_type, Callback callback, void* arg);
  // Destroys the channel; every pending query's callback runs before this
  // returns. Must not be called from inside a callback.
  void close();

 private:
  struct Private {};
  struct Watch;

 public:
  AresChannel(Private, boost::asio::any_io_executor ex);

 private:
  static void socket_state(void* self, int fd, int readable, int writable);
  void on_socket_state(int fd, bool readable, bool writable);
  void wait(const std::shared_ptr<Watch>& watch, bool read);
  void on_ready(const std::shared_ptr<Watch>& watch, bool read,
                const boost::system::error_code& ec);
  // After every call into c-ares: the next deadline may have moved.
  void arm_timer();
  void release_watches();

  boost::asio::any_io_executor ex_;
  ares_channeldata* channel_ = nullptr;
  bool closing_ = false;
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  boost::asio::steady_timer timer_;
};

}  // namespace mailsan::dns
