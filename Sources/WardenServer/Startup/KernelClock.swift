import CWardenClock
import Foundation
import Metrics
import Synchronization
import WardenCore

/// The system clock, which knows whether it is right: the kernel's NTP state (adjtimex), asked at most once a
/// second. `strict` policies trust time conditions only on a synchronised clock (docs/policy.md); with
/// `policy.clock: trusted` the operator vouches for it instead (a container whose host keeps time but whose
/// kernel state says otherwise).
final class KernelClock: WardenClock {
    private let trusted: Bool
    private let checked = Mutex<(at: Date, synchronized: Bool)?>(nil)
    private static let gauge = Gauge(label: "warden_clock_synchronized")

    init(trust: ServerConfiguration.ClockTrust) {
        trusted = trust == .trusted
    }

    func now() -> Date { Date() }

    var isSynchronized: Bool {
        if trusted { return true }
        let now = Date()
        return checked.withLock { checked in
            // Either way: a clock stepped back must not keep an old answer.
            if let checked, abs(now.timeIntervalSince(checked.at)) < 1 { return checked.synchronized }
            // Where the system cannot tell (-1), the clock is not known to be right.
            let synchronized = warden_clock_is_synchronized() == 1
            checked = (now, synchronized)
            Self.gauge.record(synchronized ? 1 : 0)
            return synchronized
        }
    }
}
