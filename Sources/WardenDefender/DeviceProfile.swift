import Foundation
import WardenCore
import WardenMQTT

/// An exponentially weighted mean and variance (West's incremental form): two numbers per measure.
struct MovingStatistics: Hashable {
    private(set) var mean = 0.0
    private(set) var variance = 0.0

    mutating func add(_ value: Double, weight: Double) {
        let difference = value - mean
        mean += weight * difference
        variance = (1 - weight) * (variance + weight * difference * difference)
    }

    var deviation: Double { variance.squareRoot() }

    /// Whether `value` is above the mean by `sensitivity` deviations, `factor` times the mean and `floor`.
    func exceeds(_ value: Double, sensitivity: Double, factor: Double, floor: Double) -> Bool {
        value > floor && value > mean * factor && value > mean + sensitivity * deviation
    }
}

/// What the Defender learned of one device (issue 16): its behaviour's baseline (message rate, payload size,
/// topics), the networks it connects from and the hours it is active in. Kept in memory, per node; a restart
/// learns again.
struct DeviceProfile {
    /// An anomaly one observation found: the rule and what the alert says.
    struct Finding: Hashable {
        let rule: String
        let summary: String
    }

    var lastSeen: Date
    /// Sampling intervals learned.
    private(set) var samples = 0
    private(set) var rate = MovingStatistics()
    /// Bytes per message, over intervals with messages.
    private(set) var payload = MovingStatistics()
    private(set) var payloadSamples = 0
    /// Topics seen while learning (property bags left out), told apart by their bytes as MQTT does; nil once more
    /// than `maximumTopics` were.
    private(set) var topics: Set<TopicKey>? = []
    /// Connections counted, and the networks they came from (most recent last).
    private(set) var connections = 0
    private(set) var networks: [String] = []
    /// Intervals with messages per hour of the day (in the rule's zone), and the days they fell on.
    private(set) var hours = [Int](repeating: 0, count: 24)
    private(set) var activeDays = 0
    private var lastActiveDay: Int?

    static let maximumTopics = 64
    static let maximumNetworks = 16
    /// An average payload below this is never anomalous, whatever the baseline.
    static let payloadFloor = 256.0

    static let messageRateRule = "behaviour.message-rate"
    static let payloadSizeRule = "behaviour.payload-size"
    static let topicsRule = "behaviour.topics"
    static let newNetworkRule = "network.new"
    static let unusualHoursRule = "activity.unusual-hours"

    init(at now: Date) { lastSeen = now }

    /// Judges one interval against the baseline, then learns it unless its rate or size was anomalous (an
    /// attacker must not teach the baseline to accept the attack). Static limits judge from the first interval.
    mutating func observe(_ sample: DeviceActivity, rules: DeviceRules.Behaviour) -> [Finding] {
        var findings: [Finding] = []
        let rate = sample.messageRate
        let learned = samples >= rules.warmup
        if let maximum = rules.maximumMessageRate, rate > maximum {
            findings.append(
                Finding(
                    rule: Self.messageRateRule,
                    summary: "\(Self.rate(rate)) messages/s, over the limit of \(Self.rate(maximum))."))
        } else if learned,
            self.rate.exceeds(rate, sensitivity: rules.sensitivity, factor: rules.factor, floor: rules.minimumRate)
        {
            findings.append(
                Finding(
                    rule: Self.messageRateRule,
                    summary: "\(Self.rate(rate)) messages/s against a baseline of \(Self.rate(self.rate.mean)) "
                        + "(± \(Self.rate(self.rate.deviation)))."))
        }
        // total: message counts and byte sums of one interval are far inside Double's exact range.
        let averagePayload = sample.messages > 0 ? Double(sample.bytes) / Double(sample.messages) : nil
        if let maximum = rules.maximumPayload, sample.largestPayload > maximum {
            findings.append(
                Finding(
                    rule: Self.payloadSizeRule,
                    summary: "A payload of \(sample.largestPayload) bytes, over the limit of \(maximum)."))
        } else if let averagePayload, payloadSamples >= rules.warmup,
            payload.exceeds(
                averagePayload, sensitivity: rules.sensitivity, factor: rules.factor, floor: Self.payloadFloor)
        {
            findings.append(
                Finding(
                    rule: Self.payloadSizeRule,
                    summary: "Payloads of \(Self.whole(averagePayload)) bytes on average against a baseline of "
                        + "\(Self.whole(payload.mean))."))
        }
        // The broker gives topics as `DeviceActivity.topicKey` makes them: bounded, property bags left out.
        let topicsSeen = Set(sample.topics.map(TopicKey.init))
        if rules.topics, learned, let known = topics {
            let new = topicsSeen.subtracting(known)
            if let first = new.map(\.topic).min() {
                findings.append(
                    Finding(rule: Self.topicsRule, summary: "Published to '\(first)', a topic it never used before."))
                // Said once per topic: the alert counts the next new one. Past the most kept, topics are not judged.
                let merged = known.union(new)
                topics = merged.count > Self.maximumTopics ? nil : merged
            } else if sample.moreTopics, known.count < DeviceActivity.maximumTopics {
                findings.append(
                    Finding(
                        rule: Self.topicsRule,
                        summary: "Published to more than \(DeviceActivity.maximumTopics) topics in one interval, "
                            + "having used \(known.count)."))
            }
        }
        guard !findings.contains(where: { $0.rule != Self.topicsRule }) else { return findings }
        samples += 1
        // Learns fast at first (a plain mean), then weighs the last `warmup` intervals most.
        let weight = max(1 / Double(samples), 2 / Double(rules.warmup + 1))
        self.rate.add(rate, weight: weight)
        if let averagePayload {
            payloadSamples += 1
            payload.add(averagePayload, weight: max(1 / Double(payloadSamples), 2 / Double(rules.warmup + 1)))
        }
        if !learned, var known = topics {
            known.formUnion(topicsSeen)
            topics = known.count > Self.maximumTopics || sample.moreTopics ? nil : known
        }
        return findings
    }

    /// The hour of the day of `date` in `zone`, and a number for its day (worked out outside the Defender's lock).
    static func hourAndDay(of date: Date, in zone: TimeZone) -> (hour: Int, day: Int)? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .year, .month, .day], from: date)
        guard let hour = parts.hour, (0..<24).contains(hour), let year = parts.year, let month = parts.month,
            let day = parts.day
        else { return nil }
        return (hour, (year &* 12 &+ month) &* 31 &+ day)
    }

    /// Judges the hour of an interval with messages: after `warmupDays` active days, an hour the device was never
    /// active in is unusual (said once, then learned).
    mutating func observeHour(
        _ time: (hour: Int, day: Int), of sample: DeviceActivity, rules: DeviceRules.UnusualHours
    ) -> Finding? {
        guard sample.messages > 0 else { return nil }
        var finding: Finding?
        if activeDays >= rules.warmupDays, hours[time.hour] == 0 {
            finding = Finding(
                rule: Self.unusualHoursRule,
                summary: "Active at \(Self.twoDigits(time.hour)):00–\(Self.twoDigits((time.hour + 1) % 24)):00 "
                    + "(\(rules.zoneName)), an hour it was not active in over \(activeDays) days.")
        }
        if lastActiveDay != time.day {
            lastActiveDay = time.day
            activeDays += 1
        }
        hours[time.hour] += 1
        return finding
    }

    /// Forgets the behaviour baseline (rate, payload size, topics), keeping the networks and hours learned.
    mutating func forgetBehaviour() {
        samples = 0
        rate = MovingStatistics()
        payload = MovingStatistics()
        payloadSamples = 0
        topics = []
    }

    /// Judges a connection's network: after `warmup` connections, one it never connected from is new (said once,
    /// then learned; the oldest of `maximumNetworks` is forgotten).
    mutating func observeConnection(from address: IPAddress, rules: DeviceRules.NewNetwork) -> Finding? {
        let network = Self.network(of: address)
        connections += 1
        if let index = networks.firstIndex(of: network) {
            networks.remove(at: index)
            networks.append(network)
            return nil
        }
        networks.append(network)
        if networks.count > Self.maximumNetworks { networks.removeFirst() }
        guard connections > rules.warmup else { return nil }
        return Finding(
            rule: Self.newNetworkRule,
            summary: "Connected from \(address), in \(network), a network it never connected from in "
                + "\(connections - 1) connections.")
    }

    /// The /24 of an IPv4 address, the /64 of an IPv6 one.
    static func network(of address: IPAddress) -> String {
        CIDR(enclosing: address, prefixLength: address.isIPv4 ? 24 : 64).description
    }

    private static func rate(_ value: Double) -> String {
        value >= 100 ? whole(value) : String(format: "%.1f", value)
    }

    /// A number without its fraction, however large (formatting cannot trap as a conversion to Int can).
    private static func whole(_ value: Double) -> String { String(format: "%.0f", value) }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
