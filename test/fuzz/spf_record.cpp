// Fuzz target for the SPF record parser and macro expander: any text must
// parse into a record that keeps the parser's promises, or fail with a
// message; expanding any macro-string must never crash, and a domain name
// made from an expansion stays within 253 characters when it can.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/spf/macro.hpp"
#include "common/spf/record.hpp"

namespace spf = mailsan::spf;
using mailsan::net::IpAddress;

namespace {

void expand_all_ways(std::string_view text) {
  spf::MacroContext context;
  context.sender = "strong-bad@email.example.com";
  context.local_part = "strong-bad";
  context.sender_domain = "email.example.com";
  context.domain = "email.example.com";
  context.helo = "mx.example.org";
  context.receiver = "mx.example.net";
  context.timestamp = 1234567890;
  for (const char* ip : {"192.0.2.3", "2001:db8::cb01"}) {
    context.ip = *IpAddress::parse(ip);
    for (auto scope : {spf::MacroScope::domain, spf::MacroScope::explanation}) {
      std::string error;
      bool valid = spf::valid_macro_string(text, scope, &error);
      auto expanded = spf::expand_macros(text, context, scope, &error);
      if (valid != expanded.has_value()) std::abort();
      if (!expanded && error.empty()) std::abort();
      if (expanded && scope == spf::MacroScope::domain) {
        auto name = spf::domain_for_query(*expanded);
        if (name.size() > 253 && name.find('.') != std::string::npos) std::abort();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto record = spf::parse_record(input, &error);
  if (!record) {
    if (error.empty()) std::abort();
  } else {
    if (!spf::is_spf_record(input)) std::abort();
    for (const auto& mechanism : record->mechanisms) {
      if (mechanism.cidr4 > 32 || mechanism.cidr6 > 128) std::abort();
      if (!mechanism.domain_spec.empty()) {
        if (!spf::valid_domain_spec(mechanism.domain_spec, &error)) std::abort();
        expand_all_ways(mechanism.domain_spec);
      }
    }
    if (record->redirect) expand_all_ways(*record->redirect);
    if (record->explanation) expand_all_ways(*record->explanation);
  }
  // The same bytes as exp= TXT text and as a bare domain-spec.
  expand_all_ways(input);
  spf::valid_domain_spec(input, &error);
  spf::valid_check_domain(input);
  return 0;
}
