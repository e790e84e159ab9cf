// mailsan-policyd run as a real process against a real redis-server.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <memory>
#include <thread>

#include "test/support/policyd_process.hpp"
#include "test/support/redis_server.hpp"

using namespace mailsan::test;
using namespace std::chrono_literals;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

PolicydSettings settings_for(const RedisServer& redis, int delay = 2) {
  PolicydSettings s;
  s.redis = redis.address();
  s.greylist_delay = delay;
  return s;
}

}  // namespace

TEST_CASE("a new triplet is deferred, an early retry is told the seconds left",
          "[policyd][greylist]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 30));
  PolicyClient client(policyd.port());
  auto first = client.ask(rcpt_request("192.0.2.10", "alice@example.net", "bob@example.com"));
  CHECK(first == "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 30 seconds");
  std::this_thread::sleep_for(2100ms);
  auto retry = client.ask(rcpt_request("192.0.2.10", "alice@example.net", "bob@example.com"));
  REQUIRE(starts_with(retry, "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in "));
  int left =
      std::stoi(retry.substr(std::string("DEFER_IF_PERMIT 4.7.1 Greylisted, retry in ").size()));
  CHECK(left >= 26);
  CHECK(left <= 28);
  CHECK(policyd.metric("mailsan_policy_verdicts_total{verdict=\"defer\"}") == 2);
}

TEST_CASE("a retry after the delay passes with X-Greylist once per message",
          "[policyd][greylist]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 2));
  PolicyClient client(policyd.port());
  auto r1 = rcpt_request("192.0.2.20", "list-123@lists.example.org", "bob@example.com", "A.1");
  auto r2 = rcpt_request("192.0.2.20", "list-123@lists.example.org", "carol@example.com", "A.1");
  CHECK(starts_with(client.ask(r1), "DEFER_IF_PERMIT"));
  CHECK(starts_with(client.ask(r2), "DEFER_IF_PERMIT"));
  std::this_thread::sleep_for(3100ms);

  // The retry is a new message (new instance) from a VERP-varied sender and
  // another host of the same /24: it is the same triplet.
  auto p1 = rcpt_request("192.0.2.21", "list-456@lists.example.org", "bob@example.com", "B.1");
  auto p2 = rcpt_request("192.0.2.21", "list-456@lists.example.org", "carol@example.com", "B.1");
  auto first = client.ask(p1);
  CHECK(starts_with(first, "PREPEND X-Greylist: delayed "));
  CHECK(first.find(" seconds by mailsan-policyd at mx1.test; ") != std::string::npos);
  CHECK(client.ask(p2) == "DUNNO");  // the header was given for this message already
  auto data = p1;
  data["protocol_state"] = "DATA";
  data.erase("recipient");
  CHECK(client.ask(data) == "DUNNO");

  // The next message on the passed triplet was not delayed: no header.
  auto again = rcpt_request("192.0.2.20", "list-789@lists.example.org", "bob@example.com", "C.1");
  CHECK(client.ask(again) == "DUNNO");
}

TEST_CASE("a triplet deferred at the primary MX passes at the backup MX", "[policyd][greylist]") {
  RedisServer redis;
  auto primary_settings = settings_for(redis, 2);
  auto backup_settings = settings_for(redis, 2);
  backup_settings.hostname = "mx2.test";
  PolicydProcess primary(primary_settings);
  PolicydProcess backup(backup_settings);
  PolicyClient at_primary(primary.port());
  PolicyClient at_backup(backup.port());
  auto request = rcpt_request("198.51.100.5", "sender@example.net", "user@example.com");
  CHECK(starts_with(at_primary.ask(request), "DEFER_IF_PERMIT 4.7.1 Greylisted"));
  // Too early at the backup too: they share one greylist.
  request["instance"] = "2";
  CHECK(starts_with(at_backup.ask(request), "DEFER_IF_PERMIT 4.7.1 Greylisted"));
  std::this_thread::sleep_for(3100ms);
  request["instance"] = "3";
  auto pass = at_backup.ask(request);
  CHECK(starts_with(pass, "PREPEND X-Greylist: delayed "));
  CHECK(pass.find("at mx2.test") != std::string::npos);
}

TEST_CASE("a client network that passed often enough is auto-whitelisted", "[policyd][greylist]") {
  RedisServer redis;
  auto s = settings_for(redis, 1);
  s.extra_sections = "auto_whitelist = 2\nauto_whitelist_interval = 0\n";
  PolicydProcess policyd(s);
  PolicyClient client(policyd.port());
  for (const char* sender : {"one@example.net", "two@example.net"}) {
    auto r = rcpt_request("203.0.113.7", sender, "bob@example.com", sender);
    CHECK(starts_with(client.ask(r), "DEFER_IF_PERMIT"));
  }
  std::this_thread::sleep_for(2100ms);
  for (const char* sender : {"one@example.net", "two@example.net"}) {
    auto r = rcpt_request("203.0.113.7", sender, "bob@example.com", std::string("retry-") + sender);
    CHECK(starts_with(client.ask(r), "PREPEND X-Greylist"));
  }
  // Two passes: a never-seen triplet from the same /24 is no longer greylisted.
  auto fresh = rcpt_request("203.0.113.99", "three@example.net", "dave@example.com", "X");
  CHECK(client.ask(fresh) == "DUNNO");
  // Another network still is.
  auto other = rcpt_request("203.0.114.1", "three@example.net", "dave@example.com", "Y");
  CHECK(starts_with(client.ask(other), "DEFER_IF_PERMIT"));
}

TEST_CASE("with Redis down policyd answers DUNNO, counts it, and resumes when Redis returns",
          "[policyd][greylist][failure]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  PolicyClient client(policyd.port());
  CHECK(starts_with(client.ask(rcpt_request("192.0.2.30", "a@example.net", "b@example.com")),
                    "DEFER_IF_PERMIT"));
  redis.stop();
  auto down = client.ask(rcpt_request("192.0.2.31", "c@example.net", "d@example.com"), 3s);
  CHECK(down == "DUNNO");
  CHECK(policyd.metric("mailsan_backend_errors_total{backend=\"redis\"}") >= 1);
  CHECK(policyd.metric(
            "mailsan_policy_check_outcomes_total{check=\"greylist\",outcome=\"fail_open\"}") >= 1);
  CHECK(policyd.metric("mailsan_backend_up{backend=\"redis\"}") == 0);
  // An outage is logged once per interval with a count, not once a request.
  for (int i = 0; i < 30; ++i)
    CHECK(client.ask(
              rcpt_request("192.0.2.32", "c@example.net", "d" + std::to_string(i) + "@example.com"),
              3s) == "DUNNO");
  const std::string log = policyd.log();
  std::size_t lines = 0;
  for (auto pos = log.find("greylist_unavailable"); pos != std::string::npos;
       pos = log.find("greylist_unavailable", pos + 1))
    ++lines;
  CHECK(lines >= 1);
  CHECK(lines <= 2);
  CHECK(log.find("greylist_unavailable") != std::string::npos);
  CHECK(log.find(" count=") != std::string::npos);

  redis.start();
  // Reconnection has backoff; greylisting must come back without a restart.
  std::string answer;
  for (int i = 0; i < 100; ++i) {
    answer =
        client.ask(rcpt_request("192.0.2.40", "e@example.net", "f@example.com", std::to_string(i)));
    if (answer != "DUNNO") break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(starts_with(answer, "DEFER_IF_PERMIT 4.7.1 Greylisted"));
  CHECK(policyd.metric("mailsan_backend_up{backend=\"redis\"}") == 1);
}

TEST_CASE("garbage and oversized requests close only their own connection", "[policyd][protocol]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  PolicyClient good(policyd.port());
  PolicyClient garbage(policyd.port());
  PolicyClient oversized(policyd.port());
  PolicyClient too_many(policyd.port());

  garbage.send_raw("this is not a policy request\n\n");
  CHECK(garbage.closed_by_server());
  oversized.send_raw("request=smtpd_access_policy\nsender=" + std::string(70 * 1024, 'x') + "\n\n");
  CHECK(oversized.closed_by_server());
  std::string many = "request=smtpd_access_policy\n";
  for (int i = 0; i < 1001; ++i) many += "x" + std::to_string(i) + "=1\n";
  too_many.send_raw(many + "\n");
  CHECK(too_many.closed_by_server());

  CHECK(starts_with(good.ask(rcpt_request("192.0.2.50", "a@example.net", "b@example.com")),
                    "DEFER_IF_PERMIT"));
  CHECK(policyd.metric("mailsan_policy_protocol_errors_total") == 3);
  CHECK(policyd.process().running());
}

TEST_CASE("requests at other stages than RCPT get DUNNO", "[policyd][protocol]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  PolicyClient client(policyd.port());
  for (const char* state : {"CONNECT", "EHLO", "MAIL", "DATA", "END-OF-MESSAGE", "VRFY"}) {
    auto r = rcpt_request("192.0.2.60", "a@example.net", "b@example.com", state);
    r["protocol_state"] = state;
    CHECK(client.ask(r) == "DUNNO");
  }
}

TEST_CASE("whitelisted clients skip everything, whitelisted recipients skip greylisting",
          "[policyd][whitelist]") {
  RedisServer redis;
  auto s = settings_for(redis, 60);
  TempDir lists;
  auto file = lists.path() / "clients";
  write_file(file, "# partners\n198.51.100.0/24\n");
  s.extra_top = "whitelist_reload_interval = 1\n";
  s.extra_sections =
      "[whitelist]\nclients = 192.0.2.0/25, .partner.test\nclient_files = " + file.string() +
      "\nccert_fingerprints = AA:BB:CC\n";
  PolicydProcess policyd(s);
  PolicyClient client(policyd.port());
  CHECK(client.ask(rcpt_request("192.0.2.1", "a@example.net", "b@example.com")) == "DUNNO");
  CHECK(starts_with(client.ask(rcpt_request("192.0.2.200", "a@example.net", "b@example.com")),
                    "DEFER_IF_PERMIT"));
  auto named = rcpt_request("203.0.113.1", "a@example.net", "b@example.com");
  named["client_name"] = "mx.partner.test";
  CHECK(client.ask(named) == "DUNNO");
  auto sasl = rcpt_request("203.0.113.2", "a@example.net", "b@example.com");
  sasl["sasl_username"] = "alice";
  CHECK(client.ask(sasl) == "DUNNO");
  auto cert = rcpt_request("203.0.113.3", "a@example.net", "b@example.com");
  cert["ccert_fingerprint"] = "aa:bb:cc";
  CHECK(client.ask(cert) == "DUNNO");
  CHECK(client.ask(rcpt_request("203.0.113.4", "a@example.net", "postmaster@example.com")) ==
        "DUNNO");
  CHECK(client.ask(rcpt_request("198.51.100.9", "a@example.net", "b@example.com")) == "DUNNO");

  // The file reloads on change, without a signal.
  write_file(file, "203.0.113.0/24\n");
  std::string answer;
  for (int i = 0; i < 50; ++i) {
    answer = client.ask(
        rcpt_request("198.51.100.9", "z@example.net", "b@example.com", std::to_string(i)));
    if (answer != "DUNNO") break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(starts_with(answer, "DEFER_IF_PERMIT"));
  CHECK(client.ask(rcpt_request("203.0.113.50", "a@example.net", "b@example.com")) == "DUNNO");
}

TEST_CASE("SIGHUP reloads the configuration", "[policyd][reload]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  PolicyClient client(policyd.port());
  CHECK(client.ask(rcpt_request("192.0.2.70", "a@example.net", "b@example.com")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 60 seconds");
  auto conf = read_file(policyd.config_path());
  auto pos = conf.find("delay = 60");
  REQUIRE(pos != std::string::npos);
  conf.replace(pos, 10, "delay = 45");
  write_file(policyd.config_path(), conf);
  policyd.process().signal(SIGHUP);
  std::string answer;
  // Each try is a new triplet (a new recipient), so its answer shows the delay.
  for (int i = 0; i < 50; ++i) {
    answer = client.ask(rcpt_request("192.0.2.80", "x@example.net",
                                     "y" + std::to_string(i) + "@example.com", std::to_string(i)));
    if (answer != "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 60 seconds") break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(answer == "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 45 seconds");

  // A broken file on reload keeps the running configuration.
  write_file(policyd.config_path(), conf + "\nno_such_option = 1\n");
  policyd.process().signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  CHECK(policyd.process().running());
  CHECK(client.ask(rcpt_request("192.0.2.90", "x@example.net", "z@example.com", "z")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 45 seconds");
}

TEST_CASE("SIGHUP keeps restart-only options, names them, and refuses a bad reply",
          "[policyd][reload]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  PolicyClient client(policyd.port());
  CHECK(client.ask(rcpt_request("192.0.2.70", "a@example.net", "b@example.com")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 60 seconds");
  const std::string original = read_file(policyd.config_path());
  std::string conf = original;
  const std::string old_listen = "listen = inet:127.0.0.1:" + std::to_string(policyd.port());
  auto pos = conf.find(old_listen);
  REQUIRE(pos != std::string::npos);
  conf.replace(pos, old_listen.size(),
               "listen = inet:127.0.0.1:" + std::to_string(free_tcp_port()) + "\ndns_timeout = 5");
  pos = conf.find("delay = 60");
  REQUIRE(pos != std::string::npos);
  conf.replace(pos, 10, "delay = 45");
  write_file(policyd.config_path(), conf);
  policyd.process().signal(SIGHUP);
  std::string answer;
  for (int i = 0; i < 50; ++i) {
    answer = client.ask(rcpt_request("192.0.2.80", "x@example.net",
                                     "y" + std::to_string(i) + "@example.com", std::to_string(i)));
    if (answer != "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 60 seconds") break;
    std::this_thread::sleep_for(100ms);
  }
  // The delay changed; the listening socket (restart-only) did not.
  CHECK(answer == "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 45 seconds");
  PolicyClient again(policyd.port());
  CHECK(again.ask(rcpt_request("192.0.2.81", "x@example.net", "w@example.com")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 45 seconds");
  CHECK(policyd.log().find("reload_partial options=listen,dns_timeout") != std::string::npos);

  // A reply that is no policy action fails the reload, naming the option;
  // the running configuration stays.
  write_file(policyd.config_path(), conf + "defer_reply = 250 fine\n");
  policyd.process().signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  CHECK(policyd.process().running());
  CHECK(policyd.log().find("greylist.defer_reply") != std::string::npos);
  CHECK(client.ask(rcpt_request("192.0.2.90", "x@example.net", "v@example.com", "v")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 45 seconds");
}

TEST_CASE("SIGTERM lets a request in flight finish, then policyd exits", "[policyd][drain]") {
  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  PolicyClient client(policyd.port());
  CHECK(starts_with(client.ask(rcpt_request("192.0.2.100", "a@example.net", "b@example.com")),
                    "DEFER_IF_PERMIT"));
  // Redis holds the next reply for a second, so the request is in flight
  // when the signal comes.
  redis.cli({"CLIENT", "PAUSE", "1000"});
  client.send_raw(encode_request(rcpt_request("192.0.2.101", "c@example.net", "d@example.com")));
  std::this_thread::sleep_for(200ms);
  policyd.process().signal(SIGTERM);
  std::string reply;
  REQUIRE_NOTHROW(reply = client.read_reply(5s));
  CHECK(starts_with(reply, "DEFER_IF_PERMIT"));
  CHECK(client.closed_by_server());
  int status = policyd.process().wait(10s);
  CHECK(status == 0);
}

TEST_CASE("1,000 concurrent connections are served", "[policyd][load]") {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  REQUIRE(rl.rlim_cur >= 2100);

  RedisServer redis;
  PolicydProcess policyd(settings_for(redis, 60));
  std::vector<std::unique_ptr<PolicyClient>> clients;
  for (int i = 0; i < 1000; ++i) clients.push_back(std::make_unique<PolicyClient>(policyd.port()));
  // All requests go out before any reply is read, so they are in flight together.
  for (int i = 0; i < 1000; ++i) {
    auto r = rcpt_request("192.0.2." + std::to_string(i % 250),
                          "s" + std::to_string(i) + "@example.net", "r@example.com");
    clients[static_cast<std::size_t>(i)]->send_raw(encode_request(r));
  }
  int deferred = 0;
  for (auto& c : clients)
    if (starts_with(c->read_reply(20s), "DEFER_IF_PERMIT")) ++deferred;
  CHECK(deferred == 1000);
  CHECK(policyd.metric("mailsan_policy_connections") == 1000);
  // Every connection stays usable.
  int answered = 0;
  for (auto& c : clients)
    if (c->ask({{"protocol_state", "DATA"}}, 20s) == "DUNNO") ++answered;
  CHECK(answered == 1000);
}

TEST_CASE("policyd serves a unix socket as well as TCP", "[policyd][protocol]") {
  RedisServer redis;
  TempDir sockets;
  auto s = settings_for(redis, 60);
  s.unix_socket = (sockets.path() / "policy.sock").string();
  PolicydProcess policyd(s);
  PolicyClient client(std::filesystem::path(s.unix_socket));
  CHECK(client.ask(rcpt_request("192.0.2.110", "a@example.net", "b@example.com")) ==
        "DEFER_IF_PERMIT 4.7.1 Greylisted, retry in 60 seconds");
}

TEST_CASE("a bad configuration stops start-up with the file and line", "[policyd][config]") {
  TempDir dir;
  auto conf = dir.path() / "policyd.conf";
  write_file(conf, "listen = inet:127.0.0.1:10040\n[greylist]\ndelay = 300\ndealy = 5\n");
  auto r = run({MAILSAN_POLICYD_BIN, "-c", conf.string(), "--check-config"});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("policyd.conf:4:") != std::string::npos);
  CHECK(r.output.find("greylist.dealy") != std::string::npos);

  write_file(conf, "[whitelist]\nclients = 192.0.2.0/33\n");
  r = run({MAILSAN_POLICYD_BIN, "-c", conf.string(), "--check-config"});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("policyd.conf:2:") != std::string::npos);

  write_file(conf, "listen = inet:127.0.0.1\n");
  r = run({MAILSAN_POLICYD_BIN, "-c", conf.string(), "--check-config"});
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("policyd.conf:1:") != std::string::npos);

  write_file(conf, "[greylist]\ndelay = 10m\n");
  r = run({MAILSAN_POLICYD_BIN, "-c", conf.string(), "--check-config"});
  CHECK(r.exit_code == 0);
  r = run({MAILSAN_POLICYD_BIN, "-c", conf.string(), "--dump-config"});
  CHECK(r.output.find("delay = 600") != std::string::npos);
}
