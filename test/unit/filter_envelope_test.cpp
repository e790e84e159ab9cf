// The envelope's client fields, filled from XFORWARD as the proxy receives
// it, and the attributes kept for the replay downstream.
#include <catch2/catch.hpp>

#include "contentfilter/message/envelope.hpp"

using namespace mailsan::filter;
using Attributes = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("XFORWARD fills the client fields; a repeated attribute replaces the earlier one",
          "[filter][envelope]") {
  Envelope e;
  add_xforward(e, {{"NAME", "client.example.net"}, {"ADDR", "192.0.2.25"}, {"PORT", "4711"}});
  add_xforward(e, {{"PROTO", "ESMTP"}, {"HELO", "client"}, {"NAME", "[UNAVAILABLE]"}});
  CHECK(e.client_name == "[UNAVAILABLE]");
  CHECK(e.client_address == "192.0.2.25");
  CHECK(e.client_helo == "client");
  CHECK(e.protocol == "ESMTP");
  CHECK(e.mta_helo.empty());
  // Replayed as received, in the order first seen.
  CHECK(xforward_attributes(e) == Attributes{{"NAME", "[UNAVAILABLE]"},
                                             {"ADDR", "192.0.2.25"},
                                             {"PORT", "4711"},
                                             {"PROTO", "ESMTP"},
                                             {"HELO", "client"}});
}

TEST_CASE("Without XFORWARD (a milter) the client fields give the attributes to replay",
          "[filter][envelope]") {
  Envelope e;
  CHECK(xforward_attributes(e).empty());
  e.client_name = "client.example.net";
  e.client_address = "2001:db8::25";
  e.client_helo = "client";
  e.protocol = "SMTP";
  CHECK(xforward_attributes(e) == Attributes{{"NAME", "client.example.net"},
                                             {"ADDR", "2001:db8::25"},
                                             {"PROTO", "SMTP"},
                                             {"HELO", "client"}});
}
