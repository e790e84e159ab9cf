#include "policyd/greylist/sender_normalizer.hpp"

#include <catch2/catch.hpp>

using mailsan::policyd::normalize_sender;

TEST_CASE("senders are normalised so per-message tokens do not make new triplets", "[greylist]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"", ""},
      {"Alice@Example.COM", "alice@example.com"},
      {"alice+news@example.com", "alice@example.com"},
      {"alice+@example.com", "alice@example.com"},
      {"+alice@example.com", "+alice@example.com"},  // nothing before '+': not an extension
      {"bounce-12345-678@lists.example.org", "bounce-#-#@lists.example.org"},
      {"owner-list-9@example.org", "owner-list-#@example.org"},
      {"1234@example.org", "#@example.org"},
      {"prvs=1234567890=alice@example.com", "alice@example.com"},
      {"prvs=alice=1234567890@example.com", "alice@example.com"},
      {"PRVS=0ABCDEF123=Alice@Example.com", "alice@example.com"},
      {"SRS0=HHH=TT=example.com=alice@forwarder.example", "alice@example.com"},
      {"SRS0+HHH=TT=example.com=alice@forwarder.example", "alice@example.com"},
      {"SRS0=a1b2=Z9=example.com=odd=local@fwd.example", "odd=local@example.com"},
      {"SRS1=HHH=first.example==HHH=TT=example.com=alice@second.example", "alice@example.com"},
      {"SRS0=broken@forwarder.example", "srs#=broken@forwarder.example"},
      {"postmaster", "postmaster"},
      {"news+2026-11-27@example.com", "news@example.com"},
      {"SRS0=h=t=example.com=bob+tag123@fwd.example", "bob@example.com"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(normalize_sender(c.in) == c.out);
  }
}
