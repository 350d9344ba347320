#pragma once
/// Reads values out of a Prometheus text exposition (GET /metrics). Pure.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peregrine::test {

using LabelMatch = std::vector<std::pair<std::string, std::string>>;

/// Sum of every sample of metric `name` whose labels include all of `labels`;
/// nullopt when there is no such sample.
std::optional<double> metric_value(std::string_view text, std::string_view name,
                                   const LabelMatch& labels = {});

/// Whether the exposition mentions family `name` (a sample, or its # TYPE line,
/// or a histogram's `_bucket`/`_count`/`_sum` sample).
bool has_metric(std::string_view text, std::string_view name);

}  // namespace peregrine::test
