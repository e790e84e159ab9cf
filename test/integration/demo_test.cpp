// The README's main command, end to end: scripts/demo starts the whole
// stack (Redis, slapd, unbound, spamd, ClamAV's test database, a primary and
// a backup MX with mailsan-policyd and mailsan-filter each, the senders' MX),
// plays its day of mail, and `mailsanctl report` must show exactly that day.
// Then `scripts/demo stop` must stop every process it started.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test/support/process.hpp"

namespace mailsan::test {

TEST_CASE("scripts/demo plays the seed's day of mail and the report shows it", "[demo]") {
  TempDir dir("mailsan-demo");
  const std::string demo = std::string(MAILSAN_SOURCE_DIR) + "/scripts/demo";
  const std::vector<std::string> env = {"env",
                                        "DEMO_DIR=" + (dir.path() / "run").string(),
                                        "DEMO_BASE=21000",
                                        "DEMO_DELAY=3",
                                        "DEMO_NO_BUILD=1",
                                        "DEMO_BUILD_DIR=" + std::string(MAILSAN_BUILD_DIR)};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = env;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  auto played = run(with({"bash", demo}));
  INFO(played.output);
  auto stop = [&] { return run(with({"bash", demo, "stop"})); };
  REQUIRE(played.exit_code == 0);

  // What the clients were told, in the seed's words.
  const std::string& out = played.output;
  CHECK(out.find("550 5.1.1 <nobody@example.demo>: Recipient address rejected: User unknown") !=
        std::string::npos);
  CHECK(out.find("<evilspammer@remote.demo>... MX 10 'mx.remote.demo.' [127.0.0.30] for "
                 "<evilspammer@remote.demo> rejected address saying \"550 5.1.1") !=
        std::string::npos);
  CHECK(out.find("450 4.7.1 <jamie@example.demo>: Recipient address rejected: "
                 "<jamie@example.demo>... from <someone@dead.demo> via [127.0.0.101] to "
                 "<jamie@example.demo> denied for") != std::string::npos);
  CHECK(out.find("550 5.7.23 <jamie@example.demo>: Recipient address rejected: "
                 "<anyone@strict.demo>: SPF check failed") != std::string::npos);
  CHECK(out.find("554 5.7.1 <jamie@example.demo>: Recipient address rejected: Service "
                 "unavailable; client [127.0.0.102] blocked using bl.demo") != std::string::npos);
  CHECK(out.find("Greylisted, retry in 3 seconds") != std::string::npos);
  CHECK(out.find("ham, retried at the backup                   250 2.0.0 Ok: queued as") !=
        std::string::npos);
  CHECK(out.find("550 5.7.1 Rejected as spam (score") != std::string::npos);
  CHECK(out.find("554 5.7.1 Rejected: virus Eicar-Test-Signature") != std::string::npos);

  auto report = run({MAILSANCTL_BIN, "-c", (dir.path() / "run" / "filter-mx1.conf").string(),
                     "report", "--json"});
  INFO(report.output);
  REQUIRE(report.exit_code == 0);
  auto j = nlohmann::json::parse(report.output);
  CHECK(j["rejected"]["user_unknown"] == 1);
  CHECK(j["rejected"]["sender_verify"] == 1);
  CHECK(j["rejected"]["greylisted"] == 2);  // the ham's first attempt, the unverifiable sender
  CHECK(j["rejected"]["spf_fail"] == 1);
  CHECK(j["rejected"]["dnsbl"] == 1);
  CHECK(j["rejected"]["spam"] == 1);
  CHECK(j["rejected"]["virus"] == 1);
  CHECK(j["bounced"] == 0);
  CHECK(j["delivered"]["ham"] == 2);
  // The table the demo printed is the same report.
  CHECK(out.find("Sender verify (perm)            1") != std::string::npos);

  // mailsanctl against the running stack: the greylisted-then-passed
  // triplet, and a selftest through the primary from the whitelisted relay.
  const std::string run_dir = (dir.path() / "run").string();
  auto greylist = run({MAILSANCTL_BIN, "-c", run_dir + "/filter-mx1.conf", "greylist",
                       "--policyd-config", run_dir + "/policyd-mx1.conf", "show", "127.0.0.104",
                       "good@remote.demo", "jamie@example.demo"});
  INFO(greylist.output);
  CHECK(greylist.exit_code == 0);
  CHECK(greylist.output.find("first attempt  20") != std::string::npos);
  CHECK(greylist.output.find("last pass      20") != std::string::npos);
  // A network let through at once: its first message is not greylisted.
  auto whitelisted = run({MAILSANCTL_BIN, "greylist", "--policyd-config",
                          run_dir + "/policyd-mx1.conf", "whitelist", "127.0.0.150"});
  INFO(whitelisted.output);
  CHECK(whitelisted.exit_code == 0);
  auto first = run({"swaks", "--server", "127.0.0.1", "--port", "21250", "--local-interface",
                    "127.0.0.150", "--from", "good@remote.demo", "--to", "jamie@example.demo"});
  INFO(first.output);
  CHECK(first.exit_code == 0);
  CHECK(first.output.find("250 2.0.0 Ok: queued as") != std::string::npos);

  auto selftest = run({MAILSANCTL_BIN, "selftest", "--mx", "127.0.0.1:21250", "--source",
                       "127.0.0.200", "--from", "good@remote.demo", "--to", "jamie@example.demo"});
  INFO(selftest.output);
  CHECK(selftest.exit_code == 0);
  CHECK(selftest.output.find("ok      clean: expected accepted; got 250") != std::string::npos);
  CHECK(selftest.output.find("ok      gtube: expected refused as spam; got 550 5.7.1") !=
        std::string::npos);
  CHECK(selftest.output.find("ok      eicar: expected refused as a virus; got 554 5.7.1") !=
        std::string::npos);

  // A reported spam: its checksums are marked for every MX and spamd is
  // told; the next copy, at the other MX, is bulk at once.
  const std::string body = "Cheap watches, best prices, order at https://watches.example/?r=77\n";
  write_file(dir.path() / "reported.eml", "From: shop@remote.demo\nSubject: watches\n\n" + body);
  auto learned = run({MAILSANCTL_BIN, "-c", run_dir + "/filter-mx1.conf", "learn", "spam",
                      (dir.path() / "reported.eml").string()});
  INFO(learned.output);
  CHECK(learned.exit_code == 0);
  CHECK(learned.output.find("marked 4 checksums as bulk spam") != std::string::npos);
  CHECK(learned.output.find("told spamd") != std::string::npos);
  auto copy = run({"swaks", "--server", "127.0.0.1", "--port", "21251", "--local-interface",
                   "127.0.0.200", "--from", "shop@remote.demo", "--to", "jclark@example.demo",
                   "--data", "From: shop@remote.demo\nSubject: watches again\n\n" + body});
  INFO(copy.output);
  CHECK(copy.exit_code == 0);
  bool bulk_seen = false;
  for (int i = 0; i < 50 && !bulk_seen; ++i) {
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(dir.path() / "run" / "postfix-mx2" / "mail"))
      if (e.is_regular_file() &&
          read_file(e.path()).find("X-Mailsan-Bulk: yes; count=1; marked") != std::string::npos)
        bulk_seen = true;
    if (!bulk_seen) ::usleep(100000);
  }
  CHECK(bulk_seen);

  // Exactly what the demo started is stopped: every pid file's process.
  std::vector<pid_t> pids;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "run"))
    if (e.path().extension() == ".pid") pids.push_back(std::stoi(read_file(e.path())));
  CHECK(pids.size() == 8);
  auto stopped = stop();
  INFO(stopped.output);
  CHECK(stopped.exit_code == 0);
  for (pid_t pid : pids) CHECK(::kill(pid, 0) != 0);
  CHECK(stopped.output.find("stopped Postfix postfix-mx1") != std::string::npos);
}

}  // namespace mailsan::test
