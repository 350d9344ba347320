#pragma once
/// Overall equipment effectiveness as ISO 22400-2 defines it, from a
/// machine's readings: a state metric (running or not) and two monotonic
/// counters (good and total units).
///
///   availability = run time / planned production time
///   performance  = ideal cycle time × total count / run time
///   quality      = good count / total count
///   OEE          = availability × performance × quality
///
/// Planned time comes from shift calendars: each shift is local wall-clock
/// times in an IANA time zone, so a shift across midnight or a DST change is
/// as long as the clocks say (a 22:00–06:00 shift lasts 7 h on the night the
/// clocks go forward). Without shifts, the planned time is the whole range.
///
/// A state sample holds until the next one (a machine may report its state
/// only when it changes); with `max_gap` set, for at most that long, so a
/// machine that went silent stops counting as running. A counter that drops restarted
/// (a reset or a reboot): the units after the drop are its new value, never
/// a negative count. Units are counted in the period of the sample that
/// reports them. Sums are kept, not factors, so a line's OEE is computed
/// from its machines' totals (add Totals), never by averaging factors.
/// Pure; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <peregrine/core/types.hpp>

namespace peregrine::analytics {

struct Sample {
  core::Micros ts = 0;
  double value = 0;
};

/// A stretch of time [from, to).
struct Span {
  core::Micros from = 0, to = 0;
};

/// One entry of a shift calendar, in local wall-clock minutes after midnight.
struct Shift {
  std::int64_t id = 0;
  std::string name;
  int start_min = 0;     ///< 06:00 → 360
  int end_min = 0;       ///< at or before start: the shift ends the next day
  unsigned weekdays = 0; ///< bit d set for ISO weekday d (1 = Monday … 7 = Sunday) of the start day
  std::string tz;        ///< IANA name, e.g. Europe/Berlin
  std::vector<std::pair<int, int>> breaks;  ///< local start, end minutes; within the shift
};

/// `HH:MM` (00:00–23:59, or 24:00 for an end) → minutes after midnight.
std::optional<int> parse_clock(std::string_view s);
std::string format_clock(int minutes);
/// True when `tz` names a zone in the system's tz database.
bool valid_time_zone(const std::string& tz);

/// A time the OEE is reported for: a shift's instance or a calendar day,
/// clipped to the asked range; planned time is `span` minus `breaks`.
struct Period {
  std::string label;        ///< `2026-03-29 Night` or `2026-03-29`
  std::int64_t shift_id = 0;  ///< 0 for a day
  Span span;
  std::vector<Span> breaks;  ///< inside span, sorted, not overlapping
  core::Micros planned() const;
};

/// The instances of `shifts` that overlap [from, to), clipped to it, in
/// start order. Throws std::invalid_argument for a zone that is not known.
std::vector<Period> shift_periods(const std::vector<Shift>& shifts, core::Micros from, core::Micros to);
/// Local calendar days in `tz` over [from, to), clipped (23 or 25 hours on
/// DST days). Throws std::invalid_argument for a zone that is not known.
std::vector<Period> day_periods(const std::string& tz, core::Micros from, core::Micros to);

/// The planned time of `periods` (span minus breaks) as disjoint periods
/// without breaks, in time order: where periods overlap (two shifts of one
/// calendar, the calendars of a machine's several groups) the time counts
/// once. Labels and shift ids are left empty.
std::vector<Period> planned_union(const std::vector<Period>& periods);

/// What a machine did in a period: sums that add across machines.
struct Totals {
  core::Micros planned = 0;   ///< planned production time
  core::Micros run = 0;       ///< running within planned time
  double ideal_s = 0;         ///< ideal cycle time × total count, in seconds
  double total = 0;           ///< units made
  double good = 0;            ///< good units
  Totals& operator+=(const Totals& o);
};

/// The factors of some totals; nullopt where the denominator is zero.
struct Factors {
  std::optional<double> availability, performance, quality, oee;
};
Factors factors(const Totals& t);

struct MachineData {
  std::vector<Sample> state;  ///< oldest first; may start before the range (the state at its start)
  std::vector<Sample> good;   ///< counters, oldest first; a sample before the range is the base
  std::vector<Sample> total;
  double running = 1;         ///< the state value that means "running"
  core::Micros max_gap = 0;   ///< how long a state sample holds without a newer one (0: until the next)
  core::Micros until = 0;     ///< the last sample holds until here (the range's end, or now)
  double ideal_rate_per_hour = 0;  ///< units per hour at the ideal cycle time
};

/// The machine's totals in each period (same order as `periods`).
std::vector<Totals> machine_totals(const MachineData& m, const std::vector<Period>& periods);

/// Units a counter reports in [from, to): positive steps, and after a drop
/// the new value (a reset). Samples before `from` only set the base.
double counter_increase(const std::vector<Sample>& counter, core::Micros from, core::Micros to);

}  // namespace peregrine::analytics
