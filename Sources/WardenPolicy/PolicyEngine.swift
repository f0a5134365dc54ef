public import Foundation
public import WardenCore
public import WardenMQTT

/// Who asks, with what the registry knows of it; a template's variables take their values from here only.
public struct PolicyRequestor: Sendable {
    /// A device as the registry holds it.
    public struct DeviceFacts: Sendable {
        public let id: DeviceID
        public var groups: Set<GroupName>
        public var attributes: [String: String]
        /// How its connection authenticated; nil when not known.
        public var authentication: Device.AuthenticationType?
        /// Its risk level as the Defender set it (quarantine); a request's context is raised to it.
        public var risk: RiskLevel

        public init(
            id: DeviceID, groups: Set<GroupName> = [], attributes: [String: String] = [:],
            authentication: Device.AuthenticationType? = nil, risk: RiskLevel = .normal
        ) {
            self.id = id
            self.groups = groups
            self.attributes = attributes
            self.authentication = authentication
            self.risk = risk
        }
    }

    public enum Kind: Sendable {
        case device(DeviceFacts)
        /// A backend service by its shared access policy.
        case service(PolicyName, permissions: Set<SharedAccessPolicy.Permission>)
        /// A client of a development listener that admits anonymous clients.
        case anonymous
    }

    public let tenantID: TenantID
    public let kind: Kind
    /// The ClientId, for `${client.id}`.
    public let clientID: String?

    public init(tenantID: TenantID, kind: Kind, clientID: String? = nil) {
        self.tenantID = tenantID
        self.kind = kind
        self.clientID = clientID
    }

    var values: TopicTemplate.Values {
        switch kind {
        case .device(let device):
            TopicTemplate.Values(
                tenantID: tenantID, deviceID: device.id, attributes: device.attributes, groups: device.groups,
                clientID: clientID)
        case .service, .anonymous:
            TopicTemplate.Values(tenantID: tenantID, clientID: clientID)
        }
    }
}

/// What the request's connection shows, and when it is made, for conditions. A value left nil is one the
/// context does not know: a condition that needs it does not hold, and under `strict` a deny that needs it
/// applies.
public struct PolicyContext: Sendable {
    public var peerAddress: IPAddress?
    /// `mqtt`, `mqtt-ws`, `https`, `amqp` or `amqp-ws`.
    public var protocolName: String
    /// The moment of the request; the authorizer sets it from its clock when the caller did not.
    public var now: Date?
    /// Whether the clock is known to be synchronised; under `strict`, time conditions do not trust one that is
    /// not.
    public var clockIsSynchronized = true
    /// How much the requestor is trusted now: the Defender (issue 16) will raise it per device; until then
    /// every request is `normal`.
    public var risk: RiskLevel
    /// `1.2`, `1.3`, or `none` on a plain listener.
    public var tlsVersion: String?
    /// The TLS client certificate; nil when none was presented.
    public var certificate: PresentedCertificate?
    /// False where the protocol does not show the certificate to the policy (HTTPS): a certificate condition
    /// is then unknown rather than unmet.
    public var certificateIsKnown = true
    /// When the connection was accepted.
    public var connectedAt: Date?
    /// A PUBLISH's payload size in bytes; nil for other actions.
    public var payloadSize: Int?
    /// The connection's PUBLISHes per second over the last second, this one included.
    public var messageRate: Double?
    /// The device twin's reported properties; the authorizer sets them when a statement asks and the caller
    /// did not.
    public var reported: JSONValue?

    /// The protocols a `protocols` condition may name.
    public static let protocolNames: Set<String> = ["mqtt", "mqtt-ws", "https", "amqp", "amqp-ws"]

    public init(
        peerAddress: IPAddress? = nil, protocolName: String = "mqtt", now: Date? = nil, risk: RiskLevel = .normal
    ) {
        self.peerAddress = peerAddress
        self.protocolName = protocolName
        self.now = now
        self.risk = risk
    }
}

/// A requestor's risk level, for `risk-levels` conditions: a quarantined device can be confined by a statement
/// that allows only what `normal` ones may do.
public enum RiskLevel: String, Sendable, Hashable, CaseIterable, Comparable {
    case normal
    case elevated
    case high
    case critical

    public static func < (left: RiskLevel, right: RiskLevel) -> Bool { left.rank < right.rank }

    private var rank: Int {
        switch self {
        case .normal: 0
        case .elevated: 1
        case .high: 2
        case .critical: 3
        }
    }
}

/// A decision and the story behind it: the statement that decided (nil: none applied) and why.
public struct PolicyDecision: Sendable, Hashable {
    public let isAllowed: Bool
    /// The deciding statement's id: the deny that applied, else the first allow that did; nil when none did.
    public let statementID: String?
    /// Why, for the explanation and the denial's unmet conditions.
    public let reasons: [String]
}

/// What one statement made of a request, for an explanation.
public struct PolicyTrace: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// It applies: its principals, action, resources and conditions all hold.
        case applies
        /// Its principals do not include the requestor (the index offered it for a key they share).
        case principalsExclude
        /// None of its resources takes in the topic.
        case resourceOutside
        /// These conditions do not hold.
        case conditionsUnmet([String])
    }

    public let statementID: String
    public let effect: PolicyStatement.Effect
    public let outcome: Outcome
}

/// Decides requests against a policy set: explicit deny wins, then allow; nothing applying is deny.
///
/// Statements are indexed by the principal they name, so a decision looks only at those that could include the
/// requestor: a device's own id, its groups and attributes, and the statements whose principals no key
/// narrows (device-id patterns with `*`, an authentication method alone); a service's policy name and the
/// service patterns. Every candidate is still checked in full; the index only skips statements that cannot
/// apply. Among those that apply, the first deny in document order wins, else the first allow.
public struct PolicyEngine: Sendable {
    /// A statement held by reference, its parts in fields of their own, so that a decision reads them in place
    /// instead of copying each statement it looks at (every copy retains every field).
    private final class Held: Sendable {
        let statement: PolicyStatement
        /// Its place in the order statements are considered: the lowest deny and allow decide.
        let order: Int
        let actionMask: UInt16
        let principals: PolicyPrincipals
        let resources: [TopicTemplate]
        let conditions: PolicyConditions
        let isDeny: Bool
        /// Whether it has any condition (most have none: no condition is looked at then).
        let hasConditions: Bool

        init(_ statement: PolicyStatement, order: Int) {
            self.statement = statement
            self.order = order
            actionMask = statement.actionMask
            principals = statement.principals
            resources = statement.resources
            conditions = statement.conditions
            isDeny = statement.effect == .deny
            hasConditions = statement.conditions != PolicyConditions()
        }
    }

    /// The statements by the principal they can apply to; each list in document order.
    private struct Index: Sendable {
        var byDevice: [String: [Held]] = [:]
        var byGroup: [GroupName: [Held]] = [:]
        /// Attribute name → value → statements naming that pair (the first pair they name, in name order).
        var byAttribute: [String: [String: [Held]]] = [:]
        /// Statements whose device patterns all have a literal start (`unit-2*`), by that start.
        var byDevicePrefix: [Substring: [Held]] = [:]
        /// The lengths of those starts, in bytes, each once: a decision looks up only these prefixes of an id.
        var devicePrefixLengths: [Int] = []
        /// Device statements no key narrows: checked for every device.
        var anyDevice: [Held] = []
        var byService: [String: [Held]] = [:]
        var anyService: [Held] = []
        var anonymous: [Held] = []

        init(_ held: [Held]) {
            for entry in held {
                let principals = entry.principals
                if let services = principals.services {
                    if services.contains(where: { $0.utf8.contains(UInt8(ascii: "*")) }) {
                        anyService.append(entry)
                    } else {
                        for name in Set(services) { byService[name, default: []].append(entry) }
                    }
                } else if principals.anonymous == true {
                    anonymous.append(entry)
                } else if let devices = principals.devices,
                    !devices.contains(where: { $0.utf8.contains(UInt8(ascii: "*")) })
                {
                    for id in Set(devices) { byDevice[id, default: []].append(entry) }
                } else if let devices = principals.devices, let starts = Self.literalStarts(devices) {
                    for start in starts { byDevicePrefix[start, default: []].append(entry) }
                } else if let groups = principals.groups {
                    for group in groups { byGroup[group, default: []].append(entry) }
                } else if let (name, value) = principals.attributes?.min(by: { $0.key < $1.key }) {
                    byAttribute[name, default: [:]][value, default: []].append(entry)
                } else {
                    anyDevice.append(entry)
                }
            }
            devicePrefixLengths = Set(byDevicePrefix.keys.map(\.utf8.count)).sorted()
        }

        /// Each pattern's text before its first `*` (all of it for an id without one), or nil when one starts
        /// with `*`: it narrows nothing.
        private static func literalStarts(_ patterns: [String]) -> Set<Substring>? {
            var starts: Set<Substring> = []
            for pattern in patterns {
                let start = pattern[..<(pattern.firstIndex(of: "*") ?? pattern.endIndex)]
                guard !start.isEmpty else { return nil }
                starts.insert(start)
            }
            return starts
        }

        /// The statements whose pattern start begins `id`, each list looked up by a prefix of the id itself
        /// (a Substring: nothing allocated).
        func prefixed(_ id: String, _ body: ([Held]?) -> Void) {
            let bytes = id.utf8
            for length in devicePrefixLengths {
                guard length <= bytes.count else { return }
                body(byDevicePrefix[id[..<bytes.index(bytes.startIndex, offsetBy: length)]])
            }
        }
    }

    /// What a decision has found so far: the first deny and allow that applied.
    private struct Finding {
        var deny: Held?
        var allow: Held?

        mutating func note(_ entry: Held) {
            if entry.isDeny {
                if deny.map({ entry.order < $0.order }) ?? true { deny = entry }
            } else if allow.map({ entry.order < $0.order }) ?? true {
                allow = entry
            }
        }
    }

    /// Everything compiled, behind one reference: an engine is copied with its tenant's policy on every decision
    /// (perf put retains and releases at a quarter of a decision's time while each part was a field of its own).
    private final class Compiled: Sendable {
        let held: [Held]
        let index: Index
        /// `strict` tolerance: a deny statement whose only unmet conditions are ones the context cannot answer
        /// applies (fail closed); otherwise a condition that cannot be checked does not hold, for allows and
        /// denies.
        let failsClosed: Bool
        let timeWindows: [TimeWindow]
        let readsTwin: Bool
        let changesWithTime: Bool
        let readsPublish: Bool

        init(_ statements: [PolicyStatement], failsClosed: Bool) {
            held = statements.enumerated().map { Held($1, order: $0) }
            index = Index(held)
            self.failsClosed = failsClosed
            var seen: Set<TimeWindow> = []
            timeWindows = statements.compactMap(\.conditions.time).filter { seen.insert($0).inserted }
            readsTwin = statements.contains { $0.conditions.readsTwin }
            changesWithTime = statements.contains { $0.conditions.changesWithTime }
            readsPublish = statements.contains { $0.conditions.readsPublish }
        }
    }

    private let compiled: Compiled
    private var held: [Held] { compiled.held }
    private var index: Index { compiled.index }
    private var failsClosed: Bool { compiled.failsClosed }
    /// The distinct `time` conditions of the statements, in the order they first appear.
    public var timeWindows: [TimeWindow] { compiled.timeWindows }
    /// Whether a statement has a condition on the device twin's reported properties.
    public var readsTwin: Bool { compiled.readsTwin }
    /// Whether a statement has a condition that changes with the clock alone (a connection's age, a
    /// certificate's days to expiry): live connections are then decided again every second.
    public var changesWithTime: Bool { compiled.changesWithTime }
    /// Whether a decision needs the time at all (a time window, or a condition that changes with the clock).
    var readsClock: Bool { compiled.changesWithTime || !compiled.timeWindows.isEmpty }
    /// Whether no statement reads the clock, the device twin, or a PUBLISH's size or rate: a decision then
    /// follows from the requestor's facts, the connection and the request alone.
    var decidesFromFactsAlone: Bool { !readsClock && !compiled.readsTwin && !compiled.readsPublish }
    /// The most unmet conditions a denial lists (a document may hold thousands of statements; the log line and
    /// the audit record stay short).
    static let maximumReasons = 10

    /// The shipped statements, then `document`'s (or only the document's when it says `include-default: false`).
    public init(_ document: PolicyDocument = PolicyDocument()) {
        let statements = (document.includeDefault ? DefaultPolicy.statements : []) + document.statements
        compiled = Compiled(statements, failsClosed: document.tolerance == .strict)
    }

    /// The statements in force, in the order they are considered.
    public var statements: [PolicyStatement] { held.map(\.statement) }

    /// The decision on `action` by `requestor` on `resource` (nil for actions without a topic) in `context`.
    public func decide(
        _ requestor: PolicyRequestor, _ action: PolicyAction, _ resource: AuthorizationRequest.Resource?,
        in context: PolicyContext
    ) -> PolicyDecision {
        var finding = Finding()
        let values = requestor.values
        forEachCandidate(of: requestor, for: action) { entry, included in
            guard included, Self.resources(of: entry, values, cover: resource), applies(entry, in: context) else {
                return
            }
            finding.note(entry)
        }
        if let deny = finding.deny { return Self.denied(by: deny.statement) }
        if let allow = finding.allow {
            return PolicyDecision(isAllowed: true, statementID: allow.statement.id, reasons: [])
        }
        let what = resource.map { "\(action.rawValue) on '\($0.text)'" } ?? action.rawValue
        let unmet = unmetAllows(requestor, action, resource, in: context)
        return PolicyDecision(isAllowed: false, statementID: nil, reasons: ["no statement allows \(what)"] + unmet)
    }

    /// Why the allows that cover the request did not apply, the first few in document order: put into words
    /// only for a denial that no statement made, by a second look (the decision itself only counts).
    private func unmetAllows(
        _ requestor: PolicyRequestor, _ action: PolicyAction, _ resource: AuthorizationRequest.Resource?,
        in context: PolicyContext
    ) -> [String] {
        var unmet: [(order: Int, reason: String)] = []
        func first() -> [(order: Int, reason: String)] {
            Array(unmet.sorted { $0.order < $1.order }.prefix(PolicyEngine.maximumReasons))
        }
        let values = requestor.values
        forEachCandidate(of: requestor, for: action) { entry, included in
            guard !entry.isDeny, included, Self.resources(of: entry, values, cover: resource) else { return }
            unmet += failures(of: entry, in: context).map { (entry.order, "statement '\(entry.statement.id)': \($0)") }
            // Only the first few are said: the list stays short however many statements fail.
            if unmet.count > 2 * PolicyEngine.maximumReasons { unmet = first() }
        }
        return first().map(\.reason)
    }

    /// What each statement the index offers for the request made of it, in document order: the story behind a
    /// decision (`warden policy explain`). Not on the packet path.
    public func trace(
        _ requestor: PolicyRequestor, _ action: PolicyAction, _ resource: AuthorizationRequest.Resource?,
        in context: PolicyContext
    ) -> [PolicyTrace] {
        var traces: [(order: Int, trace: PolicyTrace)] = []
        let values = requestor.values
        forEachCandidate(of: requestor, for: action) { entry, included in
            let outcome: PolicyTrace.Outcome
            if !included {
                outcome = .principalsExclude
            } else if !Self.resources(of: entry, values, cover: resource) {
                outcome = .resourceOutside
            } else {
                let unmet = failures(of: entry, in: context)
                outcome = unmet.isEmpty ? .applies : .conditionsUnmet(unmet)
            }
            traces.append(
                (
                    entry.order,
                    PolicyTrace(statementID: entry.statement.id, effect: entry.statement.effect, outcome: outcome)
                ))
        }
        return traces.sorted { $0.order < $1.order }.map(\.trace)
    }

    /// Whether the statement's conditions hold in `context`; under `strict`, a deny whose only unmet conditions
    /// are ones the context cannot answer applies. Counted, not said: nothing allocated.
    private func applies(_ entry: Held, in context: PolicyContext) -> Bool {
        guard entry.hasConditions else { return true }
        return applies(entry, given: findings(of: entry, in: context, explaining: false))
    }

    /// The statement's unmet conditions in `context`, in words (empty when it applies).
    private func failures(of entry: Held, in context: PolicyContext) -> [String] {
        guard entry.hasConditions else { return [] }
        let findings = findings(of: entry, in: context, explaining: true)
        return applies(entry, given: findings) ? [] : findings.reasons
    }

    private func findings(of entry: Held, in context: PolicyContext, explaining: Bool) -> ConditionFindings {
        var findings = ConditionFindings(explains: explaining)
        entry.conditions.check(in: context, strict: failsClosed, into: &findings)
        return findings
    }

    /// The one rule: every condition holds, or under `strict` the statement is a deny whose unmet conditions are
    /// all ones the context cannot answer.
    private func applies(_ entry: Held, given findings: ConditionFindings) -> Bool {
        findings.unmetCount == 0 || (failsClosed && entry.isDeny && findings.unmetCount == findings.unknownCount)
    }

    /// Calls `body` with every statement the index offers for `requestor` that names `action`, and whether its
    /// principals include the requestor. Non-escaping closures: nothing allocated.
    private func forEachCandidate(
        of requestor: PolicyRequestor, for action: PolicyAction, _ body: (Held, Bool) -> Void
    ) {
        func each(_ candidates: [Held]?, _ include: (Held) -> Bool) {
            guard let candidates else { return }
            for entry in candidates where entry.actionMask & action.bit != 0 { body(entry, include(entry)) }
        }
        switch requestor.kind {
        case .device(let device):
            let include = { (entry: Held) in entry.principals.include(device: device) }
            each(index.byDevice[device.id.rawValue], include)
            index.prefixed(device.id.rawValue) { each($0, include) }
            for group in device.groups { each(index.byGroup[group], include) }
            for (name, values) in index.byAttribute {
                if let value = device.attributes[name] { each(values[value], include) }
            }
            each(index.anyDevice, include)
        case .service(let name, let granted):
            let include = { (entry: Held) in entry.principals.include(service: name, granted: granted) }
            each(index.byService[name.rawValue], include)
            each(index.anyService, include)
        case .anonymous:
            each(index.anonymous) { $0.principals.include(requestor) }
        }
    }

    /// Whether one of the statement's resources, bound to the requestor, takes in `resource`: a topic it
    /// matches, a filter within it. A statement without resources takes in everything; a resource missing a
    /// value it needs takes in nothing for an allow and everything for a deny (fail closed).
    private static func resources(
        of entry: Held, _ values: TopicTemplate.Values, cover resource: AuthorizationRequest.Resource?
    ) -> Bool {
        guard !entry.resources.isEmpty, let resource else { return true }
        for index in entry.resources.indices {
            if entry.resources[index].usesGroup {
                for group in values.groups where takesIn(entry.resources[index], values, group, resource, entry.isDeny)
                {
                    return true
                }
            } else if takesIn(entry.resources[index], values, nil, resource, entry.isDeny) {
                return true
            }
        }
        return false
    }

    private static func denied(by statement: PolicyStatement) -> PolicyDecision {
        PolicyDecision(isAllowed: false, statementID: statement.id, reasons: ["statement '\(statement.id)' denies it"])
    }

    private static func takesIn(
        _ template: TopicTemplate, _ values: TopicTemplate.Values, _ group: GroupName?,
        _ resource: AuthorizationRequest.Resource, _ isDeny: Bool
    ) -> Bool {
        let answer =
            switch resource {
            case .topic(let topic): template.matches(topic: topic, values, group: group)
            case .filter(let filter): template.covers(filter, values, group: group)
            }
        return answer ?? isDeny
    }
}
