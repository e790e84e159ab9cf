#include "mailsanctl/selftest_command.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <ctime>

#include "common/smtp/client.hpp"
#include "common/util/ascii.hpp"
#include "contentfilter/proxy/next_hop.hpp"

namespace mailsan::ctl {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The standard test strings, split so that this binary itself is not one.
const std::string kGtube =
    std::string("XJS*C4JDBQADN1.NSBN3*2IDNEN*") + "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const std::string kEicar =
    std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

std::string message(const std::string& from, const std::string& to, const std::string& subject,
                    const std::string& body) {
  return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: mailsanctl selftest: " + subject +
         "\r\nMessage-ID: <selftest." + subject + "." + std::to_string(std::time(nullptr)) +
         "@mailsan>\r\n\r\n" + body + "\r\n";
}

// "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3).
std::string address_literal(const asio::ip::address& a) {
  return a.is_v6() ? "[IPv6:" + a.to_string() + "]" : "[" + a.to_string() + "]";
}

// What a probe must get: the clean message accepted at end of DATA, GTUBE and
// EICAR refused there with the filter's spam and virus replies. A refusal at
// any other stage (a bad recipient at RCPT, a sender refused at MAIL) says
// nothing about the scanners, so it never counts as handled.
struct Probe {
  const char* name;
  std::string body;
  const char* expected;
  int code;            // the reply code expected at end of DATA
  const char* status;  // its enhanced status code, or nullptr
  const char* word;    // a word its text must hold (ASCII case ignored), or nullptr
};

struct Outcome {
  bool replied = false;  // false: the connection failed at `stage`
  std::string stage;     // what the last reply answered: "RCPT", "end of DATA", ...
  smtp::Reply reply;
  std::string error;  // when !replied
  std::string to;     // the recipient used
};

// The recipient when none is given: postmaster at the name the MX greets
// with (a postmaster address every MX must accept, RFC 5321 §4.5.1), or at
// the MX's address literal ("postmaster@[192.0.2.1]"; a bare address after
// '@' is a syntax error) when the greeting names no domain.
std::string default_recipient(const smtp::Reply& greeting, const asio::ip::address& mx) {
  std::string first = greeting.lines.empty() ? std::string() : greeting.lines.front();
  std::string name = first.substr(0, first.find(' '));
  bool domain = !name.empty() && name.front() != '.' && name.front() != '-' && name.back() != '.' &&
                name.back() != '-' && std::all_of(name.begin(), name.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.';
                });
  // Digits and dots only is an IPv4 address, which needs brackets.
  bool numeric = std::all_of(name.begin(), name.end(),
                             [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  // A single label ("localhost", or "ESMTP" where the banner starts with
  // that) names no domain a postmaster could be reached at from outside.
  if (domain && !numeric && name.find('.') != std::string::npos) return "postmaster@" + name;
  return "postmaster@" + address_literal(mx);
}

asio::awaitable<Outcome> send_one(asio::ip::tcp::endpoint mx,
                                  std::optional<asio::ip::address> source, std::string from,
                                  std::string to, std::string subject, std::string body) {
  Outcome out;
  smtp::Client client(co_await asio::this_coro::executor);
  const asio::ip::address* bind = source ? &*source : nullptr;
  out.stage = "connect";
  std::error_code ec = co_await client.connect(mx, 10s, bind);
  if (ec) {
    out.error = ec.message();
    co_return out;
  }
  // Each step is taken only when the one before got the reply it needs; the
  // stage and reply of the last step taken are what the probe is judged on.
  out.stage = "greeting";
  smtp::Result r = co_await client.read_reply(30s);
  auto answered = [&](int wanted) { return !r.ec && r.reply.code == wanted; };
  if (answered(220)) {
    out.to = to.empty() ? default_recipient(r.reply, mx.address()) : to;
    out.stage = "EHLO";
    r = co_await client.command("EHLO selftest.mailsan", 30s);
  }
  if (answered(250) && out.stage == "EHLO") {
    out.stage = "MAIL";
    r = co_await client.command("MAIL FROM:<" + from + ">", 30s);
  }
  if (answered(250) && out.stage == "MAIL") {
    out.stage = "RCPT";
    r = co_await client.command("RCPT TO:<" + out.to + ">", 30s);
  }
  // 251: not local, but it will be forwarded (RFC 5321 §3.4).
  if ((answered(250) || answered(251)) && out.stage == "RCPT") {
    out.stage = "DATA";
    r = co_await client.command("DATA", 30s);
  }
  if (answered(354) && out.stage == "DATA") {
    out.stage = "end of DATA";
    std::string wire;
    bool at_start = true;
    filter::dot_stuff(message(from, out.to, subject, body), at_start, wire);
    if (!at_start) wire += "\r\n";
    wire += ".\r\n";
    ec = co_await client.write(wire, 60s);
    if (ec) {
      out.error = ec.message();
      co_return out;
    }
    r = co_await client.read_reply(120s);
  }
  if (r.ec) {
    out.error = r.ec.message();
  } else {
    out.replied = true;
    out.reply = r.reply;
  }
  co_await client.command("QUIT", 5s);
  co_return out;
}

std::string reply_text(const smtp::Reply& reply) {
  return std::to_string(reply.code) + " " + reply.text();
}

bool handled(const Probe& p, const Outcome& o) {
  if (!o.replied || o.stage != "end of DATA" || o.reply.code != p.code) return false;
  if (p.status && o.reply.enhanced_status() != p.status) return false;
  return !p.word || util::ascii_lower(o.reply.text()).find(p.word) != std::string::npos;
}

// "refused at RCPT: 501 5.1.3 Bad recipient address syntax",
// "accepted at end of DATA: 250 2.0.0 Ok", "failed at connect: ...".
std::string describe(const Outcome& o) {
  if (!o.replied) return "failed at " + o.stage + ": " + o.error;
  const char* what = o.reply.positive() ? "accepted" : o.reply.transient() ? "deferred" : "refused";
  return std::string(what) + " at " + o.stage + ": " + reply_text(o.reply);
}

}  // namespace

int run_selftest_command(CommandContext& ctx) {
  std::string mx_arg, from = "postmaster@selftest.invalid", to, source_arg;
  for (std::size_t i = 0; i + 1 < ctx.args.size(); i += 2) {
    const std::string& k = ctx.args[i];
    const std::string& v = ctx.args[i + 1];
    if (k == "--mx")
      mx_arg = v;
    else if (k == "--from")
      from = v;
    else if (k == "--to")
      to = v;
    else if (k == "--source")
      source_arg = v;
    else
      mx_arg.clear(), i = ctx.args.size();
  }
  if (mx_arg.empty() || ctx.args.size() % 2 != 0) {
    ctx.err << "usage: mailsanctl " << kSelftestUsage << "\n";
    return kExitUsage;
  }
  std::string host = mx_arg;
  unsigned short port = 25;
  if (auto colon = mx_arg.rfind(':');
      colon != std::string::npos && mx_arg.find(']') == std::string::npos) {
    host = mx_arg.substr(0, colon);
    try {
      port = static_cast<unsigned short>(std::stoi(mx_arg.substr(colon + 1)));
    } catch (const std::exception&) {
      port = 0;
    }
  }
  boost::system::error_code bad;
  auto address = asio::ip::make_address(host, bad);
  if (bad || port == 0) {
    ctx.err << "mailsanctl: selftest: --mx wants a numeric ADDRESS[:PORT], not '"
            << printable(mx_arg) << "'\n";
    return kExitUsage;
  }
  std::optional<asio::ip::address> source;
  if (!source_arg.empty()) {
    source = asio::ip::make_address(source_arg, bad);
    if (bad) {
      ctx.err << "mailsanctl: selftest: --source '" << printable(source_arg)
              << "' is not an address\n";
      return kExitUsage;
    }
  }
  const Probe probes[] = {
      {"clean", "A clean message from mailsanctl selftest.", "accepted", 250, nullptr, nullptr},
      {"gtube", kGtube, "refused as spam", 550, "5.7.1", "spam"},
      {"eicar", kEicar, "refused as a virus", 554, "5.7.1", "virus"},
  };
  asio::io_context io;
  int failures = 0;
  const asio::ip::tcp::endpoint mx(address, port);
  for (const Probe& p : probes) {
    Outcome outcome;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto sending = send_one(mx, source, from, to, p.name, p.body);
          outcome = co_await std::move(sending);
        },
        asio::detached);
    io.restart();
    io.run();
    if (handled(p, outcome)) {
      ctx.out << "ok      " << p.name << ": expected " << p.expected << "; got "
              << printable(reply_text(outcome.reply)) << "\n";
    } else {
      ++failures;
      ctx.out << "NOT OK  " << p.name << ": expected " << p.expected << " at end of DATA; "
              << printable(describe(outcome))
              << (outcome.to.empty() ? "" : " (to <" + printable(outcome.to) + ">)") << "\n";
    }
  }
  return failures == 0 ? kExitOk : kExitFailed;
}

}  // namespace mailsan::ctl
