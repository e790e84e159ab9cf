// Redis Sentinel for the async client (client.cpp is the only caller):
// finding the master through the sentinels, and hearing of a failover at
// once through their +switch-master channel.
//
// The sentinels are asked in turn; the first that names the master wins, so
// one sentinel down (or not yet knowing the name) costs one refused connect.
// What a sentinel names is only a candidate: the client confirms it with
// ROLE before use, since a sentinel cut off from the others may still name
// the old master.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/net/endpoint_address.hpp"
#include "common/redis/address.hpp"
#include "common/redis/hiredis_connection.hpp"

namespace mailsan::redis {

struct SentinelSettings {
  Address address;                          // kind sentinel
  std::string password_file;                // AUTH to the sentinels (empty: none)
  std::chrono::milliseconds timeout{1000};  // per sentinel: connect and answer
};

// Asks each sentinel in turn, starting with the one that answered last
// (*next, updated), for the master's address. nullopt with every
// sentinel's reason in *error when none named it.
boost::asio::awaitable<std::optional<net::EndpointAddress>> discover_master(
    boost::asio::any_io_executor ex, const SentinelSettings& settings, std::size_t* next,
    std::string* error);

// Keeps one subscription to +switch-master on one of the sentinels (the
// next one when it goes away) and posts on_switch with the new master when
// the monitored name moves. Sentinel messages come from the network: only a
// well-formed one for our name is acted on.
class SwitchWatcher final : public std::enable_shared_from_this<SwitchWatcher>,
                            private HiredisConnection::Events {
 public:
  using OnSwitch = std::function<void(const net::EndpointAddress& master)>;
  SwitchWatcher(boost::asio::any_io_executor ex, SentinelSettings settings, OnSwitch on_switch);
  ~SwitchWatcher() override;
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> run(std::shared_ptr<SwitchWatcher> self);
  boost::asio::awaitable<void> sleep_until(std::chrono::steady_clock::time_point deadline);
  void on_reply(const redisReply* reply) override;
  void on_io_done(HiredisConnection& connection) override;

  boost::asio::any_io_executor ex_;
  SentinelSettings settings_;
  OnSwitch on_switch_;
  std::shared_ptr<HiredisConnection> connection_;
  boost::asio::steady_timer wake_;
  bool running_ = false;
  bool subscribed_ = false;
  bool refused_ = false;  // AUTH or SUBSCRIBE answered with an error
};

}  // namespace mailsan::redis
