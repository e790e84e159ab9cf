// check() against a small in-memory zone, and the Received-SPF header it
// leads to: identities, explanations, and header values from untrusted
// input that must not break the header.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <utility>

#include "common/spf/spf.hpp"

namespace asio = boost::asio;
namespace dns = mailsan::dns;
namespace spf = mailsan::spf;
using mailsan::net::IpAddress;

namespace {

// TXT records by name; any other name or type is nxdomain, and names in
// `failing` time out.
class TxtZone : public spf::DnsSource {
 public:
  std::multimap<std::string, std::string> txt;
  std::string failing;
  int queries = 0;

  asio::awaitable<dns::Answer> query(std::string_view name, dns::RecordType type) override {
    ++queries;
    dns::Answer answer;
    answer.status = dns::Status::nxdomain;
    if (name == failing) {
      answer.status = dns::Status::timeout;
    } else if (type == dns::RecordType::txt) {
      auto [first, last] = txt.equal_range(std::string(name));
      for (auto it = first; it != last; ++it) answer.texts.push_back(it->second);
      if (!answer.texts.empty()) answer.status = dns::Status::ok;
    }
    co_return answer;
  }
};

spf::Outcome run_check(const spf::Request& request, spf::DnsSource& zone) {
  asio::io_context io;
  auto future = asio::co_spawn(io, spf::check(request, zone), asio::use_future);
  io.run();
  return future.get();
}

spf::Request request_from(std::string sender, const char* ip = "192.0.2.1") {
  spf::Request request;
  request.ip = *IpAddress::parse(ip);
  request.sender = std::move(sender);
  request.helo = "mail.example.net";
  request.receiver = "mx1.example.com";
  request.timestamp = 1234567890;
  return request;
}

}  // namespace

// Values that are not dot-atoms (an address, a mechanism with ':') are
// quoted strings, as in the RFC 7208 §9.1 examples.
TEST_CASE("A pass names the matching mechanism and the mailfrom identity", "[spf]") {
  TxtZone zone;
  zone.txt.emplace("example.net", "v=spf1 ip4:192.0.2.0/24 -all");
  auto request = request_from("alice@example.net");
  auto outcome = run_check(request, zone);
  CHECK(outcome.result == spf::Result::pass);
  CHECK(outcome.identity == "mailfrom");
  CHECK(outcome.domain == "example.net");
  CHECK(outcome.mechanism == "ip4:192.0.2.0/24");
  CHECK(spf::received_spf_header(outcome, request) ==
        "Received-SPF: pass (mx1.example.com: domain of alice@example.net designates 192.0.2.1 "
        "as permitted sender) client-ip=192.0.2.1; envelope-from=\"alice@example.net\"; "
        "helo=mail.example.net; receiver=mx1.example.com; identity=mailfrom; "
        "mechanism=\"ip4:192.0.2.0/24\"");
}

TEST_CASE("The null sender is checked as postmaster at the HELO name", "[spf]") {
  TxtZone zone;
  zone.txt.emplace("mail.example.net", "v=spf1 -all");
  auto request = request_from("");
  auto outcome = run_check(request, zone);
  CHECK(outcome.result == spf::Result::fail);
  CHECK(outcome.identity == "helo");
  CHECK(outcome.domain == "mail.example.net");
  CHECK(outcome.explanation ==
        "See https://www.open-spf.org/Why?id=postmaster%40mail.example.net&ip=192.0.2.1"
        "&r=mx1.example.com");
  auto header = spf::received_spf_header(outcome, request);
  CHECK(header.find("envelope-from=\"<>\";") != std::string::npos);
  CHECK(header.find("identity=helo;") != std::string::npos);
  CHECK(header.find("mechanism=-all") != std::string::npos);
}

TEST_CASE("An exp= explanation is expanded with the explanation-only macros", "[spf]") {
  TxtZone zone;
  zone.txt.emplace("example.net", "v=spf1 -all exp=why.%{d}");
  zone.txt.emplace("why.example.net", "%{c} may not send for %{o} (seen by %{r} at %{t})");
  auto outcome = run_check(request_from("bob@example.net", "2001:db8::1"), zone);
  CHECK(outcome.result == spf::Result::fail);
  CHECK(outcome.explanation ==
        "2001:db8::1 may not send for example.net (seen by mx1.example.com at 1234567890)");
}

TEST_CASE("A DNS timeout is a temperror with the problem in the header", "[spf]") {
  TxtZone zone;
  zone.failing = "example.net";
  auto request = request_from("bob@example.net");
  auto outcome = run_check(request, zone);
  CHECK(outcome.result == spf::Result::temperror);
  CHECK_FALSE(outcome.problem.empty());
  CHECK(spf::received_spf_header(outcome, request).find("problem=\"") != std::string::npos);
}

TEST_CASE("Every result has its RFC 7208 name", "[spf]") {
  CHECK(spf::to_string(spf::Result::none) == "none");
  CHECK(spf::to_string(spf::Result::neutral) == "neutral");
  CHECK(spf::to_string(spf::Result::pass) == "pass");
  CHECK(spf::to_string(spf::Result::fail) == "fail");
  CHECK(spf::to_string(spf::Result::softfail) == "softfail");
  CHECK(spf::to_string(spf::Result::temperror) == "temperror");
  CHECK(spf::to_string(spf::Result::permerror) == "permerror");
}

TEST_CASE("Untrusted header values cannot end the line or the comment", "[spf]") {
  TxtZone zone;
  auto request = request_from("a)b\r\nX-Evil: 1@exa\"mple.net");
  request.helo = "evil\r\nhelo";
  auto outcome = run_check(request, zone);
  auto header = spf::received_spf_header(outcome, request);
  INFO(header);
  CHECK(header.find('\r') == std::string::npos);
  CHECK(header.find('\n') == std::string::npos);
  CHECK(header.find("a\\)b") != std::string::npos);
  CHECK(header.find("envelope-from=\"a)b??X-Evil: 1@exa\\\"mple.net\"") != std::string::npos);
}

TEST_CASE("Include loops stop at the DNS-querying term limit", "[spf]") {
  TxtZone zone;
  zone.txt.emplace("example.net", "v=spf1 include:example.net -all");
  auto outcome = run_check(request_from("bob@example.net"), zone);
  CHECK(outcome.result == spf::Result::permerror);
  CHECK(zone.queries <= 12);
}
