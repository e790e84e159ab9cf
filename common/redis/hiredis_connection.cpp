// hiredis' async API on Asio: see hiredis_connection.hpp for the contract.
//
// hiredis drives I/O through five hooks. Each add hook records that hiredis
// wants an event and starts one async_wait if none is pending; a completed
// wait calls redisAsyncHandleRead/Write and re-arms while hiredis still wants
// the event. The del hooks only clear the wish: a wait already pending then
// completes without calling into hiredis.
#include "common/redis/hiredis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/error.hpp>
#include <charconv>
#include <climits>
#include <vector>

namespace mailsan::redis {

using boost::asio::posix::stream_descriptor;

std::shared_ptr<HiredisConnection> HiredisConnection::open(boost::asio::any_io_executor ex,
                                                           const net::EndpointAddress& address,
                                                           Events& events, std::string* error) {
  redisAsyncContext* context =
      address.kind == net::EndpointAddress::Kind::unix_socket
          ? redisAsyncConnectUnix(address.path.c_str())
          : redisAsyncConnect(address.host.c_str(), static_cast<int>(address.port));
  if (context == nullptr) {
    *error = "cannot allocate a hiredis context";
    return nullptr;
  }
  if (context->err != 0) {
    *error = context->errstr != nullptr ? context->errstr : "connect failed";
    redisAsyncFree(context);
    return nullptr;
  }

  auto connection = std::make_shared<HiredisConnection>(Private{}, std::move(ex), context, events);
  boost::system::error_code ec;
  connection->descriptor_.assign(context->c.fd, ec);
  if (ec) {
    *error = "cannot watch the Redis socket: " + ec.message();
    connection->events_ = nullptr;
    connection->close();
    return nullptr;
  }
  context->data = connection.get();
  context->ev.data = connection.get();
  context->ev.addRead = &HiredisConnection::add_read;
  context->ev.delRead = &HiredisConnection::del_read;
  context->ev.addWrite = &HiredisConnection::add_write;
  context->ev.delWrite = &HiredisConnection::del_write;
  context->ev.cleanup = &HiredisConnection::cleanup;
  if (address.kind == net::EndpointAddress::Kind::inet) {
    // A peer that vanishes without a FIN (power loss, firewall state flush)
    // is otherwise only noticed by the command timeout.
    redisEnableKeepAlive(&context->c);
  }
  // The connect callback is how a failed non-blocking connect gets its
  // reason; setting it also asks for the first write event, which is how
  // hiredis learns that connect(2) finished.
  redisAsyncSetConnectCallback(context, &HiredisConnection::connect_thunk);
  return connection;
}

HiredisConnection::HiredisConnection(Private, boost::asio::any_io_executor ex,
                                     redisAsyncContext* context, Events& events)
    : context_(context), descriptor_(std::move(ex)), events_(&events) {}

HiredisConnection::~HiredisConnection() {
  events_ = nullptr;
  close();
}

bool HiredisConnection::send(std::span<const std::string_view> argv) {
  if (context_ == nullptr || argv.empty() || argv.size() > static_cast<std::size_t>(INT_MAX))
    return false;
  // The RESP request is written here into a reused buffer and handed over
  // formatted: hiredis' own formatting (sdscatfmt per argument) was a
  // measurable part of each greylisting decision.
  std::string& out = format_buffer_;
  out.clear();
  char number[24];
  auto append_number = [&](char kind, std::size_t n) {
    out += kind;
    out.append(number, static_cast<std::size_t>(
                           std::to_chars(number, number + sizeof number, n).ptr - number));
    out += "\r\n";
  };
  append_number('*', argv.size());
  for (std::string_view arg : argv) {
    append_number('$', arg.size());
    out.append(arg.data() != nullptr ? arg.data() : "", arg.size());
    out += "\r\n";
  }
  ++unflushed_;
  return redisAsyncFormattedCommand(context_, &HiredisConnection::reply_thunk, this, out.data(),
                                    out.size()) == REDIS_OK;
}

void HiredisConnection::flush() {
  if (context_ == nullptr || !want_write_) return;
  unflushed_ = 0;
  redisAsyncHandleWrite(context_);
  // A partial write leaves want_write_ set and the pending wait finishes it.
  if (context_ != nullptr && want_write_ && !write_waiting_) wait_writable();
}

void HiredisConnection::close() {
  if (context_ == nullptr) return;
  // Runs every pending reply callback with a null reply, then the cleanup
  // hook, which clears context_ and lets go of the descriptor.
  redisAsyncFree(context_);
  context_ = nullptr;
}

void HiredisConnection::remember_error() {
  if (context_ != nullptr && context_->c.err != 0) last_error_ = context_->c.errstr;
}

void HiredisConnection::add_read(void* self) {
  auto* connection = static_cast<HiredisConnection*>(self);
  connection->want_read_ = true;
  if (!connection->read_waiting_) connection->wait_readable();
}

void HiredisConnection::del_read(void* self) {
  static_cast<HiredisConnection*>(self)->want_read_ = false;
}

void HiredisConnection::add_write(void* self) {
  auto* connection = static_cast<HiredisConnection*>(self);
  connection->want_write_ = true;
  if (!connection->write_waiting_) connection->wait_writable();
}

void HiredisConnection::del_write(void* self) {
  static_cast<HiredisConnection*>(self)->want_write_ = false;
}

void HiredisConnection::cleanup(void* self) {
  // hiredis is about to close the fd and free the context (it may call this
  // more than once, so it must be idempotent).
  auto* connection = static_cast<HiredisConnection*>(self);
  connection->remember_error();
  // release(), not close(): the fd is hiredis'. It also cancels our waits.
  connection->descriptor_.release();
  connection->context_ = nullptr;
  connection->want_read_ = false;
  connection->want_write_ = false;
}

void HiredisConnection::reply_thunk(redisAsyncContext*, void* reply, void* self) {
  auto* connection = static_cast<HiredisConnection*>(self);
  if (connection->events_ != nullptr)
    connection->events_->on_reply(static_cast<const redisReply*>(reply));
}

void HiredisConnection::connect_thunk(const redisAsyncContext* context, int status) {
  if (status == REDIS_OK) return;
  auto* connection = static_cast<HiredisConnection*>(context->data);
  // The context is freed right after this returns; keep the reason.
  if (context->c.err != 0) connection->last_error_ = context->c.errstr;
}

void HiredisConnection::wait_readable() {
  read_waiting_ = true;
  descriptor_.async_wait(
      stream_descriptor::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void HiredisConnection::wait_writable() {
  write_waiting_ = true;
  descriptor_.async_wait(
      stream_descriptor::wait_write,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_writable(ec); });
}

void HiredisConnection::on_readable(const boost::system::error_code& ec) {
  read_waiting_ = false;
  // Aborted means the descriptor was released: the context is gone.
  if (context_ == nullptr || ec == boost::asio::error::operation_aborted || !want_read_) return;
  // Any other error is the socket's; hiredis finds it when it reads.
  redisAsyncHandleRead(context_);
  if (context_ != nullptr && want_read_ && !read_waiting_) wait_readable();
  // The owner is still alive here: it closes us before it goes away, and
  // nothing inside hiredis runs the owner's callers' code.
  if (events_ != nullptr) events_->on_io_done(*this);
}

void HiredisConnection::on_writable(const boost::system::error_code& ec) {
  write_waiting_ = false;
  if (context_ == nullptr || ec == boost::asio::error::operation_aborted || !want_write_) return;
  // Completes a pending connect, then writes the whole output buffer; hiredis
  // calls add_write again when the socket took only part of it.
  unflushed_ = 0;
  redisAsyncHandleWrite(context_);
  if (context_ != nullptr && want_write_ && !write_waiting_) wait_writable();
  if (events_ != nullptr) events_->on_io_done(*this);
}

}  // namespace mailsan::redis
