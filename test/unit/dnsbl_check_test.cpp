// The verdicts DnsblCheck takes from a score the lookups left in the
// transaction; no query is sent.
#include "policyd/dnsbl/dnsbl_check.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include "common/dns/resolver.hpp"
#include "common/metrics/registry.hpp"

namespace asio = boost::asio;
using namespace mailsan;
using namespace mailsan::policyd;

namespace {

struct Fixture {
  asio::io_context io;
  metrics::Registry registry;
  PolicydMetrics metrics{registry};
  dns::Resolver resolver{io.get_executor(), options()};
  DnsblCheck check{resolver, metrics};
  PolicyRequest request = PolicyRequest::from_pairs({{"client_address", "192.0.2.7"}});
  Transaction tx{request};

  static dns::ResolverOptions options() {
    dns::ResolverOptions o;
    o.servers = {"127.0.0.1:9"};
    return o;
  }

  Fixture() {
    PolicydConfig config;
    auto table = make_option_table(config);
    config.rbl.zones = {"bl.example*2", "wl.example*-5"};
    config.rbl.greylist_delay = std::chrono::seconds(900);
    check.configure(config);
    tx.client_ip = net::IpAddress::parse("192.0.2.7");
  }

  std::optional<Decision> decide() {
    auto f = asio::co_spawn(io, check.decide(tx), asio::use_future);
    io.run();
    io.restart();
    return f.get();
  }
};

}  // namespace

TEST_CASE("a score at reject_score rejects naming the heaviest zone and its TXT reason",
          "[dnsbl]") {
  Fixture f;
  f.tx.dnsbl_score = 3;
  f.tx.dnsbl_hits = {{"light.example", 1, "light reason"},
                     {"bl.example", 2, "see https://bl.example/"}};
  auto d = f.decide();
  REQUIRE(d);
  CHECK(d->action ==
        "554 5.7.1 Service unavailable; client [192.0.2.7] blocked using bl.example; see "
        "https://bl.example/");
  CHECK(d->verdict == "reject");
}

TEST_CASE("a score between greylist_score and reject_score forces greylisting with its delay",
          "[dnsbl]") {
  Fixture f;
  f.tx.skip_greylist = true;  // a whitelisted recipient
  f.tx.dnsbl_score = 2;
  f.tx.dnsbl_hits = {{"bl.example", 2, ""}};
  CHECK_FALSE(f.decide());
  CHECK(f.tx.force_greylist);
  REQUIRE(f.tx.greylist_delay);
  CHECK(f.tx.greylist_delay->count() == 900);
}

TEST_CASE("a score at or below skip_score skips greylisting and the callout", "[dnsbl]") {
  Fixture f;
  f.tx.dnsbl_score = -3;
  f.tx.dnsbl_hits = {{"bl.example", 2, ""}, {"wl.example", -5, ""}};
  CHECK_FALSE(f.decide());
  CHECK(f.tx.skip_greylist);
  CHECK(f.tx.skip_callout);
  CHECK_FALSE(f.tx.force_greylist);
}

TEST_CASE("no listing leaves the transaction alone", "[dnsbl]") {
  Fixture f;
  CHECK_FALSE(f.decide());
  CHECK_FALSE(f.tx.skip_greylist);
  CHECK_FALSE(f.tx.force_greylist);
  CHECK(f.tx.notes.empty());
}

TEST_CASE("a TXT reason is made safe for a policy reply", "[dnsbl]") {
  CHECK(dnsbl_reason("listed\r\naction=OK") == "listed??action=OK");
  CHECK(dnsbl_reason("trailing   ") == "trailing");
  CHECK(dnsbl_reason(std::string(300, 'x')).size() == 200);
  CHECK(dnsbl_reason("caf\xc3\xa9") == "caf??");
}
