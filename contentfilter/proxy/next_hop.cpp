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
  for (const auto& [name, raw] : xforward_attributes(envelope)) {
    bool known = std::any_of(announced.begin(), announced.end(),
                             [&](const std::string& n) { return util::iequals(n, name); });
    if (!known) continue;
    // [UNAVAILABLE] and [TEMPUNAVAIL] are sent as they came, not xtext.
    std::string value =
        raw == "[UNAVAILABLE]" || raw == "[TEMPUNAVAIL]" ? raw : smtp::xtext_encode(raw);
    std::string attribute = name + "=" + value;
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
  bool pipelining = false;
  for (const auto& l : hello.reply.lines) {
    if (util::iequals(l, "PIPELINING")) pipelining = true;
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
  // The envelope as command lines, each with the reply it needs. The lines
  // are built from parsed paths and xtext, so none holds a CR or LF.
  struct Step {
    std::string line;
    const char* what;
    int expected;  // the reply class (2) or code (354) that lets it go on
  };
  std::vector<Step> steps;
  for (std::string& line : xforward_lines(*req.envelope, announced))
    steps.push_back({std::move(line), "XFORWARD", 2});
  steps.push_back({join_path(req.envelope->sender, "MAIL FROM:"), "MAIL", 2});
  // Every recipient was accepted upstream already: one the next hop refuses
  // cannot be told apart now, so the whole message is retried.
  for (std::size_t i : req.recipients)
    steps.push_back({join_path(req.envelope->recipients[i], "RCPT TO:"), "RCPT", 2});
  steps.push_back({"DATA", "DATA", 354});
  auto accepted = [](const Result& r, int expected) {
    return !r.ec && (expected == 354 ? r.reply.code == 354 : r.reply.code / 100 == expected);
  };
  if (pipelining) {
    // RFC 2920: the whole envelope in one write, the replies read in order:
    // one round trip instead of one per command, on every message.
    std::string batch;
    for (const Step& s : steps) batch += s.line + "\r\n";
    std::error_code wec = co_await client.write(batch, req.timeout);
    if (wec) {
      out.reply = "envelope: " + wec.message();
      co_return out;
    }
    for (const Step& s : steps) {
      Result r = co_await client.read_reply(req.timeout);
      if (!accepted(r, s.expected)) {
        out.reply = describe(r, s.what);
        co_return out;
      }
    }
  } else {
    for (const Step& s : steps) {
      Result r = co_await client.command(s.line, req.timeout);
      if (!accepted(r, s.expected)) {
        out.reply = describe(r, s.what);
        co_return out;
      }
    }
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
  // The answer upstream must not wait for the goodbye.
  co_await client.write("QUIT\r\n", std::min(req.timeout, std::chrono::milliseconds(2000)));
  client.close();
  co_return out;
}

}  // namespace mailsan::filter
