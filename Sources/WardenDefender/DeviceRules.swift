public import Foundation
public import WardenCore

/// The Defender's rules on devices, as one tenant has them (issue 16): the platform's defaults, with what the
/// tenant's rules document changes (`warden defender rules set`). Each rule raises an alert and may answer it.
public struct DeviceRules: Sendable, Hashable {
    /// What the Defender does beyond raising the alert.
    public enum Response: Sendable, Hashable {
        case alert
        /// Closes the device's live connections (it may connect again).
        case disconnect
        /// Raises its risk level (`high` by default), so that the policy engine confines it.
        case quarantine(level: String)
        /// Disables it in the registry: refused until enabled again.
        case disable
        /// Bans the device (in its tenant) for so many seconds.
        case ban(seconds: Int)
        /// Gives a SAS device two new keys: whoever guessed or stole one is out (the owner then gives the device
        /// its new key).
        case rotateKey
        /// Revokes the certificates Warden issued to it (key compromise).
        case revokeCertificates

        public var name: String {
            switch self {
            case .alert: "alert"
            case .disconnect: "disconnect"
            case .quarantine: "quarantine"
            case .disable: "disable"
            case .ban: "ban"
            case .rotateKey: "rotate-key"
            case .revokeCertificates: "revoke-certificates"
            }
        }
    }

    /// A count of events within a window.
    public struct Threshold: Sendable, Hashable {
        public var enabled = true
        public var threshold: Int
        public var window: Int
        public var response = Response.alert
    }

    /// A device's networks (`/24` in IPv4, `/64` in IPv6), learned over its first `warmup` connections.
    public struct NewNetwork: Sendable, Hashable {
        public var enabled = true
        public var warmup = 20
        public var response = Response.alert
    }

    /// The hours of the day a device is active in, learned over `warmupDays` days it was active on.
    public struct UnusualHours: Sendable, Hashable {
        public var enabled = true
        public var warmupDays = 7
        /// The IANA zone as the document names it (read back as written: Foundation names UTC `GMT`).
        public var zoneName = "UTC"
        /// The zone the hours are counted in (the document's name was checked when read).
        public var zone: TimeZone { TimeZone(identifier: zoneName) ?? .gmt }
        public var response = Response.alert
    }

    /// Each device's message rate, payload size and topics, learned as exponentially weighted means and
    /// variances over `warmup` sampling intervals; static limits apply from the first interval.
    public struct Behaviour: Sendable, Hashable {
        public var enabled = true
        /// Intervals learned before the baseline judges.
        public var warmup = 30
        /// Standard deviations above the mean that are anomalous…
        public var sensitivity = 4.0
        /// …and at least this many times the mean…
        public var factor = 5.0
        /// …and at least this rate (messages per second), so that a quiet device's few messages are not.
        public var minimumRate = 1.0
        /// Static limits, whatever the baseline (nil: none).
        public var maximumMessageRate: Double?
        public var maximumPayload: Int?
        /// Whether publishing to a topic not seen while learning is anomalous.
        public var topics = true
        public var response = Response.alert
    }

    public var authFailures = Threshold(threshold: 10, window: 300)
    public var tenantAuthFailures = Threshold(threshold: 200, window: 60)
    public var flapping = Threshold(threshold: 15, window: 60)
    public var abnormalDisconnects = Threshold(threshold: 10, window: 600)
    public var policyDenials = Threshold(threshold: 50, window: 60)
    /// Cloud-to-device messages one device rejected or abandoned (the HTTPS device API; MQTT cannot refuse).
    public var commandRefusals = Threshold(threshold: 20, window: 3_600)
    public var newNetwork = NewNetwork()
    public var unusualHours = UnusualHours()
    public var behaviour = Behaviour()
    /// The CSF tier (1–4) the tenant aims at per function (`govern`, `identify`, …), for the posture report.
    public var postureTarget = Dictionary(uniqueKeysWithValues: Self.functions.map { ($0, Self.defaultTier) })

    /// The tier a function is aimed at when the document names none.
    public static let defaultTier = 3
    static let functions = ["govern", "identify", "protect", "detect", "respond", "recover"]

    public init() {}

    /// Documents are small: a few sections of a few fields.
    public static let maximumDocumentBytes = 16_384
    static let limits = JSONLimits(maximumDepth: 3, maximumMembers: 200)
    /// The threshold rules by their document keys (computed: key paths are not Sendable).
    static var thresholds: [(key: String, rule: WritableKeyPath<DeviceRules, Threshold>)] {
        [
            ("auth-failures", \.authFailures), ("tenant-auth-failures", \.tenantAuthFailures),
            ("flapping", \.flapping), ("abnormal-disconnects", \.abnormalDisconnects),
            ("policy-denials", \.policyDenials), ("c2d-rejections", \.commandRefusals),
        ]
    }

    /// These rules with a tenant's document applied; `request.invalid_field` naming the field otherwise.
    public func applying(_ text: String) throws(WardenError) -> DeviceRules {
        guard text.utf8.count <= Self.maximumDocumentBytes else {
            throw WardenError(.requestInvalidField, "A rules document is at most \(Self.maximumDocumentBytes) bytes.")
        }
        guard case .object(let sections) = try JSONValue.parse(Array(text.utf8), limits: Self.limits) else {
            throw WardenError(.requestInvalidField, "A rules document is a JSON object of rule sections.")
        }
        var rules = self
        for (key, value) in sections.sorted(by: { $0.key < $1.key }) {
            var section = try Section(key, value)
            if let index = Self.thresholds.firstIndex(where: { $0.key == key }) {
                let path = Self.thresholds[index].rule
                try section.enabled(&rules[keyPath: path].enabled)
                try section.integer("threshold", 2...100_000, &rules[keyPath: path].threshold)
                try section.integer("window", 1...86_400, &rules[keyPath: path].window)
                try section.response(&rules[keyPath: path].response, deviceScoped: key != "tenant-auth-failures")
            } else if key == "new-network" {
                try section.enabled(&rules.newNetwork.enabled)
                try section.integer("warmup", 1...100_000, &rules.newNetwork.warmup)
                try section.response(&rules.newNetwork.response)
            } else if key == "unusual-hours" {
                try section.enabled(&rules.unusualHours.enabled)
                try section.integer("warmup-days", 1...365, &rules.unusualHours.warmupDays)
                try section.zone(&rules.unusualHours.zoneName)
                try section.response(&rules.unusualHours.response)
            } else if key == "posture-target" {
                for function in Self.functions {
                    var tier = rules.postureTarget[function, default: Self.defaultTier]
                    try section.integer(function, 1...4, &tier)
                    rules.postureTarget[function] = tier
                }
            } else if key == "behaviour" {
                try section.enabled(&rules.behaviour.enabled)
                try section.integer("warmup", 1...100_000, &rules.behaviour.warmup)
                try section.number("sensitivity", 1...100, &rules.behaviour.sensitivity)
                try section.number("factor", 1...1_000, &rules.behaviour.factor)
                try section.number("minimum-rate", 0...1_000_000, &rules.behaviour.minimumRate)
                try section.optional("max-message-rate", &rules.behaviour.maximumMessageRate, from: 1) {
                    section, rate throws(WardenError) in
                    try section.number("max-message-rate", 0.001...1_000_000, &rate)
                }
                try section.optional("max-payload", &rules.behaviour.maximumPayload, from: 1) {
                    section, bytes throws(WardenError) in try section.integer("max-payload", 1...268_435_455, &bytes)
                }
                try section.boolean("topics", &rules.behaviour.topics)
                try section.response(&rules.behaviour.response)
            } else {
                throw WardenError(
                    .requestInvalidField,
                    "'\(key)' is not a rule; the rules are "
                        + (Self.thresholds.map(\.key) + ["new-network", "unusual-hours", "behaviour", "posture-target"])
                        .joined(separator: ", ") + ".")
            }
            try section.finish()
        }
        return rules
    }

    /// The rules in force, in the document's shape (what `GET …/defender/rules` answers).
    public var document: JSONValue {
        var sections: [String: JSONValue] = [:]
        for (key, path) in Self.thresholds {
            let rule = self[keyPath: path]
            sections[key] = Self.object(
                ["enabled": .bool(rule.enabled), "threshold": .number(rule.threshold), "window": .number(rule.window)],
                rule.response)
        }
        sections["new-network"] = Self.object(
            ["enabled": .bool(newNetwork.enabled), "warmup": .number(newNetwork.warmup)], newNetwork.response)
        sections["unusual-hours"] = Self.object(
            [
                "enabled": .bool(unusualHours.enabled), "warmup-days": .number(unusualHours.warmupDays),
                "zone": .string(unusualHours.zoneName),
            ], unusualHours.response)
        var behaviour: [String: JSONValue] = [
            "enabled": .bool(self.behaviour.enabled), "warmup": .number(self.behaviour.warmup),
            "sensitivity": .double(self.behaviour.sensitivity), "factor": .double(self.behaviour.factor),
            "minimum-rate": .double(self.behaviour.minimumRate), "topics": .bool(self.behaviour.topics),
        ]
        behaviour["max-message-rate"] = self.behaviour.maximumMessageRate.map(JSONValue.double)
        behaviour["max-payload"] = self.behaviour.maximumPayload.map(JSONValue.number)
        sections["behaviour"] = Self.object(behaviour, self.behaviour.response)
        sections["posture-target"] = .object(
            Dictionary(
                uniqueKeysWithValues: Self.functions.map { ($0, .number(postureTarget[$0] ?? Self.defaultTier)) }))
        return .object(sections)
    }

    private static func object(_ fields: [String: JSONValue], _ response: Response) -> JSONValue {
        var fields = fields
        fields["response"] = .string(response.name)
        if case .quarantine(let level) = response { fields["level"] = .string(level) }
        if case .ban(let seconds) = response { fields["ban"] = .number(seconds) }
        return .object(fields)
    }
}

/// One section of a rules document, read field by field; `finish` refuses the fields no reader took.
private struct Section {
    let name: String
    var fields: [String: JSONValue]

    init(_ name: String, _ value: JSONValue) throws(WardenError) {
        guard case .object(let fields) = value else {
            throw WardenError(.requestInvalidField, "'\(name)' is an object of the rule's settings.")
        }
        self.name = name
        self.fields = fields
    }

    mutating func enabled(_ target: inout Bool) throws(WardenError) { try boolean("enabled", &target) }

    mutating func boolean(_ key: String, _ target: inout Bool) throws(WardenError) {
        guard let value = fields.removeValue(forKey: key) else { return }
        guard case .bool(let flag) = value else { throw invalid(key, "true or false") }
        target = flag
    }

    mutating func integer(_ key: String, _ range: ClosedRange<Int>, _ target: inout Int) throws(WardenError) {
        guard let value = fields.removeValue(forKey: key) else { return }
        guard case .number(let number) = value, range.contains(number) else {
            throw invalid(key, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        target = number
    }

    mutating func number(_ key: String, _ range: ClosedRange<Double>, _ target: inout Double) throws(WardenError) {
        guard let value = fields.removeValue(forKey: key) else { return }
        let number: Double? =
            switch value {
            // total: a JSON integer within the documented ranges converts exactly enough.
            case .number(let whole): Double(whole)
            case .double(let fraction): fraction
            default: nil
            }
        guard let number, number.isFinite, range.contains(number) else {
            throw invalid(key, "a number from \(range.lowerBound) to \(range.upperBound)")
        }
        target = number
    }

    /// A limit that may be null (none): `read` takes it when it is a value.
    mutating func optional<Value>(
        _ key: String, _ target: inout Value?, from start: Value,
        _ read: (inout Section, inout Value) throws(WardenError) -> Void
    ) throws(WardenError) {
        guard let value = fields[key] else { return }
        guard value != .null else {
            fields[key] = nil
            target = nil
            return
        }
        var taken = start
        try read(&self, &taken)
        target = taken
    }

    mutating func zone(_ target: inout String) throws(WardenError) {
        guard let value = fields.removeValue(forKey: "zone") else { return }
        guard case .string(let identifier) = value, identifier.utf8.count <= 64,
            TimeZone(identifier: identifier) != nil
        else { throw invalid("zone", "a time zone such as \"Europe/Berlin\" or \"UTC\"") }
        target = identifier
    }

    /// `response` with its `level` (quarantine) or `ban` (seconds); a tenant-wide rule only alerts.
    mutating func response(_ target: inout DeviceRules.Response, deviceScoped: Bool = true) throws(WardenError) {
        let level = fields.removeValue(forKey: "level")
        let ban = fields.removeValue(forKey: "ban")
        guard let value = fields.removeValue(forKey: "response") else {
            if level != nil || ban != nil { throw invalid("response", "named when 'level' or 'ban' is") }
            return
        }
        let names =
            deviceScoped
            ? ["alert", "disconnect", "quarantine", "disable", "ban", "rotate-key", "revoke-certificates"] : ["alert"]
        guard case .string(let name) = value, names.contains(name) else {
            throw invalid("response", names.count == 1 ? "\"alert\"" : "one of " + names.joined(separator: ", "))
        }
        if level != nil, name != "quarantine" { throw invalid("level", "given with \"quarantine\" only") }
        if ban != nil, name != "ban" { throw invalid("ban", "given with \"ban\" only") }
        switch name {
        case "disconnect": target = .disconnect
        case "disable": target = .disable
        case "rotate-key": target = .rotateKey
        case "revoke-certificates": target = .revokeCertificates
        case "quarantine":
            var chosen = "high"
            if let level {
                guard case .string(let text) = level, Quarantine.levels.contains(text) else {
                    throw invalid("level", "elevated, high or critical")
                }
                chosen = text
            }
            target = .quarantine(level: chosen)
        case "ban":
            var seconds = 3_600
            if let ban {
                guard case .number(let number) = ban, (1...31_536_000).contains(number) else {
                    throw invalid("ban", "seconds from 1 to 31536000")
                }
                seconds = number
            }
            target = .ban(seconds: seconds)
        default: target = .alert
        }
    }

    func finish() throws(WardenError) {
        guard let unknown = fields.keys.sorted().first else { return }
        throw WardenError(.requestInvalidField, "'\(name).\(unknown)' is not a setting of the rule.")
    }

    private func invalid(_ key: String, _ expected: String) -> WardenError {
        WardenError(.requestInvalidField, "'\(name).\(key)' is \(expected).")
    }
}
