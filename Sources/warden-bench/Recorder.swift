import Foundation
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

        /// The human table: one row per named summary, counts, rates and latency percentiles, aligned.
        static func table(_ rows: [(name: String, summary: Summary)]) -> String {
            let header = ["", "count", "per s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"]
            let cells =
                [header]
                + rows.map { name, summary in
                    [name, "\(summary.count)", String(format: "%.0f", summary.messagesPerSecond)]
                        + [
                            summary.p50Milliseconds, summary.p90Milliseconds, summary.p99Milliseconds,
                            summary.p999Milliseconds, summary.maxMilliseconds,
                        ].map { String(format: "%.2f", $0) }
                }
            let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
            return cells.map { row in
                row.enumerated().map { column, cell in
                    // total: the count is at least 0.
                    let padding = String(repeating: " ", count: max(0, widths[column] - cell.count))
                    return column == 0 ? cell + padding : padding + cell
                }.joined(separator: "  ")
            }.joined(separator: "\n")
        }

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
        let nanoseconds = UInt64(clamping: (now - start).nanoseconds)
        state.withLock { _ = $0.latencies.record(min(nanoseconds, 600_000_000_000)) }
    }

    /// Events recorded so far.
    // total: a histogram's count, far below Int.max.
    var count: Int { state.withLock { Int($0.latencies.totalCount) } }

    /// Counts an error of `kind` (a refusal's code, an error's type).
    func error(_ kind: String) {
        state.withLock { $0.errors[kind, default: 0] += 1 }
    }

    func summary(seconds: Double) -> Summary {
        state.withLock { Self.summary(of: $0, seconds: seconds) }
    }

    /// The summary so far, and a fresh start for the next window (for runs reported window by window).
    func takeSummary(seconds: Double) -> Summary {
        state.withLock { state in
            defer {
                state.latencies.reset()
                state.errors = [:]
            }
            return Self.summary(of: state, seconds: seconds)
        }
    }

    private static func summary(
        of state: (latencies: Histogram<UInt64>, errors: [String: Int]), seconds: Double
    ) -> Summary {
        let histogram = state.latencies
        func milliseconds(_ percentile: Double) -> Double {
            histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1_000_000
        }
        // total: a histogram's count, far below Int.max.
        let count = Int(histogram.totalCount)
        return Summary(
            count: count, messagesPerSecond: Double(count) / seconds, p50Milliseconds: milliseconds(50),
            p90Milliseconds: milliseconds(90), p99Milliseconds: milliseconds(99),
            p999Milliseconds: milliseconds(99.9), maxMilliseconds: Double(histogram.max) / 1_000_000,
            errors: state.errors.values.reduce(0, +), errorsByKind: state.errors)
    }
}
