import ArgumentParser
import Foundation

/// The broker's CPU time and resident memory, read from `/proc/{pid}` (Linux) before and after a run.
struct BrokerProcess: ParsableArguments {
    @Option(help: "The broker's process id, to report its CPU time and RSS over the run (Linux /proc).")
    var brokerPID: Int32?

    struct Sample: Codable {
        /// User plus system CPU seconds since the process started.
        let cpuSeconds: Double
        /// Resident set size, KiB.
        let residentKiB: Int
    }

    /// What the run cost the broker.
    struct Cost: Codable {
        let cpuSeconds: Double
        let residentKiB: Int
    }

    func sample() -> Sample? {
        guard let pid = brokerPID,
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        else { return nil }
        // Fields after the command name (which may hold spaces) start after the last ')'; utime and stime are
        // the 14th and 15th fields of the whole line.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        // total: a small system constant.
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // total: parses text: nil unless a number in range.
        let resident =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        return Sample(cpuSeconds: (user + system) / ticks, residentKiB: resident)
    }

    /// The CPU used between `before` and now, and the memory now.
    func cost(since before: Sample?) -> Cost? {
        guard let before, let after = sample() else { return nil }
        return Cost(cpuSeconds: after.cpuSeconds - before.cpuSeconds, residentKiB: after.residentKiB)
    }
}

extension BrokerProcess.Cost {
    /// The last line of a human summary.
    var line: String { String(format: "broker: %.2f CPU s, RSS %.1f MiB", cpuSeconds, Double(residentKiB) / 1024) }
}
