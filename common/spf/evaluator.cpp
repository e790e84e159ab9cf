// check_host() (RFC 7208 §4): record lookup, term evaluation, the DNS
// limits of §4.6.4, redirect= and exp=. All DNS goes through DnsSource; the
// record parser and macro expander are pure.
//
// SECURITY: the sender, HELO name and every record are untrusted. The
// shared counter of DNS-querying terms bounds the work, include/redirect
// loops included, and a name that cannot be valid is never queried.
#include <boost/asio/awaitable.hpp>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/spf/macro.hpp"
#include "common/spf/record.hpp"
#include "common/spf/spf.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::spf {
namespace {

using boost::asio::awaitable;

constexpr std::size_t kMaxMxRecords = 10;  // §4.6.4: more is a permerror
constexpr std::size_t kMaxPtrNames = 10;   // §4.6.4: the rest are ignored

struct Verdict {
  Result result = Result::neutral;
  std::string mechanism;
  std::string explanation;
  std::string problem;
};

enum class Match { no, yes, error };

Verdict error_verdict(Result result, std::string problem) {
  Verdict out;
  out.result = result;
  out.problem = std::move(problem);
  return out;
}

Result result_of(Qualifier qualifier) {
  switch (qualifier) {
    case Qualifier::pass:
      return Result::pass;
    case Qualifier::fail:
      return Result::fail;
    case Qualifier::softfail:
      return Result::softfail;
    case Qualifier::neutral:
      return Result::neutral;
  }
  return Result::neutral;
}

bool is_dns_failure(dns::Status status) {
  return status != dns::Status::ok && status != dns::Status::nxdomain &&
         status != dns::Status::nodata;
}

std::string without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return std::string(name);
}

// Whether name is domain or below it, ignoring case and trailing dots.
bool within(std::string_view name, std::string_view domain) {
  auto n = util::ascii_lower(without_trailing_dot(name));
  auto d = util::ascii_lower(without_trailing_dot(domain));
  return n == d || (n.size() > d.size() && n.ends_with(d) && n[n.size() - d.size() - 1] == '.');
}

// Names that could be on the wire; anything else is not queried.
bool queryable(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    if (end == start || end - start > 63) return false;
    start = end + 1;
  }
  return true;
}

std::string reverse_name(const net::IpAddress& ip) {
  std::string out;
  if (!ip.v6) {
    for (int i = 3; i >= 0; --i) out += std::to_string(ip.bytes[static_cast<std::size_t>(i)]) + ".";
    return out + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    auto byte = ip.bytes[static_cast<std::size_t>(i)];
    out += kHex[byte & 0xf];
    out += '.';
    out += kHex[byte >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

class Evaluator {
 public:
  Evaluator(DnsSource& dns, Limits limits, net::IpAddress ip, std::string sender,
            std::string local_part, std::string sender_domain, const Request& request)
      : dns_(dns),
        limits_(limits),
        ip_(ip),
        sender_(std::move(sender)),
        local_part_(std::move(local_part)),
        sender_domain_(std::move(sender_domain)),
        request_(request) {}

  awaitable<Verdict> check_host(std::string domain) {
    auto lookup = query(domain, dns::RecordType::txt);
    dns::Answer answer = co_await std::move(lookup);
    if (is_dns_failure(answer.status))
      co_return error_verdict(
          Result::temperror,
          "DNS " + std::string(dns::to_string(answer.status)) + " looking up TXT of " + domain);
    std::vector<const std::string*> records;
    for (const auto& text : answer.texts)
      if (is_spf_record(text)) records.push_back(&text);
    if (records.empty()) co_return error_verdict(Result::none, "no SPF record at " + domain);
    if (records.size() > 1)
      co_return error_verdict(Result::permerror, "more than one SPF record at " + domain);
    std::string error;
    auto record = parse_record(*records.front(), &error);
    if (!record) co_return error_verdict(Result::permerror, error + " in the record of " + domain);

    for (const auto& mechanism : record->mechanisms) {
      std::string problem;
      Result error_result = Result::permerror;
      auto evaluation = matches(mechanism, domain, problem, error_result);
      Match match = co_await std::move(evaluation);
      if (match == Match::error) co_return error_verdict(error_result, problem);
      if (match == Match::no) continue;
      Verdict out;
      out.result = result_of(mechanism.qualifier);
      out.mechanism = mechanism.text;
      if (out.result == Result::fail) {
        auto explaining = explain(*record, domain);
        out.explanation = co_await std::move(explaining);
      }
      co_return out;
    }

    if (record->redirect) {
      if (!count_dns_term()) co_return too_many_lookups();
      auto target = co_await expand_target(*record->redirect, domain, error);
      if (!target) co_return error_verdict(Result::permerror, error);
      if (!queryable(*target))
        co_return error_verdict(Result::permerror, "invalid redirect target " + *target);
      auto redirected = check_host(*target);
      Verdict out = co_await std::move(redirected);
      if (out.result == Result::none) {
        out.result = Result::permerror;
        out.problem = "redirect target " + *target + " has no SPF record";
      }
      co_return out;
    }
    Verdict out;
    out.result = Result::neutral;
    out.mechanism = "default";
    co_return out;
  }

 private:
  awaitable<dns::Answer> query(std::string name, dns::RecordType type) {
    auto lookup = dns_.query(name, type);
    dns::Answer answer = co_await std::move(lookup);
    co_return answer;
  }

  bool count_dns_term() { return ++dns_terms_ <= limits_.dns_mechanisms; }
  bool count_void() { return ++void_lookups_ <= limits_.void_lookups; }

  Verdict too_many_lookups() const {
    return error_verdict(Result::permerror, "more than " + std::to_string(limits_.dns_mechanisms) +
                                                " DNS-querying terms");
  }

  MacroContext context(std::string_view domain, std::string_view validated_name) const {
    MacroContext out;
    out.sender = sender_;
    out.local_part = local_part_;
    out.sender_domain = sender_domain_;
    out.domain = domain;
    out.ip = ip_;
    out.validated_name = validated_name;
    out.helo = request_.helo;
    out.receiver = request_.receiver;
    out.timestamp = request_.timestamp != 0 ? request_.timestamp : std::time(nullptr);
    return out;
  }

  // The names the client's PTR records give that resolve back to its
  // address, at most kMaxPtrNames of them tried (§5.5). DNS errors skip a
  // name rather than fail: the client's reverse zone is not the sender's.
  awaitable<std::vector<std::string>> validated_names() {
    std::vector<std::string> out;
    auto lookup = query(reverse_name(ip_), dns::RecordType::ptr);
    dns::Answer ptr = co_await std::move(lookup);
    if (ptr.status != dns::Status::ok) co_return out;
    const auto type = ip_.v6 ? dns::RecordType::aaaa : dns::RecordType::a;
    std::size_t tried = 0;
    for (const auto& text : ptr.texts) {
      if (tried++ == kMaxPtrNames) break;
      std::string name = without_trailing_dot(text);
      if (!queryable(name)) continue;
      auto address_lookup = query(name, type);
      dns::Answer addresses = co_await std::move(address_lookup);
      if (addresses.status != dns::Status::ok) continue;
      for (const auto& address : addresses.addresses)
        if (address == ip_) {
          out.push_back(name);
          break;
        }
    }
    co_return out;
  }

  // %{p}: a validated name, preferably the domain or one below it.
  awaitable<std::string> validated_name_for(std::string_view domain) {
    auto lookup = validated_names();
    std::vector<std::string> names = co_await std::move(lookup);
    for (const auto& name : names)
      if (within(name, domain)) co_return name;
    if (!names.empty()) co_return names.front();
    co_return std::string("unknown");
  }

  awaitable<std::optional<std::string>> expand_text(std::string_view text, std::string_view domain,
                                                    MacroScope scope, std::string& error) {
    std::string validated;
    if (uses_macro(text, 'p')) {
      auto lookup = validated_name_for(domain);
      validated = co_await std::move(lookup);
    }
    co_return expand_macros(text, context(domain, validated), scope, &error);
  }

  awaitable<std::optional<std::string>> expand_target(std::string_view spec,
                                                      std::string_view domain, std::string& error) {
    if (spec.empty()) co_return std::string(domain);
    auto expanding = expand_text(spec, domain, MacroScope::domain, error);
    std::optional<std::string> expanded = co_await std::move(expanding);
    if (!expanded) co_return std::nullopt;
    co_return domain_for_query(std::move(*expanded));
  }

  // A lookup for a, mx or exists: ok, or a void lookup counted, or an error.
  // Returns false with the verdict set when evaluation must stop.
  bool settle_lookup(const dns::Answer& answer, const std::string& name, std::string& problem,
                     Result& error_result) {
    if (is_dns_failure(answer.status)) {
      error_result = Result::temperror;
      problem = "DNS " + std::string(dns::to_string(answer.status)) + " looking up " + name;
      return false;
    }
    const bool empty = answer.status != dns::Status::ok ||
                       (answer.addresses.empty() && answer.mx.empty() && answer.texts.empty());
    if (empty && !count_void()) {
      error_result = Result::permerror;
      problem = "more than " + std::to_string(limits_.void_lookups) + " void DNS lookups";
      return false;
    }
    return true;
  }

  bool in_network(const net::IpAddress& address, const Mechanism& mechanism) const {
    if (address.v6 != ip_.v6) return false;
    unsigned length = ip_.v6 ? mechanism.cidr6 : mechanism.cidr4;
    return address.masked(length) == ip_.masked(length);
  }

  awaitable<Match> matches(const Mechanism& mechanism, const std::string& domain,
                           std::string& problem, Result& error_result) {
    error_result = Result::permerror;
    switch (mechanism.kind) {
      case MechanismKind::all:
        co_return Match::yes;
      case MechanismKind::ip4:
      case MechanismKind::ip6:
        co_return mechanism.network.contains(ip_) ? Match::yes : Match::no;
      default:
        break;
    }
    if (!count_dns_term()) {
      problem = too_many_lookups().problem;
      co_return Match::error;
    }
    std::string error;
    auto expanding = expand_target(mechanism.domain_spec, domain, error);
    std::optional<std::string> target = co_await std::move(expanding);
    if (!target) {
      problem = error;
      co_return Match::error;
    }
    if (mechanism.kind == MechanismKind::include) {
      if (!queryable(*target)) {
        problem = "invalid include target " + *target;
        co_return Match::error;
      }
      auto including = check_host(*target);
      Verdict included = co_await std::move(including);
      switch (included.result) {
        case Result::pass:
          co_return Match::yes;
        case Result::fail:
        case Result::softfail:
        case Result::neutral:
          co_return Match::no;
        case Result::temperror:
          error_result = Result::temperror;
          problem = included.problem;
          co_return Match::error;
        case Result::none:
        case Result::permerror:
          problem = "include:" + *target + ": " + included.problem;
          co_return Match::error;
      }
      co_return Match::error;
    }
    if (!queryable(*target)) co_return Match::no;
    if (mechanism.kind == MechanismKind::ptr) {
      auto lookup = validated_names();
      std::vector<std::string> names = co_await std::move(lookup);
      for (const auto& name : names)
        if (within(name, *target)) co_return Match::yes;
      co_return Match::no;
    }
    if (mechanism.kind == MechanismKind::exists) {
      auto lookup = query(*target, dns::RecordType::a);
      dns::Answer answer = co_await std::move(lookup);
      if (!settle_lookup(answer, *target, problem, error_result)) co_return Match::error;
      co_return answer.status == dns::Status::ok && !answer.addresses.empty() ? Match::yes
                                                                              : Match::no;
    }
    const auto address_type = ip_.v6 ? dns::RecordType::aaaa : dns::RecordType::a;
    if (mechanism.kind == MechanismKind::a) {
      auto lookup = query(*target, address_type);
      dns::Answer answer = co_await std::move(lookup);
      if (!settle_lookup(answer, *target, problem, error_result)) co_return Match::error;
      for (const auto& address : answer.addresses)
        if (in_network(address, mechanism)) co_return Match::yes;
      co_return Match::no;
    }
    // mx
    auto lookup = query(*target, dns::RecordType::mx);
    dns::Answer answer = co_await std::move(lookup);
    if (!settle_lookup(answer, *target, problem, error_result)) co_return Match::error;
    if (answer.mx.size() > kMaxMxRecords) {
      problem = "more than " + std::to_string(kMaxMxRecords) + " MX records at " + *target;
      co_return Match::error;
    }
    for (const auto& mx : answer.mx) {
      std::string host = without_trailing_dot(mx.host);
      if (!queryable(host)) continue;  // the null MX (".") among them
      auto host_lookup = query(host, address_type);
      dns::Answer addresses = co_await std::move(host_lookup);
      if (is_dns_failure(addresses.status)) {
        error_result = Result::temperror;
        problem = "DNS " + std::string(dns::to_string(addresses.status)) + " looking up " + host;
        co_return Match::error;
      }
      for (const auto& address : addresses.addresses)
        if (in_network(address, mechanism)) co_return Match::yes;
    }
    co_return Match::no;
  }

  // §6.2: the exp= text when it can be had, else the default. Failing to get
  // it never changes the fail itself.
  awaitable<std::string> explain(const Record& record, const std::string& domain) {
    std::string error;
    std::optional<std::string> text;
    if (record.explanation) {
      auto expanding = expand_target(*record.explanation, domain, error);
      std::optional<std::string> target = co_await std::move(expanding);
      if (target && queryable(*target)) {
        auto lookup = query(*target, dns::RecordType::txt);
        dns::Answer answer = co_await std::move(lookup);
        if (answer.status == dns::Status::ok && answer.texts.size() == 1) {
          auto explaining =
              expand_text(answer.texts.front(), domain, MacroScope::explanation, error);
          text = co_await std::move(explaining);
        }
      }
    }
    if (!text) {
      auto explaining = expand_text(kDefaultExplanation, domain, MacroScope::explanation, error);
      text = co_await std::move(explaining);
    }
    co_return text.value_or(std::string());
  }

  DnsSource& dns_;
  Limits limits_;
  net::IpAddress ip_;
  std::string sender_;
  std::string local_part_;
  std::string sender_domain_;
  const Request& request_;
  int dns_terms_ = 0;
  int void_lookups_ = 0;
};

}  // namespace

awaitable<Outcome> check(const Request& request, DnsSource& dns, Limits limits) {
  Outcome outcome;
  std::string sender = request.sender;
  std::string domain;
  std::string local_part;
  if (sender.empty()) {
    // §2.4: the null sender is checked as postmaster@ the HELO name.
    outcome.identity = "helo";
    domain = request.helo;
    local_part = "postmaster";
  } else {
    outcome.identity = "mailfrom";
    auto at = sender.rfind('@');
    domain = at == std::string::npos ? sender : sender.substr(at + 1);
    local_part = at == std::string::npos ? std::string() : sender.substr(0, at);
    // §4.3: a sender without a local part is postmaster of its domain.
    if (local_part.empty()) local_part = "postmaster";
  }
  sender = local_part + "@" + domain;
  outcome.domain = without_trailing_dot(domain);
  if (!valid_check_domain(domain)) {
    outcome.result = Result::none;
    outcome.mechanism = "default";
    outcome.problem = "\"" + domain + "\" is not a domain SPF can check";
    co_return outcome;
  }
  Evaluator evaluator(dns, limits, request.ip.unmapped(), sender, local_part, outcome.domain,
                      request);
  auto checking = evaluator.check_host(outcome.domain);
  Verdict verdict = co_await std::move(checking);
  outcome.result = verdict.result;
  outcome.mechanism = verdict.mechanism.empty() ? "default" : verdict.mechanism;
  outcome.explanation = std::move(verdict.explanation);
  outcome.problem = std::move(verdict.problem);
  co_return outcome;
}

}  // namespace mailsan::spf
