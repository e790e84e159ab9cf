// The Postfix policy protocol carries one action per reply, so the headers
// due for a message (Received-SPF, X-Greylist) are handed out one per reply
// across the requests of that message: at each RCPT and at DATA (SPEC §2.1).
// Postfix sends every request of one SMTP session over the same policy
// connection, so this lives with the connection, keyed by the message's
// `instance`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailsan::policyd {

class MessageHeaders {
 public:
  // Starts a new message when `instance` differs from the current one.
  void begin(std::string_view instance);
  // Queues a header unless one with the same name was queued or emitted for
  // this message already.
  void add(std::string header);
  // The next due header, or empty when none is due; marks it emitted.
  std::string next();

 private:
  static std::string_view name_of(std::string_view header);
  std::string instance_;
  std::vector<std::string> due_;
  std::vector<std::string> names_;  // queued or emitted for this message
};

}  // namespace mailsan::policyd
