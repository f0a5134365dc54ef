import ArgumentParser

/// Bounds on the scenarios' numeric options, checked before anything connects (exit 64 with the reason),
/// so that no option reaches arithmetic or a conversion that could trap.
enum OptionBounds {
    static func check(_ value: Int, _ range: ClosedRange<Int>, _ name: String) throws {
        guard range.contains(value) else {
            throw ValidationError("--\(name) is \(range.lowerBound) to \(range.upperBound).")
        }
    }

    /// A rate: finite, 0 (unpaced) up to `maximum` per second.
    static func check(rate: Double, maximum: Int = 10_000_000) throws {
        guard rate.isFinite, (0...Double(maximum)).contains(rate) else {
            throw ValidationError("--rate is 0 (unpaced) to \(maximum) per second.")
        }
    }

    /// The options every load scenario shares.
    static func check(duration: Int, warmUp: Int, window: Int, payload: Int, qos: ClosedRange<Int>, _ given: Int)
        throws
    {
        try check(duration, 1...86_400, "duration")
        try check(warmUp, 0...3600, "warm-up")
        try check(window, 1...65_535, "window")
        try check(payload, 8...16_777_216, "payload")
        try check(given, qos, "qos")
    }
}
