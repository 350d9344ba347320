#include "support/mqtt_listener.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include <mqtt/async_client.h>

#include "support/test_env.hpp"

namespace peregrine::test {

struct MqttListener::Impl {
  Impl(const std::string& url) : client(url, "it-listen-" + random_hex(8)) {}
  mqtt::async_client client;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::vector<MqttMessage> got;
};

MqttListener::MqttListener(const std::string& url, const std::string& filter)
    : impl_(std::make_unique<Impl>(url)) {
  Impl& s = *impl_;
  s.client.set_message_callback([&s](mqtt::const_message_ptr m) {
    {
      std::lock_guard lk(s.mu);
      s.got.push_back({m->get_topic(), m->get_payload_str()});
    }
    s.cv.notify_all();
  });
  try {
    mqtt::connect_options opts;
    opts.set_clean_session(true);
    if (!s.client.connect(opts)->wait_for(std::chrono::seconds(20)))
      throw std::runtime_error("mqtt connect timed out");
    if (!s.client.subscribe(filter, 1)->wait_for(std::chrono::seconds(20)))
      throw std::runtime_error("mqtt subscribe timed out");
  } catch (const mqtt::exception& e) {
    throw std::runtime_error(std::string("mqtt listener: ") + e.what());
  }
}

MqttListener::~MqttListener() {
  try {
    if (impl_->client.is_connected()) impl_->client.disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
    // The broker may be gone at the end of a test.
  }
  impl_->client.disable_callbacks();
}

std::vector<MqttMessage> MqttListener::messages() const {
  std::lock_guard lk(impl_->mu);
  return impl_->got;
}

std::optional<MqttMessage> MqttListener::wait_for(const std::function<bool(const MqttMessage&)>& pred,
                                                  std::chrono::milliseconds timeout, std::size_t from) const {
  std::unique_lock lk(impl_->mu);
  std::optional<MqttMessage> found;
  impl_->cv.wait_for(lk, timeout, [&] {
    for (std::size_t i = from; i < impl_->got.size(); ++i) {
      if (pred(impl_->got[i])) {
        found = impl_->got[i];
        return true;
      }
    }
    return false;
  });
  return found;
}

std::size_t MqttListener::count(const std::function<bool(const MqttMessage&)>& pred) const {
  std::lock_guard lk(impl_->mu);
  std::size_t n = 0;
  for (const auto& m : impl_->got) n += pred(m) ? 1 : 0;
  return n;
}

}  // namespace peregrine::test
