// The spamd scanner's choices that need no spamd: which User: a message is
// checked for, and what a message over max_size becomes.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "contentfilter/scan/spamd_scanner.hpp"
#include "contentfilter/verdict/verdict.hpp"
#include "test/support/run_coroutine.hpp"

using namespace mailsan::filter;

namespace {

Envelope envelope_for(std::vector<std::string> recipients) {
  Envelope e;
  e.sender.address = "alice@remote.test";
  for (auto& r : recipients) e.recipients.push_back({std::move(r), {}});
  return e;
}

SpamdConfig config(const std::string& user, const std::string& default_user = "") {
  SpamdConfig c;
  c.user = user;
  c.default_user = default_user;
  return c;
}

}  // namespace

TEST_CASE("User: is the one recipient's local part, address, or nobody, as configured",
          "[spamd][scanner]") {
  const Envelope one = envelope_for({"Bob.Smith@Example.TEST"});
  CHECK(spamd_user_for(one, config("local_part")) == "bob.smith");
  CHECK(spamd_user_for(one, config("address")) == "bob.smith@example.test");
  CHECK(spamd_user_for(one, config("none", "shared")) == "");
  // A local part that itself contains '@' (quoted) ends at the last '@'.
  CHECK(spamd_user_for(envelope_for({"\"a@b\"@example.test"}), config("local_part")) == "\"a@b\"");
  CHECK(spamd_user_for(envelope_for({"postmaster"}), config("local_part")) == "postmaster");
}

TEST_CASE("several recipients share default_user, or no User: at all", "[spamd][scanner]") {
  const Envelope two = envelope_for({"bob@example.test", "carol@example.test"});
  CHECK(spamd_user_for(two, config("local_part")) == "");
  CHECK(spamd_user_for(two, config("local_part", "shared")) == "shared");
  CHECK(spamd_user_for(two, config("address", "shared")) == "shared");
}

TEST_CASE("a message over max_size is not sent, counts as unchecked, and is never tempfailed",
          "[spamd][scanner]") {
  boost::asio::io_context io;
  SpamdConfig c;
  c.address = "inet:127.0.0.1:9";  // never contacted
  c.max_size = 1024;
  c.failure_mode = "fail_closed";
  auto scanner = std::make_shared<SpamdScanner>(io.get_executor(), c);
  CHECK(scanner->name() == "spamd");
  CHECK(scanner->failure_mode() == FailureMode::closed);
  MessageSpool spool(1 << 20, std::filesystem::temp_directory_path());
  REQUIRE(!spool.append("Subject: big\r\n\r\n" + std::string(2000, 'x') + "\r\n"));
  const Envelope e = envelope_for({"bob@example.test"});
  const ScanInput input{e, spool};
  ScanReport report;
  mailsan::test::run_test(
      io, [&]() -> boost::asio::awaitable<void> { report = co_await scanner->scan(input); }());
  CHECK_FALSE(report.completed);
  CHECK(report.skipped);
  CHECK(report.scores_spam);
  CHECK(report.error == "larger than max_size (2018 > 1024 bytes)");

  VerdictPolicy policy;
  policy.hostname = "mx1.test";
  Verdict v = decide_verdict(e, {report}, {FailureMode::closed}, {"451 4.3.0 no"}, policy);
  CHECK(v.kind == Verdict::Kind::accept);
  CHECK(v.headers == std::vector<std::string>{"X-Spam-Status: unchecked"});
  CHECK(v.report == "spamd: skipped (larger than max_size (2018 > 1024 bytes))");
}

TEST_CASE("a bad spamd address is refused when the settings are made", "[spamd][scanner]") {
  boost::asio::io_context io;
  SpamdConfig c;
  c.address = "nonsense";
  CHECK_THROWS_AS(SpamdScanner(io.get_executor(), c), std::invalid_argument);
}
