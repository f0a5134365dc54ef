public import Foundation

/// Where services read the time, so that tests can fix it (STYLE R7.3).
public protocol WardenClock: Sendable {
    /// The current instant.
    func now() -> Date
    /// Whether the clock is known to be synchronised (NTP): `strict` policies trust time conditions only then.
    var isSynchronized: Bool { get }
}

/// The real clock.
public struct SystemClock: WardenClock {
    /// Makes the real clock.
    public init() {}

    public func now() -> Date { Date() }
}

extension WardenClock {
    /// Clocks are trusted unless they say otherwise (test clocks, the plain system clock).
    public var isSynchronized: Bool { true }

    /// Now, in whole milliseconds since 1970 (UTC): how stored messages are stamped.
    public func nowMilliseconds() -> Int64 {
        now().unixMilliseconds
    }
}
