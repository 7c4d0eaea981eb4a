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

extension BusinessCalendar {
    /// Minutes after local midnight of `instant`.
    public func minuteOfDay(_ instant: Int64) -> Int {
        Int((instant - startOfDay(dayNumber(instant))) / 60)
    }

    /// The first instant after `instant` (or `instant` itself) at local `minuteOfDay`.
    public func next(minuteOfDay minute: Int, after instant: Int64) -> Int64 {
        let today = startOfDay(dayNumber(instant)) + Int64(minute) * 60
        return today >= instant ? today : startOfDay(dayNumber(instant) + 1) + Int64(minute) * 60
    }

    /// The local calendar day, ISO week (from Monday) or month that contains `instant`.
    public func period(of window: FrequencyCap.Window, containing instant: Int64) -> Range<Int64> {
        let day = dayNumber(instant)
        switch window {
        case .calendarWeek:
            // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
            let weekday = ((day + 3) % 7 + 7) % 7
            return startOfDay(day - weekday)..<startOfDay(day - weekday + 7)
        case .calendarMonth:
            let (first, days) = month(containing: day)
            return startOfDay(first)..<startOfDay(first + Int64(days))
        case .calendarDay, .rollingDays:
            return startOfDay(day)..<startOfDay(day + 1)
        }
    }

    public func daysInMonth(containing instant: Int64) -> Int {
        month(containing: dayNumber(instant)).days
    }

    /// The first day number and length of the month of day number `day`.
    private func month(containing day: Int64) -> (first: Int64, days: Int) {
        // Civil-from-days (proleptic Gregorian), then back to the month's first day.
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let dayOfMonth = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths: [Int] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (day - dayOfMonth + 1, lengths[Int(month) - 1])
    }
}
