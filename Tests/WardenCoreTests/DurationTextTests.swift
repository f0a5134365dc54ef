import Testing
import WardenCore

/// The forms people type, and the values that once reached trapping arithmetic downstream.
struct DurationTextTests {
    @Test(arguments: [("90", 90.0), ("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604_800), ("0", 0), ("1.5h", 5400)])
    func readsEachForm(_ text: String, _ seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: [
        "", "-1", "-5m", "1y", "m", "abc", "inf", "-inf", "nan", "infd", "1e300", "1e300d", "36525.1d",
        "1e16s", "0x1p70",
    ])
    func refusesWhatIsNotAFiniteBoundedDuration(_ text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test func acceptsUpToAHundredYears() {
        #expect(DurationText.seconds("36525d") == DurationText.maximumSeconds)
    }
}
