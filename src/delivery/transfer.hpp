#pragma once
// One libcurl transfer of a notification (src/delivery): the easy handle and
// everything it points to, built per channel type (webhook POST with its
// signature headers, Twilio-compatible form POST, SMTP upload), and what an
// attempt's result means (sent, retry, failed). Used by the Sender's multi
// handle and by send_now's blocking test send.

#include <chrono>
#include <memory>
#include <string>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <peregrine/delivery/sender.hpp>

namespace peregrine::delivery::detail {

/// curl_global_init, once.
void global_init();

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* rcpt = nullptr;
  std::string type, url, body, upload, response, user, password;
  std::size_t upload_pos = 0;
  std::chrono::milliseconds retry_after{0};
  char error[CURL_ERROR_SIZE] = {};
  std::string setup_error;  ///< set when the transfer cannot be made (no address, unknown type)

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();
};

/// A ready easy handle for one attempt (or one with setup_error set).
std::unique_ptr<Transfer> build(const std::string& type, const nlohmann::json& config,
                                const nlohmann::json& secrets, const std::string& to,
                                const std::string& payload, const std::string& delivery_id,
                                std::chrono::milliseconds timeout);

/// What a finished attempt means.
Outcome classify(const Transfer& t, CURLcode rc);

}  // namespace peregrine::delivery::detail
