#include "common/metrics/http_request.hpp"

#include <algorithm>

namespace mailsan::metrics {
namespace {

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\r' && c != '\n' && c != '\t') || u == 0x7f;
}

std::string_view without_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// "Name: value", where the name is a token. Folded continuation lines are
// obsolete (RFC 9112 5.2) and a scraper never sends them.
bool valid_header_line(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  return std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                     is_token_char);
}

std::string response(std::string_view status, std::string_view content_type,
                     const std::string& body, bool include_body,
                     std::string_view extra_header = {}) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out += extra_header;
  out += "\r\n";
  if (include_body) out += body;
  return out;
}

}  // namespace

bool valid_request_line(std::string_view line) {
  auto first = line.find(' ');
  if (first == std::string_view::npos || first == 0) return false;
  auto second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return false;
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  std::string_view version = line.substr(second + 1);
  if (!std::all_of(method.begin(), method.end(), is_token_char)) return false;
  if (target.empty() || target.front() != '/') return false;
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return version.size() == 8 && version.starts_with("HTTP/1.") && version[7] >= '0' &&
         version[7] <= '9';
}

RequestHeadReader::State RequestHeadReader::feed(std::string_view bytes) {
  if (state_ != State::need_more) return state_;
  std::size_t old_size = head_.size();
  std::size_t room = max_head_ - std::min(max_head_, old_size);
  head_.append(bytes.substr(0, room));
  if (std::any_of(head_.begin() + static_cast<std::ptrdiff_t>(old_size), head_.end(), is_control))
    return state_ = State::malformed;

  // Reject a bad request line as soon as it is complete, instead of waiting
  // for a blank line that a confused client may never send.
  auto first_newline = head_.find('\n');
  if (!request_line_checked_ && first_newline != std::string::npos) {
    request_line_checked_ = true;
    if (!valid_request_line(without_cr(std::string_view(head_).substr(0, first_newline))))
      return state_ = State::malformed;
  }

  // The head ends at the first empty line (CRLF or bare LF); only a newline
  // in the new bytes can end it, though its line may have begun earlier.
  for (std::size_t i = std::max<std::size_t>(old_size, 1); i < head_.size(); ++i) {
    if (head_[i] != '\n') continue;
    if (head_[i - 1] == '\n' || (i >= 2 && head_[i - 1] == '\r' && head_[i - 2] == '\n')) {
      head_.resize(i + 1);
      return state_ = State::complete;
    }
  }
  if (head_.size() >= max_head_ || bytes.size() > room) return state_ = State::too_large;
  return state_;
}

std::string bad_request_response() {
  return response("400 Bad Request", "text/plain; charset=utf-8", "bad request\n", true);
}

std::string build_response(std::string_view head,
                           const std::function<std::string()>& metrics_text) {
  std::string_view rest = head;
  auto next_line = [&rest]() {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return without_cr(line);
  };
  std::string_view request_line = next_line();
  if (!valid_request_line(request_line)) return bad_request_response();
  for (std::string_view line = next_line(); !line.empty(); line = next_line())
    if (!valid_header_line(line)) return bad_request_response();

  auto first = request_line.find(' ');
  auto second = request_line.find(' ', first + 1);
  std::string_view method = request_line.substr(0, first);
  std::string_view target = request_line.substr(first + 1, second - first - 1);
  std::string_view path = target.substr(0, target.find('?'));

  if (path != "/metrics")
    return response("404 Not Found", "text/plain; charset=utf-8", "not found\n", true);
  if (method != "GET" && method != "HEAD")
    return response("405 Method Not Allowed", "text/plain; charset=utf-8", "method not allowed\n",
                    true, "Allow: GET, HEAD\r\n");
  return response("200 OK", kMetricsType, metrics_text(), method == "GET");
}

}  // namespace mailsan::metrics
