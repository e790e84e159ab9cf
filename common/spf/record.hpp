// SPF record syntax (RFC 7208 §4.5, §4.6, §5, §6, §12): selecting the
// "v=spf1" record among a name's TXT strings and parsing it into terms.
// Pure: no DNS, no Asio, so it is fuzzed on its own.
//
// SECURITY: records are published by whoever controls the sender's domain,
// so any byte string must parse into a Record or fail with a message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/cidr.hpp"

namespace mailsan::spf {

enum class Qualifier : char { pass = '+', fail = '-', softfail = '~', neutral = '?' };

enum class MechanismKind { all, include, a, mx, ptr, ip4, ip6, exists };

struct Mechanism {
  Qualifier qualifier = Qualifier::pass;
  MechanismKind kind = MechanismKind::all;
  std::string domain_spec;  // unexpanded; empty: the domain being checked
  net::Cidr network;        // ip4, ip6
  unsigned cidr4 = 32;      // a, mx
  unsigned cidr6 = 128;     // a, mx
  std::string text;         // the term as published, for Received-SPF
};

struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<std::string> redirect;     // domain-spec, unexpanded
  std::optional<std::string> explanation;  // exp= domain-spec, unexpanded
};

// True for "v=spf1" alone or followed by a space, in any case (§4.5).
bool is_spf_record(std::string_view txt);

// The record's terms, or nullopt with *error set: an unknown mechanism, a
// malformed term, a bad macro, a byte outside printable ASCII, a
// duplicated redirect= or exp= are all permerrors (§4.6, §6).
std::optional<Record> parse_record(std::string_view text, std::string* error);

// RFC 7208 §7.1 domain-spec syntax (macro-string then a top label or a
// macro), without expanding it.
bool valid_domain_spec(std::string_view spec, std::string* error);

// Whether check_host() can start with this domain (§4.3): a fully
// qualified name of printable ASCII whose labels are 1 to 63 characters
// and whose last label is a top label. A trailing dot is allowed.
bool valid_check_domain(std::string_view domain);

}  // namespace mailsan::spf
