#include "support/prometheus_text.hpp"

#include <cstdlib>

namespace peregrine::test {

namespace {
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}
}  // namespace

std::optional<double> metric_value(std::string_view text, std::string_view name,
                                   const LabelMatch& labels) {
  std::optional<double> sum;
  for (auto line : lines_of(text)) {
    if (line.empty() || line.front() == '#' || !line.starts_with(name)) continue;
    std::string_view rest = line.substr(name.size());
    std::string_view label_text;
    if (!rest.empty() && rest.front() == '{') {
      const auto close = rest.find('}');
      if (close == std::string_view::npos) continue;
      label_text = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
    }
    if (rest.empty() || rest.front() != ' ') continue;  // another family with this prefix
    bool all = true;
    for (const auto& [k, v] : labels)
      all = all && label_text.find(k + "=\"" + v + "\"") != std::string_view::npos;
    if (!all) continue;
    const std::string value(rest.substr(1, rest.find(' ', 1) - 1));
    sum = sum.value_or(0) + std::strtod(value.c_str(), nullptr);
  }
  return sum;
}

bool has_metric(std::string_view text, std::string_view name) {
  const std::string n(name);
  for (const std::string& candidate : {n, n + "_bucket", n + "_count", n + "_sum"}) {
    if (metric_value(text, candidate).has_value()) return true;
  }
  for (auto line : lines_of(text)) {
    if (line.starts_with("# TYPE " + n + " ")) return true;
  }
  return false;
}

}  // namespace peregrine::test
