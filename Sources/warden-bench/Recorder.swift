import NIOCore
import Synchronization

/// Counts events (acknowledgements, deliveries) after the warm-up and keeps their latencies.
final class Recorder: Sendable {
    struct Summary: Codable {
        let count: Int
        let messagesPerSecond: Double
        let p50Milliseconds: Double
        let p99Milliseconds: Double
        let p999Milliseconds: Double
        let errors: Int
    }

    let countFrom: NIODeadline
    private let state = Mutex<(latencies: [Int64], errors: Int)>(([], 0))

    init(countFrom: NIODeadline) {
        self.countFrom = countFrom
    }

    func record(since start: NIODeadline) {
        let now = NIODeadline.now()
        guard start >= countFrom else { return }
        state.withLock { $0.latencies.append((now - start).nanoseconds) }
    }

    /// Events recorded so far.
    var count: Int { state.withLock { $0.latencies.count } }

    func error() {
        state.withLock { $0.errors += 1 }
    }

    func summary(seconds: Double) -> Summary {
        state.withLock { state in
            let sorted = state.latencies.sorted()
            func percentile(_ fraction: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1_000_000
            }
            return Summary(
                count: sorted.count, messagesPerSecond: Double(sorted.count) / seconds,
                p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99),
                p999Milliseconds: percentile(0.999), errors: state.errors)
        }
    }
}
