#include <peregrine/metrics/registry.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string_view>

namespace peregrine::metrics {
namespace {

bool name_char(char c, bool first, bool allow_colon) noexcept {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (allow_colon && c == ':') || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view n, bool allow_colon) noexcept {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!name_char(n[i], i == 0, allow_colon)) return false;
  }
  return true;
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
  }
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `a="x",b="y"`: the family's map key and, verbatim, the text inside `{}`.
std::string label_key(const Labels& labels, bool histogram) {
  std::string key;
  for (const auto& [name, value] : labels) {
    if (!valid_name(name, false) || name.starts_with("__") || (histogram && name == "le")) {
      throw std::logic_error("invalid metric label name: " + name);
    }
    if (!key.empty()) key += ',';
    key += name;
    key += "=\"";
    append_escaped(key, value, true);
    key += '"';
  }
  return key;
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::string& key, std::string_view extra_label) {
  out += name;
  out += suffix;
  if (!key.empty() || !extra_label.empty()) {
    out += '{';
    out += key;
    if (!key.empty() && !extra_label.empty()) out += ',';
    out += extra_label;
    out += '}';
  }
  out += ' ';
}

void render_histogram(std::string& out, const std::string& name, const std::string& key,
                      const Histogram& h) {
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.bucket(i);
    le = "le=\"";
    append_number(le, i < h.bounds().size() ? h.bounds()[i] : INFINITY);
    le += '"';
    append_sample(out, name, "_bucket", key, le);
    append_number(out, cumulative);
    out += '\n';
  }
  append_sample(out, name, "_sum", key, {});
  append_number(out, h.sum());
  out += '\n';
  // _count equals the +Inf bucket, as the format requires, even mid-update.
  append_sample(out, name, "_count", key, {});
  append_number(out, cumulative);
  out += '\n';
}

}  // namespace

Registry::Family& Registry::family(const std::string& name, const std::string& help, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    if (!valid_name(name, true)) throw std::logic_error("invalid metric name: " + name);
    it = families_.emplace(name, Family{kind, help, {}, {}, {}, {}}).first;
  } else if (it->second.kind != kind) {
    throw std::logic_error("metric " + name + " already registered as another kind");
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const Labels& labels) {
  std::string key = label_key(labels, false);
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Kind::counter).counters[std::move(key)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::string key = label_key(labels, false);
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Kind::gauge).gauges[std::move(key)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds, const Labels& labels) {
  std::string key = label_key(labels, true);
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Kind::histogram).histograms[std::move(key)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

void Registry::gauge_fn(const std::string& name, const std::string& help,
                        std::function<double()> fn) {
  std::lock_guard lock(mu_);
  family(name, help, Kind::gauge).fn = std::move(fn);
}

void Registry::counter_fn(const std::string& name, const std::string& help,
                          std::function<double()> fn) {
  std::lock_guard lock(mu_);
  family(name, help, Kind::counter).fn = std::move(fn);
}

std::string Registry::render() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += name;
    out += f.kind == Kind::counter ? " counter\n" : f.kind == Kind::gauge ? " gauge\n" : " histogram\n";
    if (f.fn) {
      append_sample(out, name, {}, {}, {});
      append_number(out, f.fn());
      out += '\n';
    }
    for (const auto& [key, c] : f.counters) {
      append_sample(out, name, {}, key, {});
      append_number(out, c->value());
      out += '\n';
    }
    for (const auto& [key, g] : f.gauges) {
      append_sample(out, name, {}, key, {});
      append_number(out, g->value());
      out += '\n';
    }
    for (const auto& [key, h] : f.histograms) render_histogram(out, name, key, *h);
  }
  return out;
}

}  // namespace peregrine::metrics
