// What the sentinels and a discovered server answer, read into values: the
// reply to SENTINEL get-master-addr-by-name, a +switch-master message and
// the reply to ROLE. Pure; shared by the async client (sentinel.cpp) and
// mailsanctl's blocking one.
//
// SECURITY: these replies come from the network; a malformed one is an
// error value, never trusted as an address.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/net/endpoint_address.hpp"
#include "common/redis/reply.hpp"

namespace mailsan::redis {

// The reply to SENTINEL get-master-addr-by-name: ["IP", "PORT"], or nil when
// the sentinel does not monitor that name. nullopt with *error otherwise.
std::optional<net::EndpointAddress> master_from_reply(const Reply& reply, std::string* error);

// The payload of a +switch-master message, "NAME OLDIP OLDPORT NEWIP
// NEWPORT": the new master when NAME is `master_name`, else nullopt.
std::optional<net::EndpointAddress> switched_master(std::string_view payload,
                                                    std::string_view master_name);

// True when the reply to ROLE says "master"; else *role names what it said.
bool role_is_master(const Reply& reply, std::string* role);

}  // namespace mailsan::redis
