#include "test/support/sentinel_set.hpp"

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mailsan::test {
namespace {

constexpr const char* kRedisPassword = "redis-secret";
constexpr const char* kSentinelPassword = "sentinel-secret";

std::vector<std::string> server_args() {
  return {"--requirepass", kRedisPassword, "--masterauth", kRedisPassword};
}

// The value after `name` in redis-cli's one-item-a-line output of SENTINEL
// MASTER.
std::string field(const std::string& output, const std::string& name) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (line == name && std::getline(in, line)) return line;
  return {};
}

}  // namespace

SentinelProcess::SentinelProcess(const std::string& master_name, unsigned short master_port,
                                 const std::string& redis_password,
                                 const std::string& sentinel_password)
    : port_(free_tcp_port()), password_(sentinel_password) {
  // The sentinel rewrites its file: each has its own copy.
  std::ostringstream conf;
  conf << "port " << port_ << "\n"
       << "bind 127.0.0.1\n"
       << "daemonize no\n"
       << "protected-mode no\n"
       << "dir " << dir_.path().string() << "\n"
       << "requirepass " << sentinel_password << "\n"
       << "sentinel sentinel-pass " << sentinel_password << "\n"
       << "sentinel monitor " << master_name << " 127.0.0.1 " << master_port << " 2\n"
       << "sentinel auth-pass " << master_name << " " << redis_password << "\n"
       << "sentinel down-after-milliseconds " << master_name << " " << SentinelSet::kDownAfterMs
       << "\n"
       << "sentinel failover-timeout " << master_name << " 5000\n"
       << "sentinel parallel-syncs " << master_name << " 1\n";
  const auto file = dir_.path() / "sentinel.conf";
  write_file(file, conf.str());
  process_ = Process({"redis-server", file.string(), "--sentinel"}, dir_.path() / "sentinel.log");
  if (!wait_for_tcp("127.0.0.1", port_)) throw std::runtime_error("a sentinel did not start");
}

SentinelProcess::~SentinelProcess() {
  process_.stop();
}

std::string SentinelProcess::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"redis-cli",           "-h", "127.0.0.1", "-p",
                                std::to_string(port_), "-a", password_,   "--no-auth-warning"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == '\r'))
    r.output.pop_back();
  return r.output;
}

SentinelSet::SentinelSet() {
  write_file(redis_password_file(), std::string(kRedisPassword) + "\n");
  write_file(sentinel_password_file(), std::string(kSentinelPassword) + "\n");
  master_ = std::make_unique<RedisServer>(true, server_args());
  auto replica_args = server_args();
  replica_args.insert(replica_args.end(),
                      {"--replicaof", "127.0.0.1", std::to_string(master_->port())});
  replica_ = std::make_unique<RedisServer>(true, replica_args);
  for (int i = 0; i < 3; ++i)
    sentinels_.push_back(std::make_unique<SentinelProcess>(kMasterName, master_->port(),
                                                           kRedisPassword, kSentinelPassword));
  // Sentinels find replicas through the master's INFO and each other
  // through hello messages every 2 s.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (auto& sentinel : sentinels_) {
    while (true) {
      const std::string master = sentinel->cli({"SENTINEL", "MASTER", kMasterName});
      if (field(master, "num-slaves") == "1" && field(master, "num-other-sentinels") == "2" &&
          field(master, "flags") == "master")
        break;
      if (std::chrono::steady_clock::now() > give_up)
        throw std::runtime_error("the sentinels did not come together: " + master);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // The replica in sync, so that what the test writes first is replicated.
  while (replica_->cli({"INFO", "replication"}).find("master_link_status:up") ==
         std::string::npos) {
    if (std::chrono::steady_clock::now() > give_up)
      throw std::runtime_error("the replica did not sync");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string SentinelSet::address() const {
  std::string out = std::string("sentinel:") + kMasterName + "@";
  for (std::size_t i = 0; i < sentinels_.size(); ++i)
    out += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(sentinels_[i]->port());
  return out;
}

std::string SentinelSet::master_port_from(std::size_t i) const {
  const std::string out =
      sentinels_.at(i)->cli({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", kMasterName});
  const auto newline = out.find('\n');
  return newline == std::string::npos ? std::string() : out.substr(newline + 1);
}

}  // namespace mailsan::test
