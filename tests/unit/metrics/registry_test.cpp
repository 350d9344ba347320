#include <peregrine/metrics/registry.hpp>

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace peregrine::metrics {
namespace {

// The rendered exposition, parsed back: what a Prometheus scraper would see.
struct Scrape {
  std::map<std::string, std::string> help;  // family -> help text (escaped form)
  std::map<std::string, std::string> type;  // family -> type
  std::map<std::string, double> samples;    // `name{labels}` -> value
  std::vector<std::string> order;           // families in order of # TYPE lines
};

Scrape parse(const std::string& text) {
  Scrape s;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "blank line in exposition";
    if (line.starts_with("# HELP ")) {
      const auto rest = line.substr(7);
      const auto sp = rest.find(' ');
      s.help[rest.substr(0, sp)] = rest.substr(sp + 1);
    } else if (line.starts_with("# TYPE ")) {
      const auto rest = line.substr(7);
      const auto sp = rest.find(' ');
      s.type[rest.substr(0, sp)] = rest.substr(sp + 1);
      s.order.push_back(rest.substr(0, sp));
    } else {
      const auto sp = line.rfind(' ');
      EXPECT_NE(sp, std::string::npos) << line;
      const std::string value = line.substr(sp + 1);
      double v = value == "+Inf" ? INFINITY : std::strtod(value.c_str(), nullptr);
      EXPECT_TRUE(s.samples.emplace(line.substr(0, sp), v).second) << "duplicate: " << line;
    }
  }
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  return s;
}

TEST(Registry, CounterRendersWithHelpAndType) {
  Registry r;
  auto& c = r.counter("peregrine_ingest_messages_total", "Messages received.");
  c.inc();
  c.inc(4);
  const auto s = parse(r.render());
  EXPECT_EQ(s.type.at("peregrine_ingest_messages_total"), "counter");
  EXPECT_EQ(s.help.at("peregrine_ingest_messages_total"), "Messages received.");
  EXPECT_EQ(s.samples.at("peregrine_ingest_messages_total"), 5);
}

TEST(Registry, SameNameAndLabelsIsSameObject) {
  Registry r;
  auto& a = r.counter("x_total", "h", {{"reason", "a"}});
  auto& b = r.counter("x_total", "h", {{"reason", "a"}});
  auto& c = r.counter("x_total", "h", {{"reason", "b"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_EQ(&r.gauge("g", "h"), &r.gauge("g", "h"));
  EXPECT_EQ(&r.histogram("h", "h", {1, 2}), &r.histogram("h", "h", {1, 2}));
}

TEST(Registry, KindMismatchThrows) {
  Registry r;
  r.counter("m_total", "h");
  EXPECT_THROW(r.gauge("m_total", "h"), std::logic_error);
  EXPECT_THROW(r.histogram("m_total", "h", {1}), std::logic_error);
  EXPECT_THROW(r.gauge_fn("m_total", "h", [] { return 1.0; }), std::logic_error);
}

TEST(Registry, InvalidNamesThrow) {
  Registry r;
  EXPECT_THROW(r.counter("1bad", "h"), std::logic_error);
  EXPECT_THROW(r.counter("bad-name", "h"), std::logic_error);
  EXPECT_THROW(r.counter("ok_total", "h", {{"bad label", "v"}}), std::logic_error);
  EXPECT_THROW(r.histogram("hh", "h", {1}, {{"le", "1"}}), std::logic_error);
  EXPECT_THROW(r.histogram("hh2", "h", {2, 1}), std::logic_error);
}

TEST(Registry, LabelledFamilyAndEscaping) {
  Registry r;
  r.counter("peregrine_ingest_rejected_total", "Rejected.", {{"reason", "malformed_json"}}).inc(2);
  r.counter("peregrine_ingest_rejected_total", "Rejected.", {{"reason", "a\\b\"c\nd"}}).inc();
  r.gauge("temp", "Line one\nback\\slash", {{"a", "1"}, {"b", "2"}}).set(-1.5);
  const auto text = r.render();
  const auto s = parse(text);
  EXPECT_EQ(s.samples.at("peregrine_ingest_rejected_total{reason=\"malformed_json\"}"), 2);
  EXPECT_EQ(s.samples.at(R"(peregrine_ingest_rejected_total{reason="a\\b\"c\nd"})"), 1);
  EXPECT_EQ(s.samples.at("temp{a=\"1\",b=\"2\"}"), -1.5);
  EXPECT_EQ(s.help.at("temp"), R"(Line one\nback\\slash)");
  EXPECT_EQ(text.find("# HELP peregrine_ingest_rejected_total"),
            text.rfind("# HELP peregrine_ingest_rejected_total"));
}

TEST(Registry, FamiliesSortedByName) {
  Registry r;
  r.gauge("zeta", "z");
  r.counter("alpha_total", "a");
  r.histogram("mid", "m", {1});
  const auto s = parse(r.render());
  EXPECT_EQ(s.order, (std::vector<std::string>{"alpha_total", "mid", "zeta"}));
}

TEST(Registry, GaugeSetAddAndFn) {
  Registry r;
  auto& g = r.gauge("peregrine_ws_connections", "Open sessions.");
  g.set(3);
  g.add(2);
  g.add(-1);
  double depth = 42;
  r.gauge_fn("peregrine_storage_queue_depth", "Rows queued.", [&] { return depth; });
  auto s = parse(r.render());
  EXPECT_EQ(s.samples.at("peregrine_ws_connections"), 4);
  EXPECT_EQ(s.samples.at("peregrine_storage_queue_depth"), 42);
  EXPECT_EQ(s.type.at("peregrine_storage_queue_depth"), "gauge");
  depth = 7;
  s = parse(r.render());
  EXPECT_EQ(s.samples.at("peregrine_storage_queue_depth"), 7);
}

TEST(Registry, HistogramCumulativeBuckets) {
  Registry r;
  auto& h = r.histogram("peregrine_storage_batch_seconds", "Batch time.", {0.01, 0.1, 1},
                        {{"table", "readings"}});
  for (double v : {0.005, 0.01, 0.05, 0.5, 0.5, 3.0}) h.observe(v);
  const auto s = parse(r.render());
  const std::string n = "peregrine_storage_batch_seconds";
  EXPECT_EQ(s.type.at(n), "histogram");
  EXPECT_EQ(s.samples.at(n + "_bucket{table=\"readings\",le=\"0.01\"}"), 2);  // le is inclusive
  EXPECT_EQ(s.samples.at(n + "_bucket{table=\"readings\",le=\"0.1\"}"), 3);
  EXPECT_EQ(s.samples.at(n + "_bucket{table=\"readings\",le=\"1\"}"), 5);
  EXPECT_EQ(s.samples.at(n + "_bucket{table=\"readings\",le=\"+Inf\"}"), 6);
  EXPECT_EQ(s.samples.at(n + "_count{table=\"readings\"}"), 6);
  EXPECT_NEAR(s.samples.at(n + "_sum{table=\"readings\"}"), 4.065, 1e-9);
  EXPECT_EQ(h.count(), 6u);
}

TEST(Registry, HistogramWithoutLabels) {
  Registry r;
  r.histogram("lat", "h", {1}).observe(2);
  const auto s = parse(r.render());
  EXPECT_EQ(s.samples.at("lat_bucket{le=\"1\"}"), 0);
  EXPECT_EQ(s.samples.at("lat_bucket{le=\"+Inf\"}"), 1);
  EXPECT_EQ(s.samples.at("lat_sum"), 2);
  EXPECT_EQ(s.samples.at("lat_count"), 1);
}

TEST(Histogram, Quantile) {
  Histogram h({1, 2, 4});
  EXPECT_EQ(h.quantile(0.5), 0);  // empty
  for (int i = 0; i < 50; ++i) h.observe(0.5);
  for (int i = 0; i < 50; ++i) h.observe(1.5);
  EXPECT_NEAR(h.quantile(0.5), 1.0, 1e-9);
  EXPECT_NEAR(h.quantile(0.75), 1.5, 1e-9);
  EXPECT_NEAR(h.quantile(0.25), 0.5, 1e-9);
  h.observe(100);
  EXPECT_EQ(h.quantile(1.0), 4);  // +Inf bucket reports the last finite bound
}

TEST(Histogram, ExponentialBuckets) {
  EXPECT_EQ(exponential_buckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
  EXPECT_THROW(exponential_buckets(0, 2, 3), std::logic_error);
  EXPECT_THROW(exponential_buckets(1, 1, 3), std::logic_error);
}

TEST(Registry, ConcurrentUpdates) {
  Registry r;
  auto& c = r.counter("c_total", "h");
  auto& g = r.gauge("g", "h");
  auto& h = r.histogram("h", "h", {1});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        g.add(1);
        h.observe(0.5);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(g.value(), 40000);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.bucket(0), 40000u);
}

TEST(ProcessMetrics, Registered) {
  Registry r;
  register_process_metrics(r);
  const auto s = parse(r.render());
  EXPECT_GT(s.samples.at("process_resident_memory_bytes"), 1e5);
  EXPECT_GT(s.samples.at("process_virtual_memory_bytes"), s.samples.at("process_resident_memory_bytes"));
  EXPECT_GE(s.samples.at("process_cpu_seconds_total"), 0);
  EXPECT_EQ(s.type.at("process_cpu_seconds_total"), "counter");
  EXPECT_GT(s.samples.at("process_start_time_seconds"), 1.5e9);
}

}  // namespace
}  // namespace peregrine::metrics
