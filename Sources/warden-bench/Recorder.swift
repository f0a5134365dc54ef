import Histogram
import NIOCore
import Synchronization

/// Counts events (acknowledgements, deliveries) after the warm-up and keeps their latencies in an
/// HdrHistogram (1 µs to 10 min, three significant digits: bounded memory whatever the run's length).
final class Recorder: Sendable {
    struct Summary: Codable {
        let count: Int
        let messagesPerSecond: Double
        let p50Milliseconds: Double
        let p90Milliseconds: Double
        let p99Milliseconds: Double
        let p999Milliseconds: Double
        let maxMilliseconds: Double
        let errors: Int
        let errorsByKind: [String: Int]

        /// "0 errors", or "3 errors (CONNACK 5: 2, IOError: 1)".
        static func describe(_ summaries: Summary...) -> String {
            var kinds: [String: Int] = [:]
            for summary in summaries { kinds.merge(summary.errorsByKind, uniquingKeysWith: +) }
            let total = kinds.values.reduce(0, +)
            guard total > 0 else { return "0 errors" }
            return "\(total) errors ("
                + kinds.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
        }
    }

    let countFrom: NIODeadline
    private let state = Mutex<(latencies: Histogram<UInt64>, errors: [String: Int])>(
        (Histogram(lowestDiscernibleValue: 1_000, highestTrackableValue: 600_000_000_000), [:]))

    init(countFrom: NIODeadline) {
        self.countFrom = countFrom
    }

    func record(since start: NIODeadline) {
        let now = NIODeadline.now()
        guard start >= countFrom else { return }
        let nanoseconds = UInt64(max(0, (now - start).nanoseconds))
        state.withLock { _ = $0.latencies.record(min(nanoseconds, 600_000_000_000)) }
    }

    /// Events recorded so far.
    var count: Int { state.withLock { Int($0.latencies.totalCount) } }

    /// Counts an error of `kind` (a refusal's code, an error's type).
    func error(_ kind: String) {
        state.withLock { $0.errors[kind, default: 0] += 1 }
    }

    func summary(seconds: Double) -> Summary {
        state.withLock { state in
            let histogram = state.latencies
            func milliseconds(_ percentile: Double) -> Double {
                histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1_000_000
            }
            let count = Int(histogram.totalCount)
            return Summary(
                count: count, messagesPerSecond: Double(count) / seconds, p50Milliseconds: milliseconds(50),
                p90Milliseconds: milliseconds(90), p99Milliseconds: milliseconds(99),
                p999Milliseconds: milliseconds(99.9), maxMilliseconds: Double(histogram.max) / 1_000_000,
                errors: state.errors.values.reduce(0, +), errorsByKind: state.errors)
        }
    }
}
