public import Foundation
public import WardenCore

/// When a statement applies, from the request's context. Every condition given must hold.
public struct PolicyConditions: Sendable, Hashable {
    /// The connection's source address is in one of these (or, with `addressesAreOutside`, in none of them).
    public var sourceAddresses: [CIDR]?
    /// Whether `sourceAddresses` lists where the address must not be: a deny for every address outside the
    /// operator's networks, which an allow could not carve out of a deny.
    public var addressesAreOutside = false
    /// The protocol the request came over (`mqtt`, `mqtt-ws`, `https`, `amqp`, `amqp-ws`).
    public var protocols: Set<String>?
    /// When, in local time.
    public var time: TimeWindow?
    /// The requestor's risk level is one of these.
    public var riskLevels: Set<RiskLevel>?
    /// The connection's TLS version is one of these (`1.2`, `1.3`, or `none` for a plain listener).
    public var tlsVersions: Set<String>?
    /// The TLS client certificate's issuer and remaining validity.
    public var certificate: CertificateCondition?
    /// How long the connection has been up, in seconds.
    public var connectionAge: PolicyRange?
    /// The PUBLISH's payload, in bytes.
    public var payloadSize: PolicyRange?
    /// The connection's PUBLISHes per second.
    public var messageRate: PolicyRange?
    /// Values of the device twin's reported properties.
    public var reported: [ReportedCondition]?

    /// The TLS versions a `tls-versions` condition may name.
    public static let tlsVersionNames: Set<String> = ["1.2", "1.3", "none"]

    public init(
        sourceAddresses: [CIDR]? = nil, protocols: Set<String>? = nil, time: TimeWindow? = nil,
        riskLevels: Set<RiskLevel>? = nil
    ) {
        self.sourceAddresses = sourceAddresses
        self.protocols = protocols
        self.time = time
        self.riskLevels = riskLevels
    }

    /// Whether a condition reads the device twin (the authorizer fetches it only then).
    var readsTwin: Bool { reported != nil }

    /// Whether a condition reads what differs from one PUBLISH to the next: its size, the connection's rate.
    var readsPublish: Bool { payloadSize != nil || messageRate != nil }

    /// Whether a condition changes with the clock alone, second by second: a connection's age, a certificate's
    /// days to expiry (time windows are watched at their edges instead).
    var changesWithTime: Bool { connectionAge != nil || certificate?.daysToExpiry != nil }

    /// What `context` makes of each condition, into `result`: each one that does not hold, and whether the
    /// context could not answer it (a value it does not know, or under `strict` a clock not known to be
    /// synchronised). Put into words only when `result.explains`: a decision on the packet path only counts
    /// (the words for a deny statement's unmet risk level were 8 % of the server's time under durable telemetry).
    func check(in context: PolicyContext, strict: Bool, into result: inout ConditionFindings) {
        // Under `strict` a clock not known to be right is a time not known.
        let now = strict && !context.clockIsSynchronized ? nil : context.now
        let clockUnknown = context.now == nil ? "the time is unknown" : "the clock is not synchronised"
        if let sourceAddresses {
            if let address = context.peerAddress {
                let inside = sourceAddresses.contains { $0.contains(address) }
                if inside == addressesAreOutside {
                    result.unmet(
                        "source address \(address) is \(inside ? "inside" : "outside") \(sourceAddresses.map(\.description))"
                    )
                }
            } else {
                result.unknown("the source address is unknown")
            }
        }
        if let protocols, !protocols.contains(context.protocolName) {
            result.unmet("protocol '\(context.protocolName)' is not one of \(protocols.sorted())")
        }
        if let riskLevels, !riskLevels.contains(context.risk) {
            result.unmet("risk level '\(context.risk.rawValue)' is not one of \(riskLevels.map(\.rawValue).sorted())")
        }
        if let time {
            if let now {
                if !time.holds(at: now) { result.unmet("the time is not \(time)") }
            } else {
                result.unknown(clockUnknown)
            }
        }
        if let tlsVersions {
            if let version = context.tlsVersion {
                if !tlsVersions.contains(version) {
                    result.unmet("TLS version '\(version)' is not one of \(tlsVersions.sorted())")
                }
            } else {
                result.unknown("the TLS version is unknown")
            }
        }
        if let certificate {
            if context.certificateIsKnown {
                certificate.check(context.certificate, now: now, clockUnknown: clockUnknown, into: &result)
            } else {
                result.unknown("the client certificate is not known here")
            }
        }
        if let connectionAge {
            let age = now.flatMap { now in context.connectedAt.map { now.timeIntervalSince($0) } }
            Self.check(age?.rounded(.down), connectionAge, "the connection's age in seconds", into: &result) {
                now == nil ? clockUnknown : "the connection's age is unknown"
            }
        }
        if let payloadSize {
            // total: a payload's size is far below 2^53.
            Self.check(
                context.payloadSize.map { Double($0) }, payloadSize, "the payload's size in bytes", into: &result
            ) {
                "there is no payload size (not a PUBLISH)"
            }
        }
        if let messageRate {
            Self.check(context.messageRate, messageRate, "the rate in messages per second", into: &result) {
                "the message rate is unknown"
            }
        }
        for condition in reported ?? [] { condition.check(context.reported, into: &result) }
    }

    /// Whether `value` is within `range`; `unknown` says why there is no value.
    private static func check(
        _ value: Double?, _ range: PolicyRange, _ name: String, into result: inout ConditionFindings,
        unknown: () -> String
    ) {
        guard let value else { return result.unknown(unknown()) }
        if !range.holds(value) { result.unmet("\(name), \(value.formatted2), is not \(range)") }
    }
}

/// What the conditions of one statement made of a request: how many did not hold, how many of those the context
/// could not answer, and, only when `explains`, each in words.
struct ConditionFindings {
    let explains: Bool
    private(set) var reasons: [String] = []
    private(set) var unmetCount = 0
    private(set) var unknownCount = 0

    mutating func unmet(_ reason: @autoclosure () -> String) {
        unmetCount += 1
        if explains { reasons.append(reason()) }
    }

    /// A condition the context does not know what it needs for.
    mutating func unknown(_ reason: @autoclosure () -> String) {
        unknownCount += 1
        unmet(reason())
    }
}

/// A range of numbers, either end open; both ends belong to it.
public struct PolicyRange: Sendable, Hashable, CustomStringConvertible {
    public let atLeast: Double?
    public let atMost: Double?

    /// Nil unless at least one end is given and the lower is not above the upper.
    public init?(atLeast: Double?, atMost: Double?) {
        guard atLeast != nil || atMost != nil else { return nil }
        if let atLeast, let atMost, atLeast > atMost { return nil }
        self.atLeast = atLeast
        self.atMost = atMost
    }

    func holds(_ value: Double) -> Bool {
        if let atLeast, value < atLeast { return false }
        if let atMost, value > atMost { return false }
        return true
    }

    public var description: String {
        [atLeast.map { "at least \($0.formatted2)" }, atMost.map { "at most \($0.formatted2)" }]
            .compactMap { $0 }.joined(separator: " and ")
    }
}

/// A condition on the TLS client certificate: who issued it, how many whole days it has left.
public struct CertificateCondition: Sendable, Hashable {
    /// Issuers: an entry with `=` is the issuer's whole distinguished name as RFC 4514 writes it
    /// (`CN=Fleet CA,O=Example`), any other the issuer's common name.
    public var issuers: [String]?
    public var daysToExpiry: PolicyRange?

    public init(issuers: [String]? = nil, daysToExpiry: PolicyRange? = nil) {
        self.issuers = issuers
        self.daysToExpiry = daysToExpiry
    }

    /// Unknown only for days to expiry without a known time; no certificate is unmet, never unknown (the
    /// connection knows whether one was presented).
    func check(
        _ certificate: PresentedCertificate?, now: Date?, clockUnknown: String, into result: inout ConditionFindings
    ) {
        guard let certificate else { return result.unmet("no client certificate was presented") }
        if let issuers,
            !issuers.contains(where: {
                $0.contains("=") ? $0 == certificate.issuer : $0 == certificate.issuerCommonName
            })
        {
            return result.unmet("the certificate's issuer '\(certificate.issuer)' is not one of \(issuers)")
        }
        if let daysToExpiry {
            guard let now else { return result.unknown(clockUnknown) }
            let days = (certificate.notValidAfter.timeIntervalSince(now) / 86_400).rounded(.down)
            if !daysToExpiry.holds(days) {
                result.unmet("the certificate's \(days.formatted2) days to expiry are not \(daysToExpiry)")
            }
        }
    }
}

/// A condition on one reported property of the device twin, named by its path (`firmware.version`).
public struct ReportedCondition: Sendable, Hashable {
    /// A value a property is compared with: text, a number or true/false.
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        case text(String)
        case number(Double)
        case flag(Bool)

        init?(_ json: JSONValue) {
            switch json {
            case .string(let text): self = .text(text)
            // total: an Int as a Double, rounded beyond 2^53.
            case .number(let number): self = .number(Double(number))
            case .double(let number) where number.isFinite: self = .number(number)
            case .bool(let flag): self = .flag(flag)
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .text(let text): "'\(text)'"
            case .number(let number): number.formatted2
            case .flag(let flag): "\(flag)"
            }
        }
    }

    public enum Expectation: Sendable, Hashable {
        case oneOf([Value])
        /// Reported, and none of these.
        case noneOf([Value])
        /// A number within the range.
        case within(PolicyRange)
    }

    /// The property names from the reported section down.
    public let path: [String]
    public let expectation: Expectation

    public init(path: [String], expectation: Expectation) {
        self.path = path
        self.expectation = expectation
    }

    /// Unknown when the twin is not known or the property was never reported (or was deleted).
    func check(_ reported: JSONValue?, into result: inout ConditionFindings) {
        var name: String { path.joined(separator: ".") }
        guard var value = reported else { return result.unknown("the device twin is unknown") }
        for member in path {
            guard case .object(let members) = value, let next = members[member], next != .null else {
                return result.unknown("reported property '\(name)' is not reported")
            }
            value = next
        }
        let seen = Value(value)
        switch expectation {
        case .oneOf(let values):
            if let seen, values.contains(seen) { return }
            result.unmet("reported property '\(name)' is \(seen?.description ?? "not a value"), not one of \(values)")
        case .noneOf(let values):
            guard let seen, values.contains(seen) else { return }
            result.unmet("reported property '\(name)' is \(seen), one of \(values)")
        case .within(let range):
            if case .number(let number)? = seen, range.holds(number) { return }
            result.unmet("reported property '\(name)' is \(seen?.description ?? "not a value"), not \(range)")
        }
    }
}

extension Double {
    /// A whole number without `.0`, otherwise at most two decimals: how figures read in explanations.
    var formatted2: String {
        // total: a whole number below 10^15 is exact in an Int64.
        if self == rounded(), abs(self) < 1e15 { return String(Int64(self)) }
        return String(format: "%.2f", self)
    }
}
