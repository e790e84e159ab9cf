// Fuzz target for the filter that removes incoming copies of the headers we
// write: any bytes, cut into pieces of any size, must give the same output
// and the same count as when fed whole; the output never grows, and with
// nothing removed it is the input.
//
// Input: one byte choosing the piece size, then the message.
#include "contentfilter/message/owned_headers.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using mailsan::filter::OwnedHeaderFilter;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = 1 + data[0] % 16;
  std::string_view message(reinterpret_cast<const char*>(data) + 1, size - 1);

  OwnedHeaderFilter whole;
  std::string out_whole;
  whole.feed(message, out_whole);
  whole.finish(out_whole);

  OwnedHeaderFilter pieces;
  std::string out_pieces;
  for (std::size_t i = 0; i < message.size(); i += step)
    pieces.feed(message.substr(i, step), out_pieces);
  pieces.finish(out_pieces);

  if (out_whole != out_pieces) std::abort();
  if (whole.removed_count() != pieces.removed_count()) std::abort();
  if (out_whole.size() > message.size()) std::abort();
  if (whole.removed_count() == 0 && out_whole != message) std::abort();
  return 0;
}
