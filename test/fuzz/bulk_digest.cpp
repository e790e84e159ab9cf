// Fuzz target for the bulk checksums: any message must parse (MIME parts,
// transfer encodings) without crashing, give at most the four digests, and
// the same digests however often it is asked.
#include "contentfilter/bulk/bulk_digest.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto digests = mailsan::filter::bulk_digests(input);
  if (digests.size() > 4) std::abort();
  if (mailsan::filter::bulk_digests(input) != digests) std::abort();
  for (const auto& part : mailsan::filter::text_parts(input))
    if (part.size() > input.size()) std::abort();  // decoding never grows the text
  return 0;
}
