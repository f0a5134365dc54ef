import NIOCore
import Testing

@testable import WardenBroker

/// The sliding one-second window behind `message-rate` conditions.
struct PublishRateTests {
    private func at(_ seconds: Double) -> NIODeadline {
        .uptimeNanoseconds(UInt64(seconds * 1_000_000_000))
    }

    @Test func countsTheLastSecondWeightingThePreviousOne() {
        var rate = PublishRate()
        for index in 0..<10 { _ = rate.count(at: at(100 + Double(index) / 100)) }
        // Ten in second 100; at 101.5 half of second 100 is still in the window.
        #expect(rate.count(at: at(101.5)) == 6)
        // A quiet second in between forgets everything before it.
        #expect(rate.count(at: at(103.2)) == 1)
    }
}
