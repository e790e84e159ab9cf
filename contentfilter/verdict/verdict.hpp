// The verdict on one message from its scanners' reports (SPEC §3), per
// recipient: a virus is refused (554) or silently quarantined; spam at or
// above every recipient's reject score is refused (550); when recipients
// disagree, the message goes on only to those who accept it and the others'
// copy is quarantined; otherwise it goes on tagged. A scanner that failed
// closed tempfails the message (451). Pure: no I/O, so every rule is unit
// tested.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "contentfilter/filter_config.hpp"
#include "contentfilter/message/envelope.hpp"
#include "contentfilter/scan/scanner.hpp"

namespace mailsan::filter {

struct VerdictPolicy {
  bool quarantine_viruses = false;  // clamav.virus_action = quarantine
  SpamThreshold defaults;           // verdict.spam_tag_score, spam_reject_score
  std::vector<SpamThreshold> thresholds;
  std::string virus_reply;  // ${virus}
  std::string spam_reply;   // ${score}
  std::string hostname;     // for X-Virus-Scanned
};

// The thresholds for one recipient: its address, else its domain, else the
// defaults.
SpamThreshold threshold_for(const VerdictPolicy& policy, std::string_view recipient);

struct Verdict {
  enum class Kind {
    accept,    // relay to `deliver` (possibly none) and quarantine `quarantine`
    reject,    // refuse the message with `reply`
    tempfail,  // 4xx with `reply`: a scanner that fails closed could not say
  };
  Kind kind = Kind::accept;
  std::string reply;
  std::vector<std::size_t> deliver;     // indexes into envelope.recipients
  std::vector<std::size_t> quarantine;  // likewise
  std::vector<std::string> headers;     // "Name: value", added on top of delivered copies
  std::optional<std::string> virus;
  double score = 0;
  // Every spam check (spamd) completed, or, with none configured, a scorer
  // (bulk) did: the score means something.
  bool spam_checked = false;
  // A spam check did not complete (down, slow, skipped for size): the
  // message says X-Spam-Status: unchecked whatever else scored.
  bool spam_unchecked = false;
  // Why a virus scanner did not look at the message (skipped for size);
  // X-Virus-Scanned then says "no (WHY)".
  std::optional<std::string> virus_unscanned;
  std::string label;   // for logs and metrics: clean, spam, virus, tagged, ...
  std::string reason;  // one line for logs and the quarantine record
  std::string report;  // every scanner's findings, one line each
};

Verdict decide_verdict(const Envelope& envelope, const std::vector<ScanReport>& reports,
                       const std::vector<FailureMode>& failure_modes,
                       const std::vector<std::string>& unavailable_replies,
                       const VerdictPolicy& policy);

// "12.3" with at most one decimal, as SpamAssassin prints scores.
std::string format_score(double score);

}  // namespace mailsan::filter
