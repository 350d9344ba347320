#pragma once
/// Sends the notifications outbox (storage::OutboxStore) off the loop: one
/// thread, one PostgreSQL connection and one libcurl multi handle carrying
/// up to `max_in_flight` transfers at once (webhook POSTs, Twilio-compatible
/// SMS and voice calls, SMTP mail). A delivery is claimed under a lease,
/// sent, and its outcome recorded: accepted → `sent` (and the next reminder
/// scheduled); a network error, 5xx, 408 or 429 → retried after an
/// exponential back-off with jitter (429 and 503 honour `Retry-After`);
/// any other answer, or `max_attempts` reached → `failed` with the last
/// error. The delivery id is the webhook's `X-Peregrine-Delivery`, the same
/// on every attempt, so a receiver can drop a repeat (at least once, and
/// exactly once for a receiver that keys on it). Nothing here logs a URL's
/// query, a secret or a message body.
///
/// Metrics: peregrine_notifications_total{type,status} (status sent, retry,
/// failed), peregrine_notification_latency_seconds (alert opened → accepted
/// by the provider, for first deliveries of an opening).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include <peregrine/metrics/registry.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::delivery {

struct SenderOptions {
  std::int32_t max_attempts = 8;
  std::chrono::milliseconds retry_base{2'000};   ///< first back-off; doubles per attempt
  std::chrono::milliseconds retry_max{600'000};  ///< cap of one back-off (also of Retry-After)
  std::int32_t max_reminders = 10;
  std::chrono::milliseconds request_timeout{10'000};
  std::size_t max_in_flight = 32;
  std::chrono::milliseconds poll{1'000};  ///< look for due deliveries at least this often
  std::chrono::seconds lease{120};        ///< a claimed row is not retried before this
};

/// What one attempt came to.
struct Outcome {
  enum class Kind { sent, retry, failed } kind = Kind::failed;
  long status = 0;                     ///< HTTP or SMTP reply code; 0 when none
  std::chrono::milliseconds retry_after{0};  ///< from Retry-After; 0 when absent
  std::string detail;                  ///< the error, or the provider's reply
};

/// Sends one message now, blocking (POST /channels/{id}/test); any thread
/// but the loop. `payload` as notifications::event_payload builds it.
Outcome send_now(const std::string& type, const nlohmann::json& config, const nlohmann::json& secrets,
                 const std::string& to, const std::string& payload, const std::string& delivery_id,
                 std::chrono::milliseconds timeout);

class Sender {
 public:
  /// Registers the metrics in `metrics` (which must outlive it).
  Sender(storage::PgTarget target, metrics::Registry& metrics, SenderOptions opts = {});
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  void start();
  /// Stops claiming, lets transfers in flight finish for up to `deadline`,
  /// then aborts the rest and releases their rows (due again at the next
  /// start). Blocks.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(5));
  /// Looks for due deliveries now (after the alert store wrote some). Any thread.
  void kick() noexcept;

  /// The back-off before attempt `attempts + 1`: retry_base * 2^(attempts-1),
  /// capped, times a jitter in [0.5, 1).
  static std::chrono::milliseconds backoff(const SenderOptions& opts, std::int32_t attempts,
                                           double jitter01);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine::delivery
