// mailsan-policyd and mailsanctl on `redis = sentinel:...` against real
// redis-server processes: a master, a replica and three sentinels
// (test/support/sentinel_set.hpp). The master is killed (SIGKILL) with one
// sentinel already down; the daemon must follow the promoted replica
// without a restart, answer every request within request_timeout (greylisting
// fails open while there is no master), keep a triplet recorded before the
// failover, and never write to the old master once it is back as a replica.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "test/support/policyd_process.hpp"
#include "test/support/sentinel_set.hpp"

using namespace mailsan::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

CommandResult greylist_show(const PolicydProcess& policyd, const std::string& client,
                            const std::string& sender, const std::string& recipient) {
  return run({MAILSANCTL_BIN, "greylist", "--policyd-config", policyd.config_path().string(),
              "show", client, sender, recipient});
}

// A sender of its own for request i: letters only, since greylisting folds
// the digits of VERP-style senders together.
std::string sender_number(const std::string& prefix, int i) {
  std::string word;
  do {
    word += static_cast<char>('a' + i % 26);
    i /= 26;
  } while (i > 0);
  return prefix + "-" + word + "@example.net";
}

}  // namespace

TEST_CASE("policyd follows a Sentinel failover without a restart and answers every request",
          "[policyd][sentinel][failure]") {
  SentinelSet set;
  PolicydSettings settings;
  settings.redis = set.address();
  settings.greylist_delay = 2;
  settings.extra_top = "redis_password_file = " + set.redis_password_file().string() +
                       "\nredis_sentinel_password_file = " + set.sentinel_password_file().string() +
                       "\nrequest_timeout = 8\n";
  PolicydProcess policyd(settings);
  const std::string old_port = std::to_string(set.master().port());
  const std::string new_port = std::to_string(set.replica().port());
  auto up = [&] { return policyd.metric("mailsan_backend_up{backend=\"redis\"}") == 1; };
  for (int i = 0; i < 100 && !up(); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(up());
  CHECK(policyd.metric("mailsan_redis_master{address=\"127.0.0.1:" + old_port + "\"}") == 1);

  // A triplet recorded before the failover, and replicated.
  PolicyClient client(policyd.port());
  const auto recorded = rcpt_request("192.0.2.50", "before@example.net", "bob@example.com");
  CHECK(starts_with(client.ask(recorded), "DEFER_IF_PERMIT 4.7.1 Greylisted"));
  CHECK(set.master().cli({"WAIT", "1", "2000"}) == "1");

  auto before = greylist_show(policyd, "192.0.2.50", "before@example.net", "bob@example.com");
  INFO(before.output);
  CHECK(before.exit_code == 0);
  CHECK(before.output.find("first attempt  20") != std::string::npos);

  // Discovery and the +switch-master subscription do without the first
  // sentinel from now on.
  set.sentinel(0).kill();

  const auto killed = Clock::now();
  set.master().kill();
  // When the sentinels start naming the new master, watched apart from the
  // requests (which may each wait up to redis_timeout).
  std::atomic<double> sentinels_switched{-1};
  std::thread watch([&] {
    while (sentinels_switched < 0 && seconds_since(killed) < 40) {
      if (set.master_port_from(1) == new_port) sentinels_switched = seconds_since(killed);
      std::this_thread::sleep_for(20ms);
    }
  });
  struct JoinAtExit {
    std::thread& thread;
    ~JoinAtExit() {
      if (thread.joinable()) thread.join();
    }
  } join_watch{watch};
  double window = -1, slowest = 0;
  int answered = 0, failed_open = 0;
  for (int i = 0; window < 0 && seconds_since(killed) < 40; ++i) {
    const auto asked = Clock::now();
    const std::string answer =
        client.ask(rcpt_request("198.51.100.7", sender_number("during", i), "bob@example.com"));
    slowest = std::max(slowest, seconds_since(asked));
    ++answered;
    INFO(answer);
    if (starts_with(answer, "DEFER_IF_PERMIT 4.7.1 Greylisted")) {
      window = seconds_since(killed);
    } else {
      CHECK(answer == "DUNNO");  // greylisting failed open, nothing worse
      ++failed_open;
    }
    std::this_thread::sleep_for(50ms);
  }
  if (watch.joinable()) watch.join();
  std::cout << "sentinel failover: master killed -> sentinels name the new master after "
            << sentinels_switched.load() << " s; first greylisting decision through it after "
            << window << " s (down-after-milliseconds " << SentinelSet::kDownAfterMs << "); "
            << answered << " requests answered, " << failed_open << " failed open, slowest "
            << slowest << " s\n";
  REQUIRE(window > 0);
  CHECK(slowest < 8.0);
  REQUIRE(sentinels_switched > 0);
  CHECK(window <= sentinels_switched + 2.0);

  CHECK(policyd.metric("mailsan_redis_failovers_total") == 1);
  CHECK(policyd.metric("mailsan_redis_master{address=\"127.0.0.1:" + new_port + "\"}") == 1);
  CHECK(policyd.metric("mailsan_redis_master{address=\"127.0.0.1:" + old_port + "\"}") == 0);
  CHECK(policyd.metric("mailsan_redis_no_master_milliseconds_total") > 0);
  CHECK(policyd.log().find("redis_master_switched") != std::string::npos);

  // The triplet recorded before the failover passes through the new master.
  std::this_thread::sleep_for(2100ms);
  CHECK(starts_with(client.ask(recorded), "PREPEND X-Greylist: delayed "));
  auto after = greylist_show(policyd, "192.0.2.50", "before@example.net", "bob@example.com");
  INFO(after.output);
  CHECK(after.exit_code == 0);
  CHECK(after.output.find("last pass      20") != std::string::npos);

  // The old master comes back as a master of nothing; the sentinels make it
  // a replica of the new one. Meanwhile and after, every new triplet is
  // written to the new master, none to the old one.
  set.master().start();
  bool converted = false;
  for (int i = 0; !converted && seconds_since(killed) < 90; ++i) {
    const std::string sender = sender_number("after", i);
    CHECK(starts_with(client.ask(rcpt_request("203.0.113.9", sender, "bob@example.com")),
                      "DEFER_IF_PERMIT 4.7.1 Greylisted"));
    converted = starts_with(set.master().cli({"ROLE"}), "slave");
    std::this_thread::sleep_for(200ms);
  }
  CHECK(converted);
  const std::string clients = set.master().cli({"CLIENT", "LIST"});
  INFO(clients);
  CHECK(clients.find("cmd=evalsha") == std::string::npos);
  CHECK(clients.find("cmd=eval ") == std::string::npos);
  CHECK(policyd.metric("mailsan_redis_failovers_total") == 1);
  CHECK(policyd.process().running());
}

TEST_CASE("check-config takes a sentinel: address and refuses a cluster: one by name",
          "[policyd][filter][sentinel][config]") {
  TempDir dir;
  for (const char* daemon : {MAILSAN_POLICYD_BIN, MAILSAN_FILTER_BIN}) {
    const auto conf = dir.path() / "daemon.conf";
    write_file(conf,
               "redis = sentinel:mailsan@127.0.0.1:26379,127.0.0.1:26380/2\n"
               "redis_sentinel_password_file = /etc/mailsan/sentinel.pass\n");
    auto ok = run({daemon, "-c", conf.string(), "--check-config"});
    INFO(ok.output);
    CHECK(ok.exit_code == 0);

    write_file(conf, "redis = cluster:127.0.0.1:7000,127.0.0.1:7001\n");
    auto cluster = run({daemon, "-c", conf.string(), "--check-config"});
    INFO(cluster.output);
    CHECK(cluster.exit_code != 0);
    CHECK(cluster.output.find("daemon.conf:1:") != std::string::npos);
    CHECK(cluster.output.find("'redis'") != std::string::npos);
    CHECK(cluster.output.find("not supported yet") != std::string::npos);

    write_file(conf, "redis = sentinel:mailsan@\n");
    auto bad = run({daemon, "-c", conf.string(), "--check-config"});
    INFO(bad.output);
    CHECK(bad.exit_code != 0);
    CHECK(bad.output.find("'redis'") != std::string::npos);
  }
}
