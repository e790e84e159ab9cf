#include "mailsanctl/reinject.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <fstream>

#include "common/net/endpoint_address.hpp"
#include "contentfilter/message/envelope.hpp"
#include "contentfilter/proxy/next_hop.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::ctl {
namespace asio = boost::asio;

ReinjectOutcome reinject(const filter::QuarantineRecord& record,
                         const std::filesystem::path& message, const ReinjectSettings& settings) {
  ReinjectOutcome out;
  auto hop = net::parse_endpoint(settings.next_hop);
  boost::system::error_code bad;
  auto address = hop && hop->kind == net::EndpointAddress::Kind::inet
                     ? asio::ip::make_address(hop->host, bad)
                     : asio::ip::address();
  if (!hop || hop->kind != net::EndpointAddress::Kind::inet || bad) {
    out.error = "next_hop " + settings.next_hop + " is not inet:ADDRESS:PORT";
    return out;
  }

  // The envelope as the filter had it, so the replay is the filter's own
  // (contentfilter/proxy/next_hop.hpp): the same XFORWARD, parameters and
  // dot-stuffing as any message it relays.
  filter::Envelope envelope;
  envelope.mta_helo = record.helo;
  std::vector<filter::smtp::XforwardAttribute> attributes;
  for (const auto& [name, value] : record.xforward) attributes.push_back({name, value});
  filter::add_xforward(envelope, std::move(attributes));
  envelope.sender.address = record.sender;
  envelope.sender.parameters = record.sender_parameters;
  for (const auto& r : record.recipients) envelope.recipients.push_back({r.address, r.parameters});

  // The message goes through a spool like any other: a large one is read
  // from an unlinked temporary file, not held in memory.
  filter::MessageSpool spool(1024 * 1024, std::filesystem::temp_directory_path());
  std::ifstream in(message, std::ios::binary);
  if (!in) {
    out.error = "cannot read " + message.string();
    return out;
  }
  std::string chunk(256 * 1024, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (std::error_code ec =
            spool.append(std::string_view(chunk.data(), static_cast<std::size_t>(n)))) {
      out.error = "spooling the message: " + ec.message();
      return out;
    }
  }

  filter::RelayRequest request;
  request.next_hop = asio::ip::tcp::endpoint(address, hop->port);
  request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.timeout);
  request.helo = settings.helo_name;
  request.envelope = &envelope;
  for (std::size_t i = 0; i < envelope.recipients.size(); ++i) request.recipients.push_back(i);
  request.message = &spool;

  asio::io_context io;
  filter::RelayOutcome relayed;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto relaying = filter::relay_message(io.get_executor(), request);
        relayed = co_await std::move(relaying);
      },
      asio::detached);
  io.run();
  out.delivered = relayed.delivered;
  if (relayed.delivered)
    out.reply = relayed.reply;
  else
    out.error = "next_hop " + settings.next_hop + ": " + relayed.reply;
  return out;
}

}  // namespace mailsan::ctl
