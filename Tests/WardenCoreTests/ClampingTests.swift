import Foundation
import Testing
import WardenCore

/// Doubles from outside become integers without trapping.
struct ClampingTests {
    @Test(arguments: [
        (1.9, Int64(1)), (-1.9, -1), (.nan, 0), (.infinity, .max), (-.infinity, .min), (1e300, .max),
        (-1e300, .min), (9.2e18, 9_200_000_000_000_000_000), (Double(Int64.max), .max),
    ])
    func doublesClampToInt64(_ value: Double, _ expected: Int64) {
        #expect(Int64(clamping: value) == expected)
    }

    @Test func unsignedClampsBelowZeroToZero() {
        #expect(UInt64(clamping: -5.0) == 0)
        #expect(UInt16(clamping: 70_000.0) == .max)
        #expect(UInt64(clamping: Double(UInt64.max)) == .max)
    }

    @Test func datesBeyondAnyCalendarStillHaveMilliseconds() {
        #expect(Date(timeIntervalSince1970: 1e300).unixMilliseconds == .max)
        #expect(Date(timeIntervalSince1970: -1e300).unixSeconds == 0)
        #expect(Date(timeIntervalSince1970: 1.5).unixMilliseconds == 1500)
    }
}
