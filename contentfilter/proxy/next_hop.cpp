#include "contentfilter/proxy/next_hop.hpp"

#include <algorithm>

#include "common/smtp/client.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

void dot_stuff(std::string_view in, bool& at_line_start, std::string& out) {
  out.reserve(out.size() + in.size() + 16);
  for (char c : in) {
    if (at_line_start && c == '.') out.push_back('.');
    out.push_back(c);
    at_line_start = c == '\n';
  }
}

std::vector<std::string> xforward_lines(const Envelope& envelope,
                                        const std::vector<std::string>& announced) {
  std::vector<std::string> lines;
  std::string line;
  for (const auto& a : envelope.xforward) {
    bool known = std::any_of(announced.begin(), announced.end(),
                             [&](const std::string& n) { return util::iequals(n, a.name); });
    if (!known) continue;
    // [UNAVAILABLE] and [TEMPUNAVAIL] are sent as they came, not xtext.
    std::string value = a.value == "[UNAVAILABLE]" || a.value == "[TEMPUNAVAIL]"
                            ? a.value
                            : smtp::xtext_encode(a.value);
    std::string attribute = a.name + "=" + value;
    if (attribute.size() > 400) continue;  // no legitimate value is this long
    if (!line.empty() && line.size() + 1 + attribute.size() > 500) {
      lines.push_back(std::move(line));
      line.clear();
    }
    line += line.empty() ? "XFORWARD " + attribute : " " + attribute;
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

namespace {

std::string join_path(const smtp::Path& path, const char* verb) {
  std::string line = std::string(verb) + "<" + path.address + ">";
  for (const auto& p : path.parameters) line += " " + p;
  return line;
}

std::string describe(const mailsan::smtp::Result& r, const char* step) {
  if (r.ec) return std::string(step) + ": " + r.ec.message();
  return std::string(step) + ": " + std::to_string(r.reply.code) + " " + r.reply.text();
}

}  // namespace

asio::awaitable<RelayOutcome> relay_message(asio::any_io_executor ex, RelayRequest req) {
  using mailsan::smtp::Client;
  using mailsan::smtp::Result;
  RelayOutcome out;
  Client client(ex);
  std::error_code ec = co_await client.connect(req.next_hop, req.timeout);
  if (ec) {
    out.reply = "connect: " + ec.message();
    co_return out;
  }
  Result greeting = co_await client.read_reply(req.timeout);
  if (greeting.ec || greeting.reply.code != 220) {
    out.reply = describe(greeting, "greeting");
    co_return out;
  }
  std::string ehlo = "EHLO " + req.helo;
  Result hello = co_await client.command(ehlo, req.timeout);
  if (hello.ec || hello.reply.code != 250) {
    out.reply = describe(hello, "EHLO");
    co_return out;
  }
  std::vector<std::string> announced;
  for (const auto& l : hello.reply.lines) {
    if (l.size() > 9 && util::iequals(std::string_view(l).substr(0, 9), "XFORWARD ")) {
      std::string_view rest = std::string_view(l).substr(9);
      while (!rest.empty()) {
        auto sp = rest.find(' ');
        if (sp != 0) announced.emplace_back(rest.substr(0, sp));
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
      }
    }
  }
  for (const std::string& line : xforward_lines(*req.envelope, announced)) {
    Result x = co_await client.command(line, req.timeout);
    if (x.ec || x.reply.code != 250) {
      out.reply = describe(x, "XFORWARD");
      co_return out;
    }
  }
  std::string mail_line = join_path(req.envelope->sender, "MAIL FROM:");
  Result mail = co_await client.command(mail_line, req.timeout);
  if (mail.ec || mail.reply.code != 250) {
    out.reply = describe(mail, "MAIL");
    co_return out;
  }
  for (std::size_t i : req.recipients) {
    std::string rcpt_line = join_path(req.envelope->recipients[i], "RCPT TO:");
    Result rcpt = co_await client.command(rcpt_line, req.timeout);
    // Every recipient was accepted upstream already: one the next hop
    // refuses cannot be told apart now, so the whole message is retried.
    if (rcpt.ec || rcpt.reply.code / 100 != 2) {
      out.reply = describe(rcpt, "RCPT");
      co_return out;
    }
  }
  Result data = co_await client.command("DATA", req.timeout);
  if (data.ec || data.reply.code != 354) {
    out.reply = describe(data, "DATA");
    co_return out;
  }
  std::string chunk;
  bool at_line_start = true;
  for (const auto& h : req.headers) dot_stuff(h + "\r\n", at_line_start, chunk);
  constexpr std::size_t kChunk = 256 * 1024;
  std::size_t size = req.message->size();
  std::string piece(std::min(size, kChunk), '\0');
  for (std::uint64_t offset = 0; offset < size;) {
    std::size_t n = req.message->read(offset, piece.data(), std::min(piece.size(), size - offset));
    if (n == 0) {
      out.reply = "reading the spooled message failed";
      co_return out;
    }
    offset += n;
    dot_stuff(std::string_view(piece.data(), n), at_line_start, chunk);
    if (chunk.size() >= kChunk) {
      std::error_code wec = co_await client.write(chunk, req.timeout);
      if (wec) {
        out.reply = "body: " + wec.message();
        co_return out;
      }
      chunk.clear();
    }
  }
  // A message whose last line lacks CRLF still needs one before the dot.
  if (!at_line_start) chunk += "\r\n";
  chunk += ".\r\n";
  std::error_code wec = co_await client.write(chunk, req.timeout);
  if (wec) {
    out.reply = "body: " + wec.message();
    co_return out;
  }
  Result done = co_await client.read_reply(req.timeout);
  out.reply = describe(done, "end of data");
  if (!done.ec && done.reply.code == 250) {
    out.delivered = true;
    out.reply = std::to_string(done.reply.code) + " " + done.reply.text();
  }
  co_await client.command("QUIT", std::min(req.timeout, std::chrono::milliseconds(2000)));
  client.close();
  co_return out;
}

}  // namespace mailsan::filter
