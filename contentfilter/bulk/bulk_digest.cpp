#include "contentfilter/bulk/bulk_digest.hpp"

#include <cctype>

#include "common/util/ascii.hpp"
#include "common/util/sha1.hpp"

namespace mailsan::filter {
namespace {

// What text_parts examines of one message, whatever its structure: a MIME
// bomb (hundreds of thousands of one-line parts) costs no more than this.
constexpr int kMaxDepth = 5;
constexpr std::size_t kMaxParts = kBulkMaxParts;
constexpr std::size_t kMaxTextBytes = kBulkMaxTextBytes;

struct Budget {
  std::size_t parts = kMaxParts;      // entities still to be examined, of any type
  std::size_t bytes = kMaxTextBytes;  // text part bytes still to be decoded
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The value of a header in a head (CRLF lines), unfolded; empty when absent.
std::string header_value(std::string_view head, std::string_view name) {
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find('\n', pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && util::iequals(line.substr(0, colon), name)) {
      std::string value(line.substr(colon + 1));
      std::size_t next = eol + 1;
      while (next < head.size() && (head[next] == ' ' || head[next] == '\t')) {
        std::size_t e = head.find('\n', next);
        if (e == std::string_view::npos) e = head.size();
        value += " ";
        value += head.substr(next, e - next);
        next = e + 1;
      }
      std::string out;
      for (char c : value)
        if (c != '\r') out.push_back(c);
      return out;
    }
    pos = eol + 1;
  }
  return {};
}

// A parameter of a Content-Type value (boundary, charset), unquoted.
std::string parameter_of(std::string_view value, std::string_view name) {
  std::string lower = util::ascii_lower(value);
  std::string key = util::ascii_lower(name) + "=";
  for (auto at = lower.find(key); at != std::string::npos; at = lower.find(key, at + 1)) {
    if (at > 0 && !(lower[at - 1] == ';' || is_space(lower[at - 1]))) continue;
    std::size_t start = at + key.size();
    if (start < value.size() && value[start] == '"') {
      auto end = value.find('"', start + 1);
      return std::string(value.substr(
          start + 1, end == std::string_view::npos ? std::string_view::npos : end - start - 1));
    }
    std::size_t end = start;
    while (end < value.size() && value[end] != ';' && !is_space(value[end])) ++end;
    return std::string(value.substr(start, end - start));
  }
  return {};
}

void split_head(std::string_view message, std::string_view& head, std::string_view& body) {
  auto crlf = message.find("\r\n\r\n");
  auto lf = message.find("\n\n");
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf < lf)) {
    head = message.substr(0, crlf + 2);
    body = message.substr(crlf + 4);
  } else if (lf != std::string_view::npos) {
    head = message.substr(0, lf + 1);
    body = message.substr(lf + 2);
  } else {
    head = message;
    body = {};
  }
}

void collect(std::string_view entity, int depth, Budget& budget, std::vector<std::string>& out) {
  if (depth > kMaxDepth || budget.parts == 0 || budget.bytes == 0) return;
  --budget.parts;
  std::string_view head, body;
  split_head(entity, head, body);
  std::string type = util::ascii_lower(header_value(head, "Content-Type"));
  std::size_t b = type.find_first_not_of(" \t");
  type = b == std::string::npos ? std::string() : type.substr(b);
  if (type.rfind("multipart/", 0) == 0) {
    std::string boundary = parameter_of(header_value(head, "Content-Type"), "boundary");
    if (boundary.empty()) return;
    const std::string delimiter = "--" + boundary;
    std::size_t pos = body.find(delimiter);
    while (pos != std::string_view::npos && budget.parts > 0 && budget.bytes > 0) {
      std::size_t start = body.find('\n', pos);
      if (start == std::string_view::npos) break;
      if (body.substr(pos + delimiter.size(), 2) == "--") break;  // the closing delimiter
      std::size_t next = body.find(delimiter, start + 1);
      std::string_view part = body.substr(
          start + 1, next == std::string_view::npos ? std::string_view::npos : next - start - 1);
      collect(part, depth + 1, budget, out);
      pos = next;
    }
    return;
  }
  if (!type.empty() && type.rfind("text/", 0) != 0) return;  // attachments, images
  // Charged before decoding: the decoders' work is what is bounded.
  body = body.substr(0, budget.bytes);
  budget.bytes -= body.size();
  std::string encoding = util::ascii_lower(header_value(head, "Content-Transfer-Encoding"));
  if (encoding.find("base64") != std::string::npos)
    out.push_back(decode_base64(body));
  else if (encoding.find("quoted-printable") != std::string::npos)
    out.push_back(decode_quoted_printable(body));
  else
    out.emplace_back(body);
}

std::string digest(std::string_view kind, std::string_view text) {
  return std::string(kind) + ":" + util::sha1_hex(text);
}

}  // namespace

std::string fuzzy_text(std::string_view text, bool names) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  auto starts_with_ci = [&](std::size_t at, std::string_view what) {
    return text.size() - at >= what.size() && util::iequals(text.substr(at, what.size()), what);
  };
  bool in_url = false;
  while (i < text.size()) {
    char c = text[i];
    if (!in_url && (starts_with_ci(i, "http://") || starts_with_ci(i, "https://"))) in_url = true;
    if (in_url) {
      if (is_space(c) || c == '"' || c == '\'' || c == '>' || c == '<') {
        in_url = false;
      } else if (c == '?' || c == '#') {
        // Tracking parameters differ per copy: drop the rest of the URL.
        while (i < text.size() && !is_space(text[i]) && text[i] != '"' && text[i] != '\'' &&
               text[i] != '>' && text[i] != '<')
          ++i;
        in_url = false;
        continue;
      }
    }
    if (is_space(c)) {
      while (i < text.size() && is_space(text[i])) ++i;
      if (!out.empty()) out.push_back(' ');
      continue;
    }
    if (c >= '0' && c <= '9') {
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
      out.push_back('#');
      continue;
    }
    if (names && !in_url && c >= 'A' && c <= 'Z' && (out.empty() || out.back() == ' ')) {
      while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      out.push_back('*');
      continue;
    }
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    ++i;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string decode_quoted_printable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 1 < in.size() && in[i + 1] == '\n') {  // soft line break
      i += 1;
    } else if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;
    } else if (i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back('=');
    }
  }
  return out;
}

std::string decode_base64(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      continue;  // line breaks and anything else
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::vector<std::string> text_parts(std::string_view message) {
  std::vector<std::string> out;
  Budget budget;
  collect(message, 0, budget, out);
  return out;
}

std::vector<std::string> bulk_digests(std::string_view message) {
  std::string_view head, body;
  split_head(message, head, body);
  std::vector<std::string> digests;
  // An empty body says nothing about the message.
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return digests;
  digests.push_back(digest("body", body));
  digests.push_back(digest("fuzzy", fuzzy_text(body, false)));
  digests.push_back(digest("names", fuzzy_text(body, true)));
  std::string text;
  for (const auto& part : text_parts(message)) {
    if (!text.empty()) text.push_back(' ');
    text += fuzzy_text(part, false);
  }
  if (text.find_first_not_of(' ') != std::string::npos) digests.push_back(digest("text", text));
  return digests;
}

}  // namespace mailsan::filter
