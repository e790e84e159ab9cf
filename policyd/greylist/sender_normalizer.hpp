// Sender normalisation for the greylisting triplet (SPEC §2.1 step 6), pure.
//
// Mailing lists and bounce handlers put a different token into every message's
// envelope sender (VERP, BATV, SRS, +extensions). Greylisting on the raw
// address would greylist every message of a list anew, so the variable parts
// are taken out:
//   - the whole address is lower-cased;
//   - SRS0/SRS1 addresses are unwrapped to the original sender;
//   - BATV "prvs=TAG=local" loses its tag;
//   - "+extension" is dropped from the local part;
//   - each run of digits in the local part becomes "#".
// The null sender stays empty.
#pragma once

#include <string>
#include <string_view>

namespace mailsan::policyd {

std::string normalize_sender(std::string_view sender);

}  // namespace mailsan::policyd
