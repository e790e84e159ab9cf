#include "mailsanctl/selftest_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>

#include "common/smtp/client.hpp"
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

struct Probe {
  const char* name;
  std::string body;
  int expected_class;  // 2: accepted, 5: refused
  const char* expected;
};

struct Outcome {
  bool ok = false;
  std::string reply;
};

asio::awaitable<Outcome> send_one(asio::ip::tcp::endpoint mx,
                                  std::optional<asio::ip::address> source, std::string from,
                                  std::string to, std::string message) {
  Outcome out;
  smtp::Client client(co_await asio::this_coro::executor);
  const asio::ip::address* bind = source ? &*source : nullptr;
  std::error_code ec = co_await client.connect(mx, 10s, bind);
  if (ec) {
    out.reply = "connect: " + ec.message();
    co_return out;
  }
  smtp::Result r = co_await client.read_reply(30s);
  std::string ehlo = "EHLO selftest.mailsan";
  if (!r.ec && r.reply.code == 220) r = co_await client.command(ehlo, 30s);
  std::string mail = "MAIL FROM:<" + from + ">";
  if (!r.ec && r.reply.code == 250) r = co_await client.command(mail, 30s);
  std::string rcpt = "RCPT TO:<" + to + ">";
  if (!r.ec && r.reply.code == 250) r = co_await client.command(rcpt, 30s);
  if (!r.ec && r.reply.code == 250) r = co_await client.command("DATA", 30s);
  if (!r.ec && r.reply.code == 354) {
    std::string wire;
    bool at_start = true;
    filter::dot_stuff(message, at_start, wire);
    if (!at_start) wire += "\r\n";
    wire += ".\r\n";
    ec = co_await client.write(wire, 60s);
    if (ec) {
      out.reply = "body: " + ec.message();
      co_return out;
    }
    r = co_await client.read_reply(120s);
  }
  if (r.ec) {
    out.reply = r.ec.message();
  } else {
    out.ok = true;
    out.reply = std::to_string(r.reply.code) + " " + r.reply.text();
  }
  co_await client.command("QUIT", 5s);
  co_return out;
}

std::string message(const std::string& from, const std::string& to, const std::string& subject,
                    const std::string& body) {
  return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: mailsanctl selftest: " + subject +
         "\r\nMessage-ID: <selftest." + subject + "." + std::to_string(std::time(nullptr)) +
         "@mailsan>\r\n\r\n" + body + "\r\n";
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
  if (to.empty()) to = "postmaster@" + host;
  const Probe probes[] = {
      {"clean", "A clean message from mailsanctl selftest.", 2, "accepted"},
      {"gtube", kGtube, 5, "refused as spam"},
      {"eicar", kEicar, 5, "refused as a virus"},
  };
  asio::io_context io;
  int failures = 0;
  const asio::ip::tcp::endpoint mx(address, port);
  for (const Probe& p : probes) {
    Outcome outcome;
    std::string text = message(from, to, p.name, p.body);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto sending = send_one(mx, source, from, to, text);
          outcome = co_await std::move(sending);
        },
        asio::detached);
    io.restart();
    io.run();
    const bool as_expected = outcome.ok && outcome.reply[0] - '0' == p.expected_class;
    if (!as_expected) ++failures;
    ctx.out << (as_expected ? "ok    " : "NOT OK") << "  " << p.name << ": expected " << p.expected
            << "; got " << printable(outcome.reply) << "\n";
  }
  return failures == 0 ? kExitOk : kExitFailed;
}

}  // namespace mailsan::ctl
