#include "common/dns/message.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace mailsan::dns {

namespace {

constexpr std::size_t kHeaderSize = 12;

// Reads a message front to back; any read past the end fails it for good.
class Reader {
 public:
  explicit Reader(std::span<const unsigned char> message) : message_(message) {}

  bool ok() const { return ok_; }
  std::size_t offset() const { return offset_; }

  std::uint16_t u16() {
    if (!need(2)) return 0;
    const std::uint16_t value =
        static_cast<std::uint16_t>(message_[offset_] << 8 | message_[offset_ + 1]);
    offset_ += 2;
    return value;
  }

  std::uint32_t u32() {
    const std::uint32_t high = u16();
    return high << 16 | u16();
  }

  void skip(std::size_t n) {
    if (need(n)) offset_ += n;
  }

  // Skips a possibly compressed name: labels up to a zero byte or a pointer.
  void skip_name() {
    while (ok_) {
      if (!need(1)) return;
      const unsigned char length = message_[offset_];
      if (length == 0) {
        ++offset_;
        return;
      }
      if ((length & 0xC0) == 0xC0) {
        skip(2);
        return;
      }
      if ((length & 0xC0) != 0) {  // the reserved label types
        ok_ = false;
        return;
      }
      skip(1 + std::size_t{length});
    }
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || message_.size() - offset_ < n) ok_ = false;
    return ok_;
  }

  std::span<const unsigned char> message_;
  std::size_t offset_ = 0;
  bool ok_ = true;
};

struct Counts {
  std::uint16_t questions = 0;
  std::uint16_t answers = 0;
  std::uint16_t authority = 0;
};

// Positions the reader after the question section.
bool read_header(Reader& reader, Counts& counts) {
  reader.skip(4);  // id, flags
  counts.questions = reader.u16();
  counts.answers = reader.u16();
  counts.authority = reader.u16();
  reader.skip(2);  // additional
  for (unsigned i = 0; i < counts.questions && reader.ok(); ++i) {
    reader.skip_name();
    reader.skip(4);  // type, class
  }
  return reader.ok();
}

std::uint32_t wire_ttl(std::uint32_t ttl) {
  return (ttl & 0x80000000U) != 0 ? 0 : ttl;
}

std::uint16_t answer_count(std::span<const unsigned char> message) {
  if (message.size() < kHeaderSize) return 0;
  return static_cast<std::uint16_t>(message[6] << 8 | message[7]);
}

int message_length(std::span<const unsigned char> message) {
  return static_cast<int>(std::min<std::size_t>(message.size(), 65535));
}

std::optional<std::uint32_t> min_ttl(std::optional<std::uint32_t> a, std::uint32_t b) {
  return a ? std::min(*a, b) : b;
}

void parse_addresses(RecordType type, std::span<const unsigned char> message, ParsedAnswer& out) {
  const int length = message_length(message);
  const std::size_t capacity = std::max<std::size_t>(answer_count(message), 1);
  int count = static_cast<int>(capacity);
  int rc = ARES_EBADRESP;
  hostent* host = nullptr;
  if (type == RecordType::a) {
    std::vector<ares_addrttl> ttls(capacity);
    rc = ares_parse_a_reply(message.data(), length, &host, ttls.data(), &count);
    for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
      net::IpAddress address;
      std::memcpy(address.bytes.data(), &ttls[static_cast<std::size_t>(i)].ipaddr, 4);
      out.answer.addresses.push_back(address);
      out.ttl = min_ttl(
          out.ttl, wire_ttl(static_cast<std::uint32_t>(ttls[static_cast<std::size_t>(i)].ttl)));
    }
  } else {
    std::vector<ares_addr6ttl> ttls(capacity);
    rc = ares_parse_aaaa_reply(message.data(), length, &host, ttls.data(), &count);
    for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
      net::IpAddress address;
      address.v6 = true;
      std::memcpy(address.bytes.data(), &ttls[static_cast<std::size_t>(i)].ip6addr, 16);
      out.answer.addresses.push_back(address);
      out.ttl = min_ttl(
          out.ttl, wire_ttl(static_cast<std::uint32_t>(ttls[static_cast<std::size_t>(i)].ttl)));
    }
  }
  if (host != nullptr) ares_free_hostent(host);
  if (rc == ARES_SUCCESS && out.answer.addresses.empty()) rc = ARES_ENODATA;
  out.answer.status = status_from_ares(rc);
}

void parse_texts(std::span<const unsigned char> message, ParsedAnswer& out) {
  ares_txt_ext* head = nullptr;
  const int rc = ares_parse_txt_reply_ext(message.data(), message_length(message), &head);
  for (const ares_txt_ext* part = head; rc == ARES_SUCCESS && part != nullptr; part = part->next) {
    // A record's strings arrive as separate parts; record_start marks the first.
    if (part->record_start != 0 || out.answer.texts.empty()) out.answer.texts.emplace_back();
    out.answer.texts.back().append(reinterpret_cast<const char*>(part->txt), part->length);
  }
  if (head != nullptr) ares_free_data(head);
  out.answer.status = status_from_ares(rc);
}

void parse_mx(std::span<const unsigned char> message, ParsedAnswer& out) {
  ares_mx_reply* head = nullptr;
  const int rc = ares_parse_mx_reply(message.data(), message_length(message), &head);
  for (const ares_mx_reply* mx = head; rc == ARES_SUCCESS && mx != nullptr; mx = mx->next) {
    MxRecord record;
    record.preference = mx->priority;
    record.host = mx->host;
    if (!record.host.empty() && record.host.back() == '.') record.host.pop_back();
    out.answer.mx.push_back(std::move(record));
  }
  if (head != nullptr) ares_free_data(head);
  out.answer.status = status_from_ares(rc);
}

void parse_ptr(std::span<const unsigned char> message, ParsedAnswer& out) {
  // ares_parse_ptr_reply copies the queried address into the hostent; it is
  // not needed here, so a dummy one stands in.
  const unsigned char unused_address[4] = {};
  hostent* host = nullptr;
  const int rc = ares_parse_ptr_reply(message.data(), message_length(message), unused_address,
                                      sizeof unused_address, AF_INET, &host);
  if (rc == ARES_SUCCESS && host != nullptr) {
    // Every PTR name is in h_aliases; h_name repeats the first of them.
    for (char** alias = host->h_aliases; alias != nullptr && *alias != nullptr; ++alias)
      out.answer.texts.emplace_back(*alias);
    if (out.answer.texts.empty() && host->h_name != nullptr)
      out.answer.texts.emplace_back(host->h_name);
  }
  if (host != nullptr) ares_free_hostent(host);
  out.answer.status = status_from_ares(rc);
}

}  // namespace

std::optional<std::uint32_t> answer_ttl(std::span<const unsigned char> message) {
  Reader reader(message);
  Counts counts;
  if (!read_header(reader, counts)) return std::nullopt;
  std::optional<std::uint32_t> lowest;
  for (unsigned i = 0; i < counts.answers; ++i) {
    reader.skip_name();
    reader.skip(4);  // type, class
    const std::uint32_t ttl = wire_ttl(reader.u32());
    reader.skip(reader.u16());
    if (!reader.ok()) return std::nullopt;
    lowest = min_ttl(lowest, ttl);
  }
  return lowest;
}

std::optional<std::uint32_t> negative_ttl(std::span<const unsigned char> message) {
  Reader reader(message);
  Counts counts;
  if (!read_header(reader, counts)) return std::nullopt;
  for (unsigned i = 0; i < counts.answers; ++i) {  // a CNAME chain before the negative end
    reader.skip_name();
    reader.skip(8);  // type, class, ttl
    reader.skip(reader.u16());
  }
  for (unsigned i = 0; i < counts.authority && reader.ok(); ++i) {
    reader.skip_name();
    const std::uint16_t type = reader.u16();
    reader.skip(2);  // class
    const std::uint32_t ttl = wire_ttl(reader.u32());
    const std::uint16_t rdlength = reader.u16();
    if (!reader.ok()) return std::nullopt;
    if (type != ns_t_soa) {
      reader.skip(rdlength);
      continue;
    }
    // MNAME, RNAME, then SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM; the
    // MINIMUM must lie inside the record's own data.
    const std::size_t end = reader.offset() + rdlength;
    reader.skip_name();
    reader.skip_name();
    reader.skip(16);
    const std::uint32_t minimum = wire_ttl(reader.u32());
    if (!reader.ok() || reader.offset() != end) return std::nullopt;
    return std::min(ttl, minimum);
  }
  return std::nullopt;
}

Status status_from_ares(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS:
      return Status::ok;
    case ARES_ENOTFOUND:
      return Status::nxdomain;
    case ARES_ENODATA:
      return Status::nodata;
    case ARES_ESERVFAIL:
      return Status::servfail;
    case ARES_EREFUSED:
      return Status::refused;
    // A server that answers with ICMP port unreachable is, to the caller,
    // one that does not answer.
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
      return Status::timeout;
    default:
      return Status::error;
  }
}

ParsedAnswer parse_answer(RecordType type, int ares_status,
                          std::span<const unsigned char> message) {
  ParsedAnswer out;
  if (ares_status != ARES_SUCCESS) {
    out.answer.status = status_from_ares(ares_status);
    if (out.answer.status == Status::nxdomain || out.answer.status == Status::nodata)
      out.ttl = negative_ttl(message);
    return out;
  }
  switch (type) {
    case RecordType::a:
    case RecordType::aaaa:
      parse_addresses(type, message, out);
      break;
    case RecordType::txt:
      parse_texts(message, out);
      break;
    case RecordType::mx:
      parse_mx(message, out);
      break;
    case RecordType::ptr:
      parse_ptr(message, out);
      break;
  }
  // c-ares' TXT and MX parsers succeed on a reply that holds only other
  // types (a CNAME, say): for the caller that name has no such records.
  if (out.answer.status == Status::ok && out.answer.addresses.empty() && out.answer.texts.empty() &&
      out.answer.mx.empty())
    out.answer.status = Status::nodata;
  if (out.answer.status == Status::ok) {
    if (type != RecordType::a && type != RecordType::aaaa) out.ttl = answer_ttl(message);
  } else if (out.answer.status == Status::nodata) {
    // The name was there but only as an alias, or with other types.
    out.ttl = negative_ttl(message);
  } else {
    // The parser rejected what the server sent.
    out.answer.status = Status::error;
  }
  return out;
}

}  // namespace mailsan::dns
