#include "contentfilter/verdict/verdict.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/util/ascii.hpp"
#include "common/util/text_template.hpp"

namespace mailsan::filter {

std::string format_score(double score) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::round(score * 10) / 10);
  return buf;
}

SpamThreshold threshold_for(const VerdictPolicy& policy, std::string_view recipient) {
  const std::string address = util::ascii_lower(recipient);
  auto at = address.rfind('@');
  const std::string domain = at == std::string::npos ? std::string() : address.substr(at + 1);
  for (const auto& t : policy.thresholds)
    if (t.match == address) return t;
  for (const auto& t : policy.thresholds)
    if (!domain.empty() && t.match == domain) return t;
  return policy.defaults;
}

Verdict decide_verdict(const Envelope& envelope, const std::vector<ScanReport>& reports,
                       const std::vector<FailureMode>& failure_modes,
                       const std::vector<std::string>& unavailable_replies,
                       const VerdictPolicy& policy) {
  Verdict v;
  bool virus_scanned = false;
  bool spam_check = false;  // a scanner that is a spam check of its own ran
  bool scored = false;      // some scorer completed
  std::vector<std::string> rules;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const ScanReport& r = reports[i];
    std::string line = r.scanner + ": ";
    if (!r.completed) {
      line += (r.skipped ? "skipped (" : "failed (") + r.error + ")";
      if (failure_modes[i] == FailureMode::closed && !r.skipped &&
          v.kind != Verdict::Kind::tempfail) {
        v.kind = Verdict::Kind::tempfail;
        v.reply = unavailable_replies[i];
        v.label = "tempfail";
        v.reason = r.scanner + " unavailable: " + r.error;
      }
      if (r.scores_spam && r.spam_check) {
        spam_check = true;
        v.spam_unchecked = true;
      }
      if (r.checks_viruses && r.skipped && !v.virus_unscanned) v.virus_unscanned = r.error;
    } else {
      virus_scanned = virus_scanned || r.checks_viruses;
      if (r.scores_spam) {
        spam_check = spam_check || r.spam_check;
        scored = true;
        v.score += r.score;
        line += "score " + format_score(r.score);
      }
      if (r.virus) {
        if (!v.virus) v.virus = r.virus;
        line += (r.scores_spam ? ", " : "") + std::string("virus ") + *r.virus;
      } else if (!r.scores_spam) {
        line += "clean";
      }
      rules.insert(rules.end(), r.rules.begin(), r.rules.end());
      for (const auto& h : r.headers) v.headers.push_back(h);
    }
    if (!v.report.empty()) v.report += "\n";
    v.report += line;
  }
  if (v.kind == Verdict::Kind::tempfail) return v;
  v.spam_checked = scored && !v.spam_unchecked;

  const std::size_t n = envelope.recipients.size();
  if (v.virus) {
    v.label = "virus";
    v.reason = "virus " + *v.virus;
    if (!policy.quarantine_viruses) {
      v.kind = Verdict::Kind::reject;
      v.reply = util::expand_template(policy.virus_reply, {{"virus", *v.virus}});
      return v;
    }
    // The seed's "silently quarantine mass mailing worms": accepted, kept,
    // never delivered.
    for (std::size_t i = 0; i < n; ++i) v.quarantine.push_back(i);
    return v;
  }

  double lowest_tag = 0;
  bool any_delivered = false;
  std::string refused_by;
  for (std::size_t i = 0; i < n; ++i) {
    SpamThreshold t = threshold_for(policy, envelope.recipients[i].address);
    if (scored && v.score >= t.reject) {
      v.quarantine.push_back(i);
      if (refused_by.empty())
        refused_by = "reject " + format_score(t.reject) + " for " + envelope.recipients[i].address;
    } else {
      v.deliver.push_back(i);
      lowest_tag = any_delivered ? std::min(lowest_tag, t.tag) : t.tag;
      any_delivered = true;
    }
  }
  const std::string score = format_score(v.score);
  if (scored && v.deliver.empty() && n > 0) {
    v.kind = Verdict::Kind::reject;
    v.reply = util::expand_template(policy.spam_reply, {{"score", score}});
    v.quarantine.clear();
    v.label = "spam";
    v.reason = "spam " + score + " (" + refused_by + ")";
    return v;
  }
  if (!v.quarantine.empty()) {
    v.label = "split";
    v.reason = "spam " + score + " (" + refused_by + ")";
  }

  // The headers of the delivered copy, above the scanners' own.
  std::vector<std::string> top;
  const bool spam = v.score >= lowest_tag;
  if (v.spam_checked && v.label.empty()) v.label = spam ? "tagged" : "clean";
  if (v.spam_unchecked && v.label.empty()) v.label = "unchecked";
  if (spam_check) {
    if (!v.spam_checked) {
      top.push_back("X-Spam-Status: unchecked");
    } else {
      std::string tests;
      for (const auto& r : rules) tests += (tests.empty() ? "" : ",") + r;
      top.push_back(std::string("X-Spam-Flag: ") + (spam ? "YES" : "NO"));
      top.push_back("X-Spam-Score: " + score);
      top.push_back(std::string("X-Spam-Status: ") + (spam ? "Yes" : "No") + ", score=" + score +
                    " required=" + format_score(lowest_tag) +
                    " tests=" + (tests.empty() ? "none" : tests));
    }
  }
  if (v.virus_unscanned)
    top.push_back("X-Virus-Scanned: no (" + *v.virus_unscanned + ")");
  else if (virus_scanned)
    top.push_back("X-Virus-Scanned: mailsan-filter at " + policy.hostname);
  v.headers.insert(v.headers.begin(), top.begin(), top.end());
  // A message a virus scanner did not look at is not "clean", whatever the
  // spam checks said: the log line and the report must not claim it was.
  if (v.virus_unscanned && (v.label.empty() || v.label == "clean")) v.label = "unchecked";
  if (v.label.empty()) v.label = "clean";
  if (v.reason.empty()) v.reason = v.label;
  if (v.virus_unscanned) v.reason += "; not virus-scanned (" + *v.virus_unscanned + ")";
  return v;
}

}  // namespace mailsan::filter
