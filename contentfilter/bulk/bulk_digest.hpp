// The checksums of one message for bulk detection (SPEC §3, DCC's idea): the
// same message sent to many recipients has the same checksums, even when
// the sender varies it a little per copy. Pure: no I/O.
//
// Digests (hex SHA-1, each prefixed with its kind):
//  - "body":  the body as received;
//  - "fuzzy": the body with ASCII lower-cased, URL query strings removed,
//             digit runs made '#', white space runs made one space;
//  - "names": "fuzzy", and every word that starts with a capital letter in
//             the message made '*' (greeting names: "Dear John" / "Dear Mary");
//  - "text":  "fuzzy" over the text/plain and text/html parts only, decoded
//             from quoted-printable or base64 (so a changed attachment or
//             boundary does not change it).
// Each digest is counted on its own; a message is bulk when any of them is.
//
// SECURITY: the message is untrusted; parsing is bounded (max_bytes read,
// MIME nesting depth, parts examined, text bytes decoded) and never throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::filter {

// Lower-cases ASCII, removes URL query strings, makes digit runs '#' and
// white space runs one space; with names, also capitalised words '*'.
std::string fuzzy_text(std::string_view text, bool names);

// Decoders for the text parts; malformed input decodes as far as it goes.
std::string decode_quoted_printable(std::string_view in);
std::string decode_base64(std::string_view in);

// At most this many MIME entities (of any type, multiparts included) are
// examined per message, and this many bytes of text parts decoded: what
// lies beyond counts in the "body", "fuzzy" and "names" digests only.
inline constexpr std::size_t kBulkMaxParts = 200;
inline constexpr std::size_t kBulkMaxTextBytes = 1048576;

// The text parts of a message (head and body), decoded, in order.
std::vector<std::string> text_parts(std::string_view message);

std::vector<std::string> bulk_digests(std::string_view message);

}  // namespace mailsan::filter
