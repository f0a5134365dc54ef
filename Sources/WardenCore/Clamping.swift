public import Foundation

extension FixedWidthInteger {
    /// `value` rounded toward zero, or the nearest bound when out of range; NaN gives 0. `Self(value)` traps
    /// on all of those, and a Double read from a file, a peer or a query may be any of them.
    public init(clamping value: Double) {
        if value.isNaN {
            self = 0
        } else if value <= Double(Self.min) {
            self = .min
        } else if value >= Double(Self.max) {
            self = .max
        } else {
            // total: strictly between the bounds, checked above.
            self.init(value)
        }
    }
}

extension Date {
    /// Whole milliseconds since 1970 (UTC), clamped to `Int64`: how stored records are stamped.
    public var unixMilliseconds: Int64 { Int64(clamping: (timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Whole microseconds since 1970 (UTC), clamped (`SequenceNumbers` on several nodes).
    public var unixMicroseconds: Int64 { Int64(clamping: (timeIntervalSince1970 * 1_000_000).rounded(.down)) }

    /// The moment `milliseconds` after 1970 (UTC), as records are stamped.
    public init(unixMilliseconds milliseconds: Int64) {
        // total: any Int64 is a Double, within a millisecond for the dates records carry.
        self.init(timeIntervalSince1970: Double(milliseconds) / 1_000)
    }

    /// Whole seconds since 1970 (UTC), 0 for earlier dates: what SAS expiry compares with.
    public var unixSeconds: UInt64 { UInt64(clamping: timeIntervalSince1970.rounded(.down)) }
}
