// Result names and the Received-SPF header (RFC 7208 §9.1).
//
// SECURITY: the sender and HELO name come from the SMTP client. Bytes that
// could end the header line or break its syntax (control characters,
// non-ASCII, unbalanced parentheses, quotes) are replaced or escaped.
#include <string>

#include "common/spf/spf.hpp"

namespace mailsan::spf {
namespace {

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte > 0x7e ? '?' : c;
  }
  return out;
}

// Inside a comment: "(", ")" and "\" are quoted-pairs (RFC 5322 §3.2.2).
std::string comment_text(std::string_view text) {
  std::string out;
  for (char c : printable(text)) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool is_dot_atom_text(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  static constexpr std::string_view kAtext = "!#$%&'*+-/=?^_`{|}~.";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (byte > 0x7e || (!alnum && kAtext.find(c) == std::string_view::npos)) return false;
    if (c == '.' && text.find("..") != std::string_view::npos) return false;
  }
  return true;
}

// key-value-pair values are dot-atoms or quoted strings (§9.1).
std::string value_text(std::string_view text) {
  std::string clean = printable(text);
  if (is_dot_atom_text(clean)) return clean;
  std::string out = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string comment(const Outcome& outcome, const Request& request, std::string_view ip) {
  std::string receiver = comment_text(request.receiver.empty() ? "unknown" : request.receiver);
  std::string who =
      comment_text(outcome.identity == "helo" ? "postmaster@" + request.helo : request.sender);
  std::string prefix = receiver + ": ";
  switch (outcome.result) {
    case Result::pass:
      return prefix + "domain of " + who + " designates " + std::string(ip) +
             " as permitted sender";
    case Result::fail:
      return prefix + "domain of " + who + " does not designate " + std::string(ip) +
             " as permitted sender";
    case Result::softfail:
      return prefix + "domain of transitioning " + who + " does not designate " + std::string(ip) +
             " as permitted sender";
    case Result::neutral:
      return prefix + std::string(ip) + " is neither permitted nor denied by domain of " + who;
    case Result::none:
      return prefix + "domain of " + who + " does not publish an SPF record usable for " +
             std::string(ip);
    case Result::temperror:
      return prefix + "temporary error checking SPF for " + who;
    case Result::permerror:
      return prefix + "permanent error in the SPF record for " + who;
  }
  return prefix;
}

}  // namespace

std::string_view to_string(Result result) {
  switch (result) {
    case Result::none:
      return "none";
    case Result::neutral:
      return "neutral";
    case Result::pass:
      return "pass";
    case Result::fail:
      return "fail";
    case Result::softfail:
      return "softfail";
    case Result::temperror:
      return "temperror";
    case Result::permerror:
      return "permerror";
  }
  return "none";
}

std::string received_spf_header(const Outcome& outcome, const Request& request) {
  const std::string ip = request.ip.unmapped().to_string();
  std::string out = "Received-SPF: " + std::string(to_string(outcome.result)) + " (" +
                    comment(outcome, request, ip) + ")";
  out += " client-ip=" + ip + ";";
  out += " envelope-from=" + value_text(request.sender.empty() ? "<>" : request.sender) + ";";
  out += " helo=" + value_text(request.helo) + ";";
  out += " receiver=" + value_text(request.receiver.empty() ? "unknown" : request.receiver) + ";";
  out += " identity=" + outcome.identity + ";";
  if (!outcome.mechanism.empty()) out += " mechanism=" + value_text(outcome.mechanism) + ";";
  if ((outcome.result == Result::permerror || outcome.result == Result::temperror) &&
      !outcome.problem.empty())
    out += " problem=" + value_text(outcome.problem) + ";";
  if (out.back() == ';') out.pop_back();
  return out;
}

}  // namespace mailsan::spf
