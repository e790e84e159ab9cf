#include "policyd/callout/callout_prober.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "common/smtp/client.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

namespace {

std::string reply_line(const smtp::Reply& r) {
  return callout_text_safe(std::to_string(r.code) + " " + r.text());
}

CalloutResult unknown(std::string reason, std::string reply = {}) {
  CalloutResult r;
  r.verdict = CalloutResult::Verdict::unknown;
  r.reason = std::move(reason);
  r.reply = callout_text_safe(reply);
  return r;
}

}  // namespace

bool callout_address_ok(std::string_view address) {
  if (address.empty() || address.size() > 254) return false;
  for (unsigned char c : address)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>') return false;
  auto at = address.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < address.size();
}

CalloutProber::CalloutProber(asio::any_io_executor ex, dns::Resolver& resolver)
    : executor_(std::move(ex)), resolver_(resolver) {}

asio::awaitable<CalloutResult> CalloutProber::verify(std::string address, std::string domain,
                                                     ProbeSettings settings) {
  if (!callout_address_ok(address)) co_return unknown("unusable_address");
  asio::steady_timer limit(executor_, settings.total_timeout);
  auto probe = run(std::move(address), std::move(domain), settings);
  auto outcome = co_await (std::move(probe) || limit.async_wait(asio::use_awaitable));
  if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
  co_return unknown("timeout", "no verdict within the callout's time limit");
}

asio::awaitable<CalloutResult> CalloutProber::run(std::string address, std::string domain,
                                                  ProbeSettings settings) {
  std::vector<Target> targets;
  dns::Answer mx = co_await resolver_.query(domain, dns::RecordType::mx);
  if (mx.status == dns::Status::ok) {
    std::vector<dns::MxRecord> records = mx.mx;
    // RFC 7505: a lone MX "." says the domain takes no mail; a bounce to
    // this sender could never be delivered, but that is for the SPF and
    // greylisting to weigh: unknown, not a rejection.
    if (records.size() == 1 && (records[0].host.empty() || records[0].host == "."))
      co_return unknown("null_mx", "the domain publishes a null MX");
    std::stable_sort(records.begin(), records.end(),
                     [](const auto& a, const auto& b) { return a.preference < b.preference; });
    for (const auto& r : records) {
      if (r.host.empty() || r.host == ".") continue;
      targets.push_back({r.preference, r.host});
    }
  } else if (mx.status == dns::Status::nodata) {
    // RFC 5321 §5.1: no MX means the domain itself is the implicit MX.
    targets.push_back({0, domain});
  } else if (mx.status == dns::Status::nxdomain) {
    co_return unknown("no_domain", "the sender domain does not exist");
  } else {
    co_return unknown("dns_" + std::string(dns::to_string(mx.status)),
                      "MX lookup failed: " + std::string(dns::to_string(mx.status)));
  }
  if (static_cast<int>(targets.size()) > settings.max_mx)
    targets.resize(static_cast<std::size_t>(settings.max_mx));

  CalloutResult last = unknown("no_mx_answered", "no MX host answered");
  for (const Target& target : targets) {
    std::vector<std::string> ips;
    if (auto literal = net::IpAddress::parse(target.host)) {
      ips.push_back(literal->to_string());
    } else {
      static constexpr dns::RecordType kTypes[] = {dns::RecordType::a, dns::RecordType::aaaa};
      for (dns::RecordType type : kTypes) {
        dns::Answer a = co_await resolver_.query(target.host, type);
        for (const auto& ip : a.addresses) ips.push_back(ip.to_string());
      }
    }
    if (static_cast<int>(ips.size()) > settings.max_addresses_per_mx)
      ips.resize(static_cast<std::size_t>(settings.max_addresses_per_mx));
    for (const std::string& ip : ips) {
      CalloutResult r = co_await talk(address, target, ip, settings);
      if (r.verdict != CalloutResult::Verdict::unknown) co_return r;
      last = std::move(r);
      // A host that answered the dialogue and still could not say is the
      // domain's answer for now; the next MX would only say the same later.
      if (last.reason == "rcpt_tempfail" || last.reason == "mail_from_refused") co_return last;
    }
  }
  co_return last;
}

asio::awaitable<CalloutResult> CalloutProber::talk(const std::string& address, const Target& target,
                                                   const std::string& ip, const ProbeSettings& s) {
  auto with_mx = [&](CalloutResult r) {
    r.mx_preference = target.preference;
    r.mx_host = callout_text_safe(target.host, 255);
    r.mx_ip = ip;
    return r;
  };
  boost::system::error_code parse_ec;
  auto addr = asio::ip::make_address(ip, parse_ec);
  if (parse_ec) co_return with_mx(unknown("bad_address"));
  smtp::Client client(executor_);
  asio::ip::tcp::endpoint endpoint(addr, s.port);
  std::error_code ec = co_await client.connect(endpoint, s.connect_timeout);
  if (ec) co_return with_mx(unknown("connect_failed", ec.message()));

  smtp::Result greeting = co_await client.read_reply(s.command_timeout);
  if (greeting.ec) co_return with_mx(unknown("greeting_failed", greeting.ec.message()));
  if (!greeting.reply.positive())
    co_return with_mx(unknown("greeting_refused", reply_line(greeting.reply)));

  std::string ehlo_line = "EHLO " + s.helo;
  smtp::Result hello = co_await client.command(ehlo_line, s.command_timeout);
  if (!hello.ec && hello.reply.permanent()) {
    std::string helo_line = "HELO " + s.helo;
    hello = co_await client.command(helo_line, s.command_timeout);
  }
  if (hello.ec) co_return with_mx(unknown("helo_failed", hello.ec.message()));
  if (!hello.reply.positive()) co_return with_mx(unknown("helo_refused", reply_line(hello.reply)));

  smtp::Result mail = co_await client.command("MAIL FROM:<>", s.command_timeout);
  if (mail.ec) co_return with_mx(unknown("mail_from_failed", mail.ec.message()));
  // An MX that refuses the null sender breaks RFC 5321 §4.5.5, but that
  // says nothing about this address.
  if (!mail.reply.positive())
    co_return with_mx(unknown("mail_from_refused", reply_line(mail.reply)));

  std::string rcpt_line = "RCPT TO:<" + address + ">";
  smtp::Result rcpt = co_await client.command(rcpt_line, s.command_timeout);
  if (rcpt.ec) co_return with_mx(unknown("rcpt_failed", rcpt.ec.message()));

  CalloutResult result;
  result.reply = reply_line(rcpt.reply);
  if (rcpt.reply.code >= 200 && rcpt.reply.code < 300) {
    result.verdict = CalloutResult::Verdict::valid;
    result.reason = "rcpt_accepted";
  } else if (rcpt.reply.permanent()) {
    result.verdict = CalloutResult::Verdict::invalid;
    result.reason = "rcpt_rejected";
  } else {
    result.verdict = CalloutResult::Verdict::unknown;
    result.reason = "rcpt_tempfail";
  }
  // Polite, but the verdict does not wait long for the goodbye.
  co_await client.command("QUIT", std::min(s.command_timeout, milliseconds(2000)));
  client.close();
  co_return with_mx(std::move(result));
}

}  // namespace mailsan::policyd
