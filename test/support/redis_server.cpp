#include "test/support/redis_server.hpp"

#include <stdexcept>

namespace mailsan::test {

RedisServer::RedisServer(bool start_now, std::vector<std::string> extra_args)
    : port_(free_tcp_port()), extra_args_(std::move(extra_args)) {
  for (std::size_t i = 0; i + 1 < extra_args_.size(); ++i)
    if (extra_args_[i] == "--requirepass") password_ = extra_args_[i + 1];
  if (start_now) start();
}

RedisServer::~RedisServer() {
  stop();
}

void RedisServer::start() {
  if (process_.running()) return;
  std::vector<std::string> argv{"redis-server",
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_.path().string(),
                                "--daemonize",
                                "no",
                                "--protected-mode",
                                "no"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_ = Process(std::move(argv), dir_.path() / "redis.log");
  if (!wait_for_tcp("127.0.0.1", port_)) throw std::runtime_error("redis-server did not start");
  // Accepting is not the same as loaded; PING until it answers.
  for (int i = 0; i < 200 && cli({"PING"}) != "PONG"; ++i) {
  }
}

void RedisServer::stop() {
  process_.stop();
}

void RedisServer::kill() {
  process_.stop(9);
}

std::string RedisServer::address() const {
  return "tcp:127.0.0.1:" + std::to_string(port_);
}

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
  if (!password_.empty()) argv.insert(argv.end(), {"-a", password_, "--no-auth-warning"});
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == '\r'))
    r.output.pop_back();
  return r.output;
}

}  // namespace mailsan::test
