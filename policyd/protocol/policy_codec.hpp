// The Postfix policy-delegation protocol (SMTPD_POLICY_README), pure: no I/O.
//
// SECURITY: the parser reads bytes from any client that can reach the policy
// socket. Everything it keeps is bounded (request size, attribute count); a
// request that breaks a bound or the syntax is an error, after which the
// connection is to be closed without a reply, as the protocol expects.
//
// Request: "name=value\n" lines, ended by an empty line. Reply:
// "action=...\n\n".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "policyd/protocol/policy_request.hpp"

namespace mailsan::policyd {

struct PolicyLimits {
  std::size_t max_request_bytes = 64 * 1024;
  std::size_t max_attributes = 1000;
};

class PolicyRequestParser {
 public:
  enum class Status { need_more, complete, error };

  explicit PolicyRequestParser(PolicyLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from the front of `data` until a request is complete, an
  // error is found, or the data runs out. *consumed tells how many bytes were
  // used; the rest belongs to the next request.
  Status feed(std::string_view data, std::size_t* consumed);
  // After Status::complete: the request; the parser is ready for the next one.
  PolicyRequest take();
  // After Status::error: why, for the log.
  std::string_view error() const { return error_; }

 private:
  Status fail(const char* why);

  PolicyLimits limits_;
  PolicyRequest request_;
  std::size_t line_begin_ = 0;  // offset in the request text of the current line
  std::size_t equals_ = std::string::npos;
  bool has_equals_ = false;
  std::string error_;
};

// "action=<action>\n\n". Line breaks in the action are replaced by spaces so a
// reply can never inject a second line.
std::string encode_reply(std::string_view action);

}  // namespace mailsan::policyd
