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

        public init(
            id: DeviceID, groups: Set<GroupName> = [], attributes: [String: String] = [:],
            authentication: Device.AuthenticationType? = nil
        ) {
            self.id = id
            self.groups = groups
            self.attributes = attributes
            self.authentication = authentication
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
                tenantID: tenantID, deviceID: device.id, attributes: device.attributes, groups: device.groups.sorted(),
                clientID: clientID)
        case .service, .anonymous:
            TopicTemplate.Values(tenantID: tenantID, clientID: clientID)
        }
    }
}

/// What the request's connection shows, for conditions.
public struct PolicyContext: Sendable, Hashable {
    public var peerAddress: IPAddress?
    /// `mqtt`, `mqtt-ws` or `https`.
    public var protocolName: String

    /// The protocols a `protocols` condition may name.
    public static let protocolNames: Set<String> = ["mqtt", "mqtt-ws", "https"]

    public init(peerAddress: IPAddress? = nil, protocolName: String = "mqtt") {
        self.peerAddress = peerAddress
        self.protocolName = protocolName
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

/// Decides requests against a policy set: explicit deny wins, then allow; nothing applying is deny.
public struct PolicyEngine: Sendable {
    /// A statement held by reference, its parts in fields of their own, so that a decision reads them in place
    /// instead of copying each statement it looks at (every copy retains every field).
    private final class Held: Sendable {
        let statement: PolicyStatement
        let actionMask: UInt16
        let principals: PolicyPrincipals
        let resources: [TopicTemplate]
        let conditions: PolicyConditions
        let isDeny: Bool

        init(_ statement: PolicyStatement) {
            self.statement = statement
            actionMask = statement.actionMask
            principals = statement.principals
            resources = statement.resources
            conditions = statement.conditions
            isDeny = statement.effect == .deny
        }
    }

    private let held: [Held]
    /// The most unmet conditions a denial lists (a document may hold thousands of statements; the log line and
    /// the audit record stay short).
    static let maximumReasons = 10

    /// The shipped statements, then `document`'s (or only the document's when it says `include-default: false`).
    public init(_ document: PolicyDocument = PolicyDocument()) {
        held = ((document.includeDefault ? DefaultPolicy.statements : []) + document.statements).map(Held.init)
    }

    /// The statements in force, in the order they are considered.
    public var statements: [PolicyStatement] { held.map(\.statement) }

    /// The decision on `action` by `requestor` on `resource` (nil for actions without a topic) in `context`.
    public func decide(
        _ requestor: PolicyRequestor, _ action: PolicyAction, _ resource: AuthorizationRequest.Resource?,
        in context: PolicyContext
    ) -> PolicyDecision {
        var allowing: Held?
        var unmet: [String] = []
        let values = requestor.values
        // The device taken out of the requestor once, not once per statement.
        let device: PolicyRequestor.DeviceFacts? = if case .device(let facts) = requestor.kind { facts } else { nil }
        for entry in held where entry.actionMask & action.bit != 0 {
            let included = device.map { entry.principals.include(device: $0) } ?? entry.principals.include(requestor)
            guard included else { continue }
            guard Self.resources(of: entry, values, cover: resource) else { continue }
            // Without conditions this is an empty array: nothing allocated.
            let failed = entry.conditions.unmet(in: context)
            if failed.isEmpty {
                if entry.isDeny { return Self.denied(by: entry.statement) }
                if allowing == nil { allowing = entry }
            } else if !entry.isDeny, unmet.count < Self.maximumReasons {
                unmet += failed.prefix(Self.maximumReasons - unmet.count).map {
                    "statement '\(entry.statement.id)': \($0)"
                }
            }
        }
        if let allowing { return PolicyDecision(isAllowed: true, statementID: allowing.statement.id, reasons: []) }
        let what = resource.map { "\(action.rawValue) on '\($0.text)'" } ?? action.rawValue
        return PolicyDecision(isAllowed: false, statementID: nil, reasons: ["no statement allows \(what)"] + unmet)
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
