public import Foundation

/// A `time` condition (docs/policy.md): a daily window of local time in a time zone, on some weekdays, and
/// whether the request must fall within it or outside it.
///
/// Local time is worked out from the zone's offset at that instant and integer arithmetic, not a calendar:
/// it runs on the packet path for every statement that names it.
public struct TimeWindow: Sendable, Hashable, CustomStringConvertible {
    /// Seconds after local midnight: the window opens at `start` and closes at `end`; a window whose end is not
    /// after its start crosses midnight (`22:00-06:00`).
    public let start: Int
    public let end: Int
    public let zone: TimeZone
    /// ISO weekdays the window is open on, Monday 1 … Sunday 7; nil: every day. For a window that crosses
    /// midnight, the day is the one on which the moment falls.
    public let weekdays: Set<Int>?
    /// True for `within`, false for `outside`.
    public let isWithin: Bool
    public let description: String

    public static let weekdayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// Reads `08:00-18:00` (or with seconds, `08:00:30-18:00`), a zone identifier and weekday names.
    public init(window text: String, within: Bool, zone: String?, weekdays: [String]?) throws(PolicyError) {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = Self.seconds(bounds[0]), let end = Self.seconds(bounds[1]), start != end
        else {
            throw PolicyError("a window is HH:MM-HH:MM (or HH:MM:SS), two different times of day, not '\(text)'")
        }
        guard let zone = TimeZone(identifier: zone ?? "UTC") else {
            throw PolicyError("'\(zone ?? "")' is not a time zone identifier (for example Europe/Berlin)")
        }
        var days: Set<Int>?
        if let weekdays {
            var set: Set<Int> = []
            for name in weekdays {
                guard let index = Self.weekdayNames.firstIndex(of: name.lowercased()) else {
                    throw PolicyError("'\(name)' is not a weekday (\(Self.weekdayNames.joined(separator: ", ")))")
                }
                set.insert(index + 1)
            }
            guard !set.isEmpty else { throw PolicyError("at least one weekday") }
            days = set
        }
        self.start = start
        self.end = end
        self.zone = zone
        self.weekdays = days
        self.isWithin = within
        let on = days.map { " on " + $0.sorted().map { Self.weekdayNames[$0 - 1] }.joined(separator: ",") } ?? ""
        description = "\(within ? "within" : "outside") \(text) \(zone.identifier)\(on)"
    }

    /// Whether `date` satisfies the condition; a moment too far from 1970 to compute (a simulation may name one)
    /// satisfies none.
    public func holds(at date: Date) -> Bool {
        // Floor keeps pre-1970 moments right; the bound leaves room for the zone's offset.
        guard let seconds = Int64(exactly: date.timeIntervalSince1970.rounded(.down)), seconds.magnitude < 1 << 60
        else { return false }
        // total: a zone's offset, at most a day in seconds.
        let local = seconds + Int64(zone.secondsFromGMT(for: date))
        let (days, second) = local.quotientAndRemainder(dividingBy: 86_400)
        // total: a remainder of a division by 86,400, made positive.
        let secondOfDay = Int(second < 0 ? second + 86_400 : second)
        let dayNumber = second < 0 ? days - 1 : days
        // 1970-01-01 was a Thursday (ISO 4).
        // total: a remainder of a division by 7.
        let weekday = Int(((dayNumber % 7) + 7 + 3) % 7) + 1
        let inWindow =
            start < end
            ? (start..<end).contains(secondOfDay) : secondOfDay >= start || secondOfDay < end
        let open = inWindow && (weekdays?.contains(weekday) ?? true)
        return open == isWithin
    }

    private static func seconds(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count),
            parts.allSatisfy({ $0.count == 2 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
            // total: parses text: nil unless two ASCII digits.
            let hour = Int(parts[0]), let minute = Int(parts[1]), (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        // total: parses text: nil unless two ASCII digits.
        let second = parts.count == 3 ? Int(parts[2]) : 0
        guard let second, (0..<60).contains(second) else { return nil }
        return hour * 3_600 + minute * 60 + second
    }
}
