// The answer of a check, and of the whole pipeline, as a structure: what to
// do (continue, accept, defer, reject, defer-if-permit), the SMTP code,
// enhanced status and text, and the headers to add. A front end turns it
// into its own wire form (a Postfix policy action, a milter reply); no check
// writes a protocol's syntax.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/text_template.hpp"

namespace mailsan::policyd {

enum class DecisionKind {
  proceed,          // no objection: later checks and the MTA's own rules decide
  accept,           // accept this recipient, skipping the MTA's later rules
  defer,            // 4xx now
  reject,           // 5xx now
  defer_if_permit,  // 4xx unless a later rule of the MTA rejects (greylisting)
};

// A configured reply (`defer_reply = DEFER_IF_PERMIT 4.7.1 Greylisted, ...`),
// parsed once when the configuration is loaded; its text may hold
// ${placeholders} that are filled per request.
struct ReplyTemplate {
  DecisionKind kind = DecisionKind::proceed;
  int code = 0;        // 0: the kind's keyword, without a code (DEFER_IF_PERMIT, REJECT)
  std::string status;  // enhanced status code ("4.7.1"), or empty
  std::string text;    // may contain ${name} placeholders
};

// Parses a reply written as Postfix writes policy actions, the syntax the
// options have always had: "NNN [x.y.z] text" with a 4xx or 5xx code,
// "DEFER_IF_PERMIT [x.y.z] text", "DEFER [x.y.z] text" or
// "REJECT [x.y.z] text" (keywords in any case). Throws std::invalid_argument
// saying what is wrong.
ReplyTemplate parse_reply(std::string_view text);

struct Decision {
  DecisionKind kind = DecisionKind::proceed;
  int code = 0;
  std::string status;
  std::string text;
  std::vector<std::string> headers;  // "Name: value", to add once to the message

  // For the log and metrics, not for the client.
  std::string_view verdict;          // a literal: defer, reject, skip, dunno, timeout, ...
  std::string reason;                // which check and why
  std::string_view check = {};       // the check that decided (set by the pipeline)
  std::string_view report_row = {};  // the report counter it counts in (stats::row), or empty

  // The answer that lets the request go on.
  static Decision proceed(std::string_view verdict, std::string reason = {}) {
    Decision d;
    d.verdict = verdict;
    d.reason = std::move(reason);
    return d;
  }
  // A configured reply with its placeholders filled.
  static Decision from(const ReplyTemplate& reply, util::TemplateValues values,
                       std::string_view verdict, std::string reason);
};

}  // namespace mailsan::policyd
