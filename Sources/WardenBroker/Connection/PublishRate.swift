import NIOCore

/// A connection's PUBLISHes per second, for `message-rate` conditions: a sliding one-second window estimated
/// from two whole-second counts (the previous second's, weighted by how much of it the window still covers,
/// and the current one's). Two integers per connection, no timer.
struct PublishRate {
    private var second: UInt64 = 0
    private var current: Double = 0
    private var previous: Double = 0

    /// Counts one PUBLISH at `now` and returns the rate with it.
    mutating func count(at now: NIODeadline) -> Double {
        let nanoseconds = UInt64(clamping: now.uptimeNanoseconds)
        let (nowSecond, into) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        if nowSecond != second {
            previous = nowSecond == second &+ 1 ? current : 0
            current = 0
            second = nowSecond
        }
        current += 1
        // total: a remainder below 10^9 as a Double is exact.
        let covered = 1 - Double(into) / 1_000_000_000
        return previous * covered + current
    }
}
