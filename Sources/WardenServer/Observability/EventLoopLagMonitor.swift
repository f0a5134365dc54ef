import Metrics
import NIOCore
import ServiceLifecycle

/// Measures how late each event loop runs a task scheduled for a known moment: the time a packet or request
/// waits before its loop even looks at it. Every loop runs a probe every `interval`; how late it ran goes to
/// the histogram `warden_event_loop_lag_seconds` (one series for all loops). A loop blocked by a slow handler
/// shows here before it shows as timeouts.
struct EventLoopLagMonitor: Service {
    /// The histogram's buckets: a healthy loop answers well under a millisecond.
    static let buckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1),
    ]
    static let label = "warden_event_loop_lag_seconds"

    let group: any EventLoopGroup
    var interval: TimeAmount = .milliseconds(100)
    var lag = Timer(label: label)

    func run() async throws {
        let lag = self.lag
        let interval = self.interval
        let probes = group.makeIterator().map { loop in
            // With a fixed delay the next probe is due `interval` after this one ran, so each measures only
            // its own wait. The probe runs on `loop` only, so its own box needs no lock.
            let due = NIOLoopBoundBox.makeBoxSendingValue(NIODeadline.now() + interval, eventLoop: loop)
            return loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                let now = NIODeadline.now()
                lag.recordNanoseconds(max(0, (now - due.value).nanoseconds))
                due.value = now + interval
            }
        }
        try? await gracefulShutdown()
        for probe in probes { probe.cancel() }
    }
}
