// The SPF macro expander on its own: the RFC 7208 §7.4 examples, the
// escapes, and the syntax errors that make a record a permerror.
#include <catch2/catch.hpp>
#include <string>

#include "common/spf/macro.hpp"

using mailsan::net::IpAddress;
using mailsan::spf::domain_for_query;
using mailsan::spf::expand_macros;
using mailsan::spf::MacroContext;
using mailsan::spf::MacroScope;
using mailsan::spf::uses_macro;
using mailsan::spf::valid_macro_string;

namespace {

// The §7.4 context: strong-bad@email.example.com from 192.0.2.3.
MacroContext example_context(const char* ip = "192.0.2.3") {
  MacroContext context;
  context.sender = "strong-bad@email.example.com";
  context.local_part = "strong-bad";
  context.sender_domain = "email.example.com";
  context.domain = "email.example.com";
  context.ip = *IpAddress::parse(ip);
  context.helo = "mx.example.org";
  context.receiver = "mx.example.net";
  context.timestamp = 1234567890;
  return context;
}

std::string expand(const std::string& text, const MacroContext& context,
                   MacroScope scope = MacroScope::domain) {
  std::string error;
  auto out = expand_macros(text, context, scope, &error);
  INFO(text << ": " << error);
  REQUIRE(out);
  return *out;
}

}  // namespace

TEST_CASE("The RFC 7208 section 7.4 examples expand as published", "[spf]") {
  auto context = example_context();
  CHECK(expand("%{s}", context) == "strong-bad@email.example.com");
  CHECK(expand("%{o}", context) == "email.example.com");
  CHECK(expand("%{d}", context) == "email.example.com");
  CHECK(expand("%{d4}", context) == "email.example.com");
  CHECK(expand("%{d3}", context) == "email.example.com");
  CHECK(expand("%{d2}", context) == "example.com");
  CHECK(expand("%{d1}", context) == "com");
  CHECK(expand("%{dr}", context) == "com.example.email");
  CHECK(expand("%{d2r}", context) == "example.email");
  CHECK(expand("%{l}", context) == "strong-bad");
  CHECK(expand("%{l-}", context) == "strong.bad");
  CHECK(expand("%{lr}", context) == "strong-bad");
  CHECK(expand("%{lr-}", context) == "bad.strong");
  CHECK(expand("%{l1r-}", context) == "strong");
  CHECK(expand("%{ir}.%{v}._spf.%{d2}", context) == "3.2.0.192.in-addr._spf.example.com");
  CHECK(expand("%{lr-}.lp._spf.%{d2}", context) == "bad.strong.lp._spf.example.com");
  CHECK(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", context) ==
        "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  CHECK(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", context) ==
        "3.2.0.192.in-addr.strong.lp._spf.example.com");
  CHECK(expand("%{d2}.trusted-domains.example.net", context) ==
        "example.com.trusted-domains.example.net");

  auto v6 = example_context("2001:db8::cb01");
  CHECK(expand("%{ir}.%{v}._spf.%{d2}", v6) ==
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST_CASE("Upper-case macros are URL-escaped and the escapes expand", "[spf]") {
  auto context = example_context();
  context.local_part = "~jack&jill=up-a_b3.c";
  CHECK(expand("l=%{L}", context) == "l=~jack%26jill%3Dup-a_b3.c");
  CHECK(expand("a%%b%_c%-d", context) == "a%b c%20d");
  CHECK(expand("%{h}", context) == "mx.example.org");
  CHECK(expand("%{p}", context) == "unknown");
}

TEST_CASE("c, r and t expand only in explanations", "[spf]") {
  auto context = example_context();
  CHECK(expand("%{c} via %{r} at %{t}", context, MacroScope::explanation) ==
        "192.0.2.3 via mx.example.net at 1234567890");
  std::string error;
  CHECK_FALSE(expand_macros("%{c}.example.com", context, MacroScope::domain, &error));
  CHECK_FALSE(error.empty());
  auto v6 = example_context("2001:db8::cb01");
  CHECK(expand("%{c}", v6, MacroScope::explanation) == "2001:db8::cb01");
}

TEST_CASE("Malformed macro-strings are refused", "[spf]") {
  std::string error;
  for (const char* bad : {"%", "foo%", "%x", "%(ir)", "%{", "%{d", "%{q}", "%{d0}", "%{d2x}",
                          "%{dr.", "a b", "\x01", "\xc3\xa9"}) {
    INFO(bad);
    CHECK_FALSE(valid_macro_string(bad, MacroScope::domain, &error));
  }
  CHECK(valid_macro_string("%{ir}.%{v}._spf.%{d2}", MacroScope::domain, &error));
  CHECK(valid_macro_string("%{l-+,/_=}", MacroScope::domain, &error));
  CHECK(valid_macro_string("a b", MacroScope::explanation, &error));
}

TEST_CASE("Only a real macro counts as using a letter", "[spf]") {
  CHECK(uses_macro("%{p}.example.com", 'p'));
  CHECK(uses_macro("%{P2r}", 'p'));
  CHECK_FALSE(uses_macro("%%{p}", 'p'));
  CHECK_FALSE(uses_macro("p.example.com", 'p'));
}

TEST_CASE("Long expansions lose labels from the left", "[spf]") {
  std::string long_name;
  for (int i = 0; i < 30; ++i) long_name += "abcdefghi.";
  long_name += "example.com.";
  auto name = domain_for_query(long_name);
  CHECK(name.size() <= 253);
  CHECK(name.ends_with(".example.com"));
  CHECK(name.starts_with("abcdefghi."));
  CHECK(domain_for_query("example.com.") == "example.com");
}
