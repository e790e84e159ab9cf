#include "policyd/pipeline/decision.hpp"

#include "common/util/ascii.hpp"

namespace mailsan::policyd {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "4.7.1": class, subject (1-3 digits) and detail (1-3 digits), RFC 3463.
bool is_enhanced_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t i = 2, digits = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) ++digits;
  if (digits < 1 || digits > 3 || i >= s.size() || s[i] != '.') return false;
  digits = 0;
  for (++i; i < s.size() && is_digit(s[i]); ++i) ++digits;
  return digits >= 1 && digits <= 3 && i == s.size();
}

std::string_view next_word(std::string_view s) {
  return s.substr(0, s.find(' '));
}

std::string_view after_word(std::string_view s) {
  auto space = s.find(' ');
  return space == std::string_view::npos ? std::string_view() : s.substr(space + 1);
}

}  // namespace

ReplyTemplate parse_reply(std::string_view text) {
  for (char c : text)
    if (c == '\r' || c == '\n' || c == '\0')
      throw std::invalid_argument("a reply is one line: no CR, LF or NUL");
  ReplyTemplate reply;
  std::string_view word = next_word(text);
  std::string_view rest = after_word(text);
  char wanted_class = 0;
  if (word.size() == 3 && is_digit(word[0]) && is_digit(word[1]) && is_digit(word[2])) {
    if (word[0] != '4' && word[0] != '5')
      throw std::invalid_argument("'" + std::string(word) + "' is not a 4xx or 5xx code");
    reply.code = (word[0] - '0') * 100 + (word[1] - '0') * 10 + (word[2] - '0');
    reply.kind = word[0] == '4' ? DecisionKind::defer : DecisionKind::reject;
    wanted_class = word[0];
  } else if (util::iequals(word, "DEFER_IF_PERMIT")) {
    reply.kind = DecisionKind::defer_if_permit;
    wanted_class = '4';
  } else if (util::iequals(word, "DEFER")) {
    reply.kind = DecisionKind::defer;
    wanted_class = '4';
  } else if (util::iequals(word, "REJECT")) {
    reply.kind = DecisionKind::reject;
    wanted_class = '5';
  } else {
    throw std::invalid_argument(
        "must start with a 4xx or 5xx code, DEFER_IF_PERMIT, DEFER or REJECT");
  }
  if (std::string_view status = next_word(rest); is_enhanced_status(status)) {
    if (status[0] != wanted_class)
      throw std::invalid_argument("enhanced status " + std::string(status) +
                                  " does not match the reply's class");
    reply.status = std::string(status);
    rest = after_word(rest);
  }
  if (reply.code != 0 && rest.empty()) throw std::invalid_argument("a reply needs a text");
  reply.text = std::string(rest);
  return reply;
}

Decision Decision::from(const ReplyTemplate& reply, util::TemplateValues values,
                        std::string_view verdict, std::string reason) {
  Decision d;
  d.kind = reply.kind;
  d.code = reply.code;
  d.status = reply.status;
  d.text = values.size() == 0 ? reply.text : util::expand_template(reply.text, values);
  d.verdict = verdict;
  d.reason = std::move(reason);
  return d;
}

}  // namespace mailsan::policyd
