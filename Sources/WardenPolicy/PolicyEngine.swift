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
    public let statements: [PolicyStatement]

    /// The shipped statements, then `document`'s (or only the document's when it says `include-default: false`).
    public init(_ document: PolicyDocument = PolicyDocument()) {
        statements = (document.includeDefault ? DefaultPolicy.statements : []) + document.statements
    }

    /// The decision on `action` by `requestor` on `resource` (nil for actions without a topic) in `context`.
    public func decide(
        _ requestor: PolicyRequestor, _ action: PolicyAction, _ resource: AuthorizationRequest.Resource?,
        in context: PolicyContext
    ) -> PolicyDecision {
        var allowing: String?
        var unmet: [String] = []
        let values = requestor.values
        for statement in statements
        where statement.actionMask & action.bit != 0 && statement.principals.include(requestor) {
            guard Self.resources(of: statement, values, cover: resource) else { continue }
            let failed = statement.conditions.unmet(in: context)
            guard failed.isEmpty else {
                if statement.effect == .allow { unmet += failed.map { "statement '\(statement.id)': \($0)" } }
                continue
            }
            switch statement.effect {
            case .deny:
                return PolicyDecision(
                    isAllowed: false, statementID: statement.id, reasons: ["statement '\(statement.id)' denies it"])
            case .allow:
                if allowing == nil { allowing = statement.id }
            }
        }
        if let allowing { return PolicyDecision(isAllowed: true, statementID: allowing, reasons: []) }
        let what = resource.map { "\(action.rawValue) on '\($0.text)'" } ?? action.rawValue
        return PolicyDecision(isAllowed: false, statementID: nil, reasons: ["no statement allows \(what)"] + unmet)
    }

    /// Whether one of the statement's resources, bound to the requestor, takes in `resource`: a topic it
    /// matches, a filter within it. A statement without resources takes in everything; a resource missing a
    /// value it needs takes in nothing for an allow and everything for a deny (fail closed).
    private static func resources(
        of statement: PolicyStatement, _ values: TopicTemplate.Values, cover resource: AuthorizationRequest.Resource?
    ) -> Bool {
        guard !statement.resources.isEmpty, let resource else { return true }
        for template in statement.resources {
            if template.usesGroup {
                for group in values.groups where takesIn(template, values, group, resource, statement.effect) {
                    return true
                }
            } else if takesIn(template, values, nil, resource, statement.effect) {
                return true
            }
        }
        return false
    }

    private static func takesIn(
        _ template: TopicTemplate, _ values: TopicTemplate.Values, _ group: GroupName?,
        _ resource: AuthorizationRequest.Resource, _ effect: PolicyStatement.Effect
    ) -> Bool {
        let binding = TopicTemplate.Binding(template: template, values: values, group: group)
        let answer =
            switch resource {
            case .topic(let topic): binding.matches(topic: topic)
            case .filter(let filter): binding.covers(filter)
            }
        return answer ?? (effect == .deny)
    }
}
