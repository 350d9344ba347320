// HTTPS, WSS and ssl:// MQTT with a self-signed certificate made by openssl
// for this test: the server answers only over TLS, a WSS client gets the
// readings that Peregrine received from a TLS broker it verified with the CA.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <mqtt/client.h>

#include "auth_fixture.hpp"
#include "support/mosquitto_process.hpp"

namespace peregrine::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using nlohmann::json;
using namespace std::chrono_literals;

// A self-signed certificate for 127.0.0.1 and a TLS Mosquitto using it.
class TlsFixture {
 public:
  TlsFixture() : broker_("/tmp/peregrine-tls-") {
    const std::string gen = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                            "-addext subjectAltName=IP:127.0.0.1 -keyout " + key() + " -out " +
                            cert() + " >" + broker_.dir() + "/openssl.log 2>&1";
    if (std::system(gen.c_str()) != 0) return;
    std::ofstream(broker_.conf_file()) << broker_.base_conf() << "certfile " << cert()
                                       << "\nkeyfile " << key() << "\nallow_anonymous true\n";
    ok_ = broker_.start();
  }
  bool ok() const { return ok_; }
  std::string cert() const { return broker_.dir() + "/cert.pem"; }
  std::string key() const { return broker_.dir() + "/key.pem"; }
  std::string mqtt_url() const { return "ssl://127.0.0.1:" + std::to_string(broker_.port()); }

 private:
  MosquittoProcess broker_;
  bool ok_ = false;
};

// A client context that trusts only the test's certificate.
std::unique_ptr<asio::ssl::context> client_context(const std::string& ca) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->load_verify_file(ca);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

HttpResponse https(int port, const std::string& ca, const std::string& method,
                   const std::string& target, const std::string& body = "",
                   const std::string& token = "") {
  HttpResponse out;
  try {
    asio::io_context ioc;
    auto ctx = client_context(ca);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, *ctx);
    beast::get_lowest_layer(stream).expires_after(5s);
    beast::get_lowest_layer(stream).connect({asio::ip::make_address("127.0.0.1"),
                                             static_cast<unsigned short>(port)});
    stream.handshake(asio::ssl::stream_base::client);
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

class TlsTest : public AuthTest {};

TEST_F(TlsTest, HttpsWssAndMqttOverTls) {
  TlsFixture tls;
  ASSERT_TRUE(tls.ok()) << "openssl or mosquitto failed";
  server_ = std::make_unique<PeregrineProcess>(ProcessOptions{
      db_->url(), redis_url_, tls.mqtt_url(), client_id_,
      {{"PEREGRINE_ADMIN_EMAIL", kRootEmail}, {"PEREGRINE_ADMIN_PASSWORD", kRootPassword},
       {"PEREGRINE_JWT_SECRET", kSecret}, {"PEREGRINE_TLS_CERT", tls.cert()},
       {"PEREGRINE_TLS_KEY", tls.key()}, {"PEREGRINE_MQTT_CA_FILE", tls.cert()}},
      log_path_});
  const int port = server_->http_port();
  // /readyz is 200 only once MQTT is connected: over TLS, verified with the CA.
  ASSERT_TRUE(eventually([&] { return https(port, tls.cert(), "GET", "/readyz").status == 200; },
                         20s))
      << https(port, tls.cert(), "GET", "/readyz").body;
  EXPECT_EQ(server_->http().get("/livez", 2s).status, 0) << "plain HTTP must not be served";

  const auto login = https(port, tls.cert(), "POST", "/api/v1/auth/login",
                           json{{"email", kRootEmail}, {"password", kRootPassword}}.dump());
  ASSERT_EQ(login.status, 200) << login.body << login.error;
  const std::string token = login.json()["access_token"];
  EXPECT_EQ(https(port, tls.cert(), "GET", "/api/v1/auth/me", "", token).status, 200);

  asio::io_context ioc;
  auto ctx = client_context(tls.cert());
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, *ctx);
  beast::get_lowest_layer(ws).expires_after(10s);
  beast::get_lowest_layer(ws).connect({asio::ip::make_address("127.0.0.1"),
                                       static_cast<unsigned short>(port)});
  ws.next_layer().handshake(asio::ssl::stream_base::client);
  ws.handshake("127.0.0.1", "/ws?token=" + token);
  const std::string dev = device("tls");
  ws.write(asio::buffer(json{{"op", "subscribe"}, {"topics", {"readings:" + dev}}}.dump()));

  mqtt::client pub(tls.mqtt_url(), "itest-tls-" + random_hex(4));
  auto ssl = mqtt::ssl_options_builder().trust_store(tls.cert()).enable_server_cert_auth(true).finalize();
  pub.connect(mqtt::connect_options_builder().clean_session(true).ssl(ssl).finalize());
  beast::flat_buffer buffer;
  auto next_frame = [&]() -> json {
    beast::error_code ec;
    ws.read(buffer, ec);
    if (ec) return json();
    auto frame = json::parse(beast::buffers_to_string(buffer.data()));
    buffer.consume(buffer.size());
    return frame;
  };
  // The pong proves the subscription is in place.
  ws.write(asio::buffer(json{{"op", "ping"}}.dump()));
  for (json f = next_frame(); f.is_object() && f.value("type", "") != "pong";) f = next_frame();
  pub.publish(mqtt::make_message(telemetry_topic(dev),
                                 telemetry(now_ms(), -1, {{"co", 4.5}}).dump(), 1, false));
  bool got = false;
  beast::get_lowest_layer(ws).expires_after(10s);
  for (json f = next_frame(); f.is_object() && !got; f = got ? json() : next_frame()) {
    got = f.value("type", "") == "reading" && f.value("device", "") == dev;
  }
  EXPECT_TRUE(got) << "no reading frame over WSS";
  pub.disconnect();
}

}  // namespace
}  // namespace peregrine::test
