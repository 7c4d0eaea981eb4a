import Foundation

/// Day arithmetic in the business time zone. "Within 30 days" and "days since the last order"
/// count calendar days where the business is, not 24-hour periods from now: an order placed
/// at 23:50 yesterday is one day old at 00:10 today.
public struct BusinessCalendar: Sendable, Hashable {
    public var timeZone: TimeZone

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    /// Days since 1970-01-01 of the local date of `instant` (unix seconds).
    public func dayNumber(_ instant: Int64) -> Int64 {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
        let local = instant + offset
        return local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
    }

    /// Whole calendar days from `earlier` to `later` (0 on the same local date).
    public func daysBetween(_ earlier: Int64, _ later: Int64) -> Int {
        Int(dayNumber(later) - dayNumber(earlier))
    }

    /// The unix second at which local day `day` begins.
    public func startOfDay(_ day: Int64) -> Int64 {
        // The offset at local midnight can differ from the offset at noon on a DST day; probe
        // at the guess and correct once.
        let guess = day * 86_400 - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(day * 86_400))))
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(guess))))
        return day * 86_400 - offset
    }

    /// The first instant inside a window of `seconds` ending at `asOf`. Windows in whole days
    /// (and weeks) start at local midnight, so `30d` is today and the 29 days before it; shorter
    /// windows (`12h`) are exact.
    public func windowStart(seconds: Int64, asOf: Int64) -> Int64 {
        guard seconds % 86_400 == 0 else { return asOf - seconds }
        let days = seconds / 86_400
        return startOfDay(dayNumber(asOf) - days + 1)
    }
}
