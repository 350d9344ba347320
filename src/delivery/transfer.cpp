#include "delivery/transfer.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>

#include <sodium.h>

#include <peregrine/notifications/channel.hpp>

namespace peregrine::delivery::detail {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {


std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

std::string hmac_sha256_hex(const std::string& key, const std::string& msg) {
  crypto_auth_hmacsha256_state st;
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  crypto_auth_hmacsha256_final(&st, out);
  return hex(out, sizeof out);
}

std::string base64(const std::string& s) {
  std::string out(sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// CRLF line ends, as SMTP wants (libcurl dot-stuffs the upload itself).
std::string crlf(const std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (char c : s) {
    if (c == '\r') continue;
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string rfc5322_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string mime_message(const std::string& from, const std::string& to, const notifications::Message& m,
                         const std::string& delivery_id) {
  const std::string boundary = "peregrine-" + delivery_id;
  return "Date: " + rfc5322_now() + "\r\nFrom: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: =?UTF-8?B?" +
         base64(m.subject) + "?=\r\nMessage-ID: <" + delivery_id + "@peregrine>\r\nMIME-Version: 1.0\r\n" +
         "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + crlf(m.text) +
         "\r\n--" + boundary +
         "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + crlf(m.html) +
         "\r\n--" + boundary + "--\r\n";
}


std::size_t on_write(char* p, std::size_t size, std::size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const std::size_t len = size * n;
  if (t->response.size() < 2048) t->response.append(p, std::min(len, 2048 - t->response.size()));
  return len;
}

std::size_t on_read(char* buf, std::size_t size, std::size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const std::size_t k = std::min(size * n, t->upload.size() - t->upload_pos);
  std::memcpy(buf, t->upload.data() + t->upload_pos, k);
  t->upload_pos += k;
  return k;
}

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const std::size_t len = size * n;
  std::string line(p, len);
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size() && strncasecmp(line.c_str(), name.data(), name.size()) == 0) {
    std::string v = line.substr(name.size());
    v.erase(0, v.find_first_not_of(" \t"));
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      t->retry_after = milliseconds(std::min<long long>(std::stoll(v.substr(0, 9)), 86'400) * 1000);
    } else if (const std::time_t at = curl_getdate(v.c_str(), nullptr); at > 0) {
      t->retry_after = milliseconds(std::max<long long>(0, at - std::time(nullptr)) * 1000);
    }
  }
  return len;
}

std::string escape(CURL* e, const std::string& s) {
  char* out = curl_easy_escape(e, s.c_str(), static_cast<int>(s.size()));
  std::string r = out ? out : "";
  curl_free(out);
  return r;
}

std::string reply_text(const std::string& response) {
  std::string s = response.substr(0, 200);
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

}  // namespace

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Transfer::~Transfer() {
  if (easy) curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  curl_slist_free_all(rcpt);
}

std::unique_ptr<Transfer> build(const std::string& type, const json& config, const json& secrets,
                                const std::string& to, const std::string& payload,
                                const std::string& delivery_id, milliseconds timeout) {
  global_init();
  auto t = std::make_unique<Transfer>();
  t->type = type;
  t->easy = curl_easy_init();
  if (!t->easy) {
    t->setup_error = "cannot create a transfer";
    return t;
  }
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long long>(timeout.count(), 5000)));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "peregrine");
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());

  if (type == "webhook") {
    t->url = str(config, "url");
    t->body = payload;
    const std::string ts = std::to_string(std::time(nullptr));
    const std::string sig = hmac_sha256_hex(str(secrets, "secret"), ts + "." + payload);
    const json p = json::parse(payload, nullptr, false);
    for (const std::string& h :
         {std::string("Content-Type: application/json"), "X-Peregrine-Timestamp: " + ts,
          "X-Peregrine-Signature: sha256=" + sig, "X-Peregrine-Delivery: " + delivery_id,
          "X-Peregrine-Event: " + (p.is_object() ? str(p, "event") : std::string())})
      t->headers = curl_slist_append(t->headers, h.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  } else if (type == "sms" || type == "voice") {
    if (to.empty()) t->setup_error = "the contact has no phone number";
    const notifications::Message m = notifications::render(json::parse(payload, nullptr, false));
    std::string base = str(config, "api_url");
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string sid = str(config, "account_sid");
    t->url = base + "/2010-04-01/Accounts/" + escape(e, sid) + (type == "sms" ? "/Messages.json" : "/Calls.json");
    t->body = "To=" + escape(e, to) + "&From=" + escape(e, str(config, "from")) +
              (type == "sms" ? "&Body=" + escape(e, m.sms) : "&Twiml=" + escape(e, m.twiml));
    t->user = sid;
    t->password = str(secrets, "auth_token");
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, t->user.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, t->password.c_str());
    t->headers = curl_slist_append(t->headers, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  } else if (type == "email") {
    if (to.empty()) t->setup_error = "the contact has no email address";
    const notifications::Message m = notifications::render(json::parse(payload, nullptr, false));
    t->url = str(config, "smtp_url");
    const std::string from = str(config, "from");
    t->upload = mime_message(from, to, m, delivery_id);
    const bool implicit_tls = t->url.starts_with("smtps://");
    curl_easy_setopt(e, CURLOPT_USE_SSL,
                     implicit_tls || str(config, "starttls") != "optional" ? CURLUSESSL_ALL : CURLUSESSL_TRY);
    t->user = str(config, "username");
    t->password = str(secrets, "password");
    if (!t->user.empty()) {
      curl_easy_setopt(e, CURLOPT_USERNAME, t->user.c_str());
      curl_easy_setopt(e, CURLOPT_PASSWORD, t->password.c_str());
    }
    const std::string mail_from = "<" + from + ">";
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, mail_from.c_str());  // copied by libcurl
    t->rcpt = curl_slist_append(t->rcpt, ("<" + to + ">").c_str());
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, t.get());
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t->upload.size()));
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  } else {
    t->setup_error = "unknown channel type '" + type + "'";
  }
  curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
  if (t->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (!t->body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
  }
  return t;
}


Outcome classify(const Transfer& t, CURLcode rc) {
  Outcome out;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &out.status);
  const std::string err = t.error[0] ? std::string(t.error) : std::string(curl_easy_strerror(rc));
  if (t.type == "email") {
    if (rc == CURLE_OK) {
      out.kind = Outcome::Kind::sent;
      out.detail = "accepted by the SMTP server";
    } else if (rc == CURLE_LOGIN_DENIED || rc == CURLE_URL_MALFORMAT || rc == CURLE_USE_SSL_FAILED ||
               (out.status >= 500 && out.status < 600)) {
      out.kind = Outcome::Kind::failed;
      out.detail = "SMTP: " + err;
    } else {
      out.kind = Outcome::Kind::retry;
      out.detail = "SMTP: " + err;
    }
    return out;
  }
  if (rc != CURLE_OK) {
    out.kind = rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? Outcome::Kind::failed
                                                                             : Outcome::Kind::retry;
    out.detail = err;
    return out;
  }
  if (out.status >= 200 && out.status < 300) {
    out.kind = Outcome::Kind::sent;
    out.detail = "HTTP " + std::to_string(out.status);
    return out;
  }
  out.detail = "HTTP " + std::to_string(out.status) + (t.response.empty() ? "" : ": " + reply_text(t.response));
  const bool transient = out.status == 408 || out.status == 429 || out.status >= 500;
  out.kind = transient ? Outcome::Kind::retry : Outcome::Kind::failed;
  if (out.status == 429 || out.status == 503) out.retry_after = t.retry_after;
  return out;
}

}  // namespace peregrine::delivery::detail
