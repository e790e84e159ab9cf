// Fuzz target for the MIME boundary line counter the ClamAV engine runs
// before libclamav: any bytes, fed whole or in two pieces split anywhere,
// give the same count and the same cut, and the cut, when there is one,
// starts a boundary line within the input.
#include "common/clamav/mime_parts.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using mailsan::clamav::BoundaryLineCounter;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint64_t limit = size % 7;
  BoundaryLineCounter whole(limit);
  whole.feed(input);
  std::size_t split = size ? data[0] % (size + 1) : 0;
  BoundaryLineCounter pieces(limit);
  pieces.feed(input.substr(0, split));
  pieces.feed(input.substr(split));
  if (whole.count() != pieces.count() || whole.cut() != pieces.cut()) std::abort();
  if (whole.cut() != BoundaryLineCounter::kNone) {
    if (limit == 0 || whole.count() <= limit || whole.cut() >= size) std::abort();
    if (input.substr(whole.cut(), 2) != "--") std::abort();
    if (whole.cut() > 0 && input[whole.cut() - 1] != '\n') std::abort();
  } else if (limit != 0 && whole.count() > limit) {
    std::abort();
  }
  return 0;
}
