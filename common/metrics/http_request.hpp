// The HTTP side of the metrics endpoint as pure functions: collecting a
// request head from bytes as they arrive, and building the whole response
// for it. No sockets here; http_endpoint.cpp only moves bytes.
//
// SECURITY: the bytes come from whoever can reach metrics_listen. The reader
// stops at a fixed size and rejects control bytes and malformed request lines
// as soon as they are seen; nothing from the request is echoed back.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mailsan::metrics {

class RequestHeadReader {
 public:
  enum class State {
    need_more,  // no blank line yet
    complete,   // head() is the request line and headers, blank line included
    too_large,  // more than max_head bytes without a blank line
    malformed,  // a bad request line or a control byte: answer 400
  };

  explicit RequestHeadReader(std::size_t max_head = 8192) : max_head_(max_head) {}

  // Takes the next bytes; once the state is not need_more, later bytes are
  // ignored (one request per connection).
  State feed(std::string_view bytes);
  State state() const { return state_; }
  std::string_view head() const { return head_; }

 private:
  std::size_t max_head_;
  std::string head_;
  State state_ = State::need_more;
  bool request_line_checked_ = false;
};

// True for "METHOD SP /target SP HTTP/1.x" (without the line end).
bool valid_request_line(std::string_view line);

// The complete response (status line, headers, body) for a complete head:
// 200 with the metrics text for GET or HEAD /metrics, 405 for other methods
// there, 404 for other paths, 400 for a malformed head. metrics_text is only
// called for a 200.
std::string build_response(std::string_view head, const std::function<std::string()>& metrics_text);
// The 400 response, for a head the reader found malformed.
std::string bad_request_response();

}  // namespace mailsan::metrics
