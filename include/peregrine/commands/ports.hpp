#pragma once
/// What the command service works through, implemented outside the domain:
/// persistence (storage::AlertStore, in the same ordered log as alerts),
/// the broker (mqtt::Subscriber), frames to dashboards (realtime::Hub), and
/// observers of every status change (jobs, rule actions). All are called on
/// the event loop and must not block.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <peregrine/commands/command.hpp>

namespace peregrine::commands {

/// Set by the loop when a command ends before a deferred publish ran: the
/// publish is then skipped.
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

class CommandLog {
 public:
  virtual ~CommandLog() = default;
  /// Upserts the command's row.
  virtual void save(const Command& command) = 0;
  virtual void save(const CommandEvent& event) = 0;
  /// Publishes (QoS 1) once everything saved before it is committed, unless
  /// `cancelled` is set by then. For a queued command sent later: its row
  /// says `sent` before the device can see it, so a restart never sends
  /// it twice.
  virtual void publish_after_save(std::string topic, std::string payload, CancelFlag cancelled) = 0;
};

/// The broker, now (QoS 1, not retained). `on_published` runs on the
/// publisher's thread when the client took the message. False when dropped.
class CommandPublisher {
 public:
  virtual ~CommandPublisher() = default;
  virtual bool publish(const std::string& topic, const std::string& payload,
                       std::function<void()> on_published) = 0;
};

/// `{"type":"command","command":{…}}` to the tenant's `commands` subscribers.
class CommandFrames {
 public:
  virtual ~CommandFrames() = default;
  virtual void publish(const Command& command) = 0;
};

/// Every status change, after the service's state changed. Must not call
/// back into the service synchronously (post instead).
class CommandObserver {
 public:
  virtual ~CommandObserver() = default;
  virtual void on_command(const Command& command) = 0;
};

}  // namespace peregrine::commands
