// peregrine-wsprobe: subscribes to `readings:*` on a Peregrine WebSocket and
// measures publish → frame latency as (frame arrival − the reading's ts). The
// load generator stamps `ts` with its send time in fractional milliseconds, so
// on one machine this is the whole path: broker, Peregrine, fan-out.
//
//   peregrine-wsprobe HOST PORT TOKEN SECONDS
// prints one JSON line: {"frames":N,"p50_ms":…,"p99_ms":…,"max_ms":…}

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/core/clock.hpp>
#include <peregrine/core/time_format.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = beast::websocket;

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: peregrine-wsprobe HOST PORT TOKEN SECONDS [BACKDATE_MS]\n");
    return 2;
  }
  // The generator's --backdate: readings stamped that long before they were sent.
  const double backdate_ms = argc == 6 ? std::stod(argv[5]) : 0;
  const std::string host = argv[1], port = argv[2], token = argv[3];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::stoi(argv[4]));
  const peregrine::core::SystemClock clock;
  std::vector<double> lat_ms;
  lat_ms.reserve(1 << 20);
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    ws::stream<beast::tcp_stream> stream(ioc);
    beast::get_lowest_layer(stream).connect(resolver.resolve(host, port));
    stream.handshake(host + ":" + port, "/ws?token=" + token);
    stream.text(true);
    stream.write(asio::buffer(std::string(R"({"op":"subscribe","topics":["readings:*"]})")));
    // Synchronous websocket reads ignore tcp_stream timeouts: read
    // asynchronously and let a timer end the measurement.
    beast::flat_buffer buf;
    asio::steady_timer timer(ioc, deadline);
    timer.async_wait([&](const beast::error_code&) { beast::get_lowest_layer(stream).close(); });
    std::function<void()> read_next = [&] {
      stream.async_read(buf, [&](const beast::error_code& ec, std::size_t) {
        if (ec) {
          timer.cancel();  // deadline reached, or the server went away
          return;
        }
        const peregrine::core::Micros now = clock.now_us();
        const auto frame =
            nlohmann::json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
        buf.consume(buf.size());
        if (frame.is_object() && frame.value("type", "") == "reading") {
          if (const auto ts = peregrine::core::parse_rfc3339(frame.value("ts", "")))
            lat_ms.push_back(static_cast<double>(now - *ts) / 1000.0 - backdate_ms);
        }
        read_next();
      });
    };
    read_next();
    ioc.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peregrine-wsprobe: %s\n", e.what());
    return 1;
  }
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&](double q) {
    return lat_ms.empty() ? 0.0 : lat_ms[static_cast<std::size_t>(q * (lat_ms.size() - 1))];
  };
  std::printf("{\"frames\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n", lat_ms.size(),
              pct(0.50), pct(0.99), lat_ms.empty() ? 0.0 : lat_ms.back());
  return 0;
}
