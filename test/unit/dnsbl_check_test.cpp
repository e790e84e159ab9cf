// The verdicts DnsblCheck takes from a score the lookups left in the
// transaction's findings; no query is sent.
#include "policyd/dnsbl/dnsbl_check.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include "common/dns/resolver.hpp"
#include "common/metrics/registry.hpp"
#include "policyd/protocol/policy_responder.hpp"

namespace asio = boost::asio;
using namespace mailsan;
using namespace mailsan::policyd;

namespace {

struct Fixture {
  asio::io_context io;
  metrics::Registry registry;
  PolicydMetrics metrics{registry};
  dns::Resolver resolver{io.get_executor(), options()};
  std::shared_ptr<DnsblCheck> check = make_check();
  Transaction tx{to_check_request(PolicyRequest::from_pairs({{"client_address", "192.0.2.7"}}))};

  static dns::ResolverOptions options() {
    dns::ResolverOptions o;
    o.servers = {"127.0.0.1:9"};
    return o;
  }

  std::shared_ptr<DnsblCheck> make_check() {
    PolicydConfig config;
    auto table = make_option_table(config);
    config.rbl.zones = {"bl.example*2", "wl.example*-5"};
    config.rbl.greylist_delay = std::chrono::seconds(900);
    return std::make_shared<DnsblCheck>(config, resolver, metrics);
  }

  void found(int score, std::vector<DnsblFinding::Hit> hits) {
    DnsblFinding f;
    f.score = score;
    f.hits = std::move(hits);
    tx.findings.record(std::move(f));
  }
  const DnsblFinding& finding() const { return *tx.findings.find<DnsblFinding>(); }

  std::optional<Decision> decide() {
    auto f = asio::co_spawn(io, check->decide(tx), asio::use_future);
    io.run();
    io.restart();
    return f.get();
  }
};

}  // namespace

TEST_CASE("a score at reject_score rejects naming the heaviest zone and its TXT reason",
          "[dnsbl]") {
  Fixture f;
  f.found(3, {{"light.example", 1, "light reason"}, {"bl.example", 2, "see https://bl.example/"}});
  auto d = f.decide();
  REQUIRE(d);
  CHECK(policy_action(*d) ==
        "554 5.7.1 Service unavailable; client [192.0.2.7] blocked using bl.example; see "
        "https://bl.example/");
  CHECK(d->kind == DecisionKind::reject);
  CHECK(d->code == 554);
  CHECK(d->verdict == "reject");
}

TEST_CASE("a score between greylist_score and reject_score forces greylisting with its delay",
          "[dnsbl]") {
  Fixture f;
  f.found(2, {{"bl.example", 2, ""}});
  CHECK_FALSE(f.decide());
  CHECK(f.finding().forces_greylisting);
  CHECK(f.finding().greylist_delay.count() == 900);
  CHECK_FALSE(f.finding().skips_greylisting);
}

TEST_CASE("a score at or below skip_score skips greylisting and the callout", "[dnsbl]") {
  Fixture f;
  f.found(-3, {{"bl.example", 2, ""}, {"wl.example", -5, ""}});
  CHECK_FALSE(f.decide());
  CHECK(f.finding().skips_greylisting);
  CHECK(f.finding().skips_callout);
  CHECK_FALSE(f.finding().forces_greylisting);
}

TEST_CASE("no listing leaves the transaction alone", "[dnsbl]") {
  Fixture f;
  CHECK_FALSE(f.decide());
  CHECK(f.tx.findings.find<DnsblFinding>() == nullptr);
  CHECK(f.tx.notes.empty());
}

TEST_CASE("a TXT reason is made safe for a policy reply", "[dnsbl]") {
  CHECK(dnsbl_reason("listed\r\naction=OK") == "listed??action=OK");
  CHECK(dnsbl_reason("trailing   ") == "trailing");
  CHECK(dnsbl_reason(std::string(300, 'x')).size() == 200);
  CHECK(dnsbl_reason("caf\xc3\xa9") == "caf??");
}
