import Foundation
import Testing
import WardenCore

/// The hand-written ISO 8601 formatter.
struct UTCTimestampTests {
    // Foundation truncates through a Double (999 ms prints .998), so milliseconds are checked against literals.
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (999, "1970-01-01T00:00:00.999Z"),
        (86_399_999, "1970-01-01T23:59:59.999Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_709_164_800_123, "2024-02-29T00:00:00.123Z"), (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        (-1, "1969-12-31T23:59:59.999Z"), (-86_400_001, "1969-12-30T23:59:59.999Z"),
    ])
    func formats(milliseconds: Int64, expected: String) {
        #expect(UTCTimestamp.string(milliseconds: milliseconds) == expected)
    }

    // From 1696: Foundation switches to the Julian calendar before 1582.
    @Test func everyThirtySeventhDayFrom1696To2370MatchesFoundation() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!)
        for day in stride(from: Int64(-100_000), to: 146_097, by: 37) {
            let milliseconds = day * 86_400_000 + 45_296_000
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(UTCTimestamp.string(milliseconds: milliseconds) == date.formatted(style))
        }
    }
}
