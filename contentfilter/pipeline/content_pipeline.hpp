// What happens to a message's content at end-of-DATA (SPEC §3), whichever
// front end received it (the before-queue proxy today, a milter next): every
// scanner at once under scan_timeout, the verdict per recipient, the
// quarantined copy, and the report counters. It knows nothing of SMTP
// sessions or sockets: the front end hands in the envelope and the spooled
// message, delivers to the recipients the outcome says, and answers.
//
// The order a front end follows:
//   ContentOutcome o = co_await pipeline.process(envelope, spool);
//   if o.settled(): answer o.reply                    (refused, 4xx, or
//                                                      every copy quarantined)
//   else: deliver to o.deliver_to() with o.headers on top;
//         on failure: co_await pipeline.next_hop_refused(o), answer 4xx
//   pipeline.settled(label, reply) with the answer given (counts the
//   report rows).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contentfilter/filter_metrics.hpp"
#include "contentfilter/message/envelope.hpp"
#include "contentfilter/quarantine/quarantine.hpp"
#include "contentfilter/scan/scanner.hpp"
#include "contentfilter/spool/message_spool.hpp"
#include "contentfilter/verdict/verdict.hpp"

namespace mailsan::filter {

// What the pipeline runs with; made from the configuration, swapped whole on
// a reload (a message keeps the one it started with).
struct ContentPipelineConfig {
  // In the order of the report and of the scanners' own headers.
  std::vector<std::shared_ptr<Scanner>> scanners;
  VerdictPolicy policy;
  std::chrono::steady_clock::duration scan_timeout = std::chrono::seconds(45);
  std::string hostname;  // this MX, as quarantine records name it
};

// What the pipeline needs from the daemon.
struct ContentServices {
  Quarantine* quarantine = nullptr;
  FilterMetrics* metrics = nullptr;
  // Adds one to a report row (stats::row::*); may be empty.
  std::function<void(std::string_view row)> count_row;
};

enum class RecipientAction {
  deliver,     // goes on to the next hop, tagged
  quarantine,  // its copy is in quarantine (quarantine_id)
  reject,      // the message is refused (5xx)
  tempfail,    // the message is to be retried (4xx)
};

struct ContentOutcome {
  std::vector<RecipientAction> recipients;  // one per envelope recipient
  // The answer when the pipeline settled the message (refused, tempfailed,
  // or quarantined for every recipient); empty when some recipients are to
  // be delivered and the next hop's answer decides.
  std::string reply;
  std::vector<std::string> headers;  // "Name: value", on top of delivered copies
  double score = 0;
  bool spam_checked = false;    // the score means something (Verdict::spam_checked)
  bool spam_unchecked = false;  // a spam check did not complete: X-Spam-Status: unchecked
  std::optional<std::string> virus_unscanned;  // why no virus scan: X-Virus-Scanned: no (...)
  std::optional<std::string> virus;
  std::string label;          // clean, tagged, spam, virus, split, tempfail, ...
  std::string reason;         // one line for the log and the quarantine record
  std::string report;         // every scanner's findings, one line each
  std::string quarantine_id;  // empty when nothing was quarantined
  std::chrono::duration<double, std::milli> scan_time{0};

  bool settled() const { return !reply.empty(); }
  // The indexes of the recipients to deliver to.
  std::vector<std::size_t> deliver_to() const;
};

class ContentPipeline {
 public:
  ContentPipeline(boost::asio::any_io_executor ex,
                  std::shared_ptr<const ContentPipelineConfig> config, ContentServices services);

  // Scans, decides and quarantines. `envelope` and `message` must stay as
  // they are until it returns; no scanner still reads them then, even one
  // cut off by scan_timeout.
  boost::asio::awaitable<ContentOutcome> process(const Envelope& envelope,
                                                 const MessageSpool& message);

  // The next hop did not take the message: the client will send it again,
  // so the quarantined copy goes (else it would be kept twice).
  boost::asio::awaitable<void> next_hop_refused(ContentOutcome& outcome);

  // The message was answered with `reply` under `label`: counts its report
  // row, unless the answer was a 4xx (the retry is counted then).
  void settled(std::string_view label, std::string_view reply);

  // The scanners' reports, in scanner order; a scanner still running at
  // scan_timeout is cancelled and waited for, and reports
  // completed = false, error = "scan_timeout".
  boost::asio::awaitable<std::vector<ScanReport>> scan(const Envelope& envelope,
                                                       const MessageSpool& message);

 private:
  boost::asio::any_io_executor ex_;
  std::shared_ptr<const ContentPipelineConfig> config_;
  ContentServices services_;
};

}  // namespace mailsan::filter
