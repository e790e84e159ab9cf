// The quarantine's index in the Redis shared by every MX (SPEC §3, §4), so
// that `mailsanctl quarantine list` on any MX shows what every MX holds:
//   PREFIX "quarantine"     sorted set, score = record time, member = id
//   PREFIX "quarantine:" ID string, the record's JSON
// The message itself stays in the quarantine_dir of the MX named in the
// record. Pure: key names only. mailsan-filter writes both keys (ZADD, SET)
// when it quarantines; mailsanctl reads them and removes them on release or
// delete.
//
// The keys carry no hash tag: each command touches one key, so they work
// unchanged on Redis Cluster. Ids are checked with valid_quarantine_id()
// before they get here; a key never holds raw client input.
#pragma once

#include <string>
#include <string_view>

namespace mailsan::filter {

std::string quarantine_index_key(std::string_view prefix);
std::string quarantine_record_key(std::string_view prefix, std::string_view id);

}  // namespace mailsan::filter
