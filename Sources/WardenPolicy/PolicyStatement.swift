public import WardenCore

/// What a statement is about: the actions of the policy model (docs/policy.md).
public enum PolicyAction: String, Sendable, Hashable, CaseIterable {
    case connect
    case publish
    case subscribe
    /// A message delivered to a subscriber, checked per delivery.
    case receive
    case twinRead = "twin.read"
    case twinUpdateReported = "twin.update-reported"
    case methodRespond = "method.respond"
    case cloudToDeviceReceive = "c2d.receive"
    /// Services only.
    case cloudToDeviceSend = "c2d.send"
    case methodInvoke = "method.invoke"
    case telemetryRead = "telemetry.read"

    /// The action's bit in a statement's `actionMask`.
    var bit: UInt16 {
        switch self {
        case .connect: 1 << 0
        case .publish: 1 << 1
        case .subscribe: 1 << 2
        case .receive: 1 << 3
        case .twinRead: 1 << 4
        case .twinUpdateReported: 1 << 5
        case .methodRespond: 1 << 6
        case .cloudToDeviceReceive: 1 << 7
        case .cloudToDeviceSend: 1 << 8
        case .methodInvoke: 1 << 9
        case .telemetryRead: 1 << 10
        }
    }
}

/// One rule of a policy: who (`principals`), may or may not (`effect`) do what (`actions`) on which topics
/// (`resources`; every one when none are listed) when (`conditions`).
public struct PolicyStatement: Sendable, Hashable {
    public enum Effect: String, Sendable, Hashable, CaseIterable {
        case allow
        case deny
    }

    public let id: String
    public let effect: Effect
    public let principals: PolicyPrincipals
    public let actions: Set<PolicyAction>
    public let resources: [TopicTemplate]
    public let conditions: PolicyConditions
    /// `actions` as bits, so that a decision tests each statement without hashing.
    let actionMask: UInt16

    public init(
        id: String, effect: Effect, principals: PolicyPrincipals, actions: Set<PolicyAction>,
        resources: [TopicTemplate] = [], conditions: PolicyConditions = PolicyConditions()
    ) {
        self.id = id
        self.effect = effect
        self.principals = principals
        self.actions = actions
        self.resources = resources
        self.conditions = conditions
        self.actionMask = actions.reduce(0) { $0 | $1.bit }
    }
}

extension PolicyStatement {
    /// Whether it allows every device, unconditionally, to publish, subscribe or receive on every topic
    /// (`#`, `+/#`…): the namespace undone (the Defender's `permissive-policy` audit check).
    public var grantsEveryDeviceEveryTopic: Bool {
        guard effect == .allow, conditions == PolicyConditions(),
            !actions.isDisjoint(with: [.publish, .subscribe, .receive]),
            principals.groups == nil, principals.attributes == nil,
            principals.services == nil, principals.permissions == nil, principals.anonymous != true,
            principals.devices.map({ $0.contains("*") }) ?? (principals.authentication != nil)
        else { return false }
        // No resources at all cover every topic.
        return resources.isEmpty
            || resources.contains { resource in
                let levels = resource.description.split(separator: "/", omittingEmptySubsequences: false)
                return levels.last == "#" && levels.dropLast().allSatisfy { $0 == "+" }
            }
    }
}

/// Whom a statement is about. Every field given must hold (a list holds when one of its entries does); device
/// fields match devices only, `services` services only, `anonymous` a development listener's clients only.
public struct PolicyPrincipals: Sendable, Hashable {
    /// Device ids; `*` stands for any run of characters (`unit-2*`).
    public var devices: [String]?
    public var groups: Set<GroupName>?
    /// Every `key: value` must be one of the device's attributes.
    public var attributes: [String: String]?
    public var authentication: Set<Device.AuthenticationType>?
    /// Shared access policies; `*` is every service.
    public var services: [String]?
    /// Every one of these must be granted by the service's shared access policy.
    public var permissions: Set<SharedAccessPolicy.Permission>?
    public var anonymous: Bool?

    public init(
        devices: [String]? = nil, groups: Set<GroupName>? = nil, attributes: [String: String]? = nil,
        authentication: Set<Device.AuthenticationType>? = nil, services: [String]? = nil,
        permissions: Set<SharedAccessPolicy.Permission>? = nil, anonymous: Bool? = nil
    ) {
        self.devices = devices
        self.groups = groups
        self.attributes = attributes
        self.authentication = authentication
        self.services = services
        self.permissions = permissions
        self.anonymous = anonymous
    }

    /// Whether any principal kind is named (a statement about nobody in particular is refused).
    var isSpecific: Bool { namesDevices || services != nil || anonymous == true }

    private var namesDevices: Bool { devices != nil || groups != nil || attributes != nil || authentication != nil }

    /// Whether `requestor` is one of these.
    func include(_ requestor: PolicyRequestor) -> Bool {
        switch requestor.kind {
        case .device(let device): include(device: device)
        case .service(let policyName, let granted): include(service: policyName, granted: granted)
        case .anonymous: anonymous == true && !namesDevices && services == nil && permissions == nil
        }
    }

    /// Whether `device` is one of these (the engine asks this form, having taken the device out once).
    func include(device: PolicyRequestor.DeviceFacts) -> Bool {
        guard namesDevices, services == nil, permissions == nil, anonymous != true else { return false }
        if let devices, !devices.contains(where: { Self.glob($0, matches: device.id.rawValue) }) { return false }
        if let groups, groups.isDisjoint(with: device.groups) { return false }
        if let attributes, !attributes.allSatisfy({ device.attributes[$0.key] == $0.value }) { return false }
        if let authentication, device.authentication.map(authentication.contains) != true { return false }
        return true
    }

    func include(service policyName: PolicyName, granted: Set<SharedAccessPolicy.Permission>) -> Bool {
        guard let services, !namesDevices, anonymous != true else { return false }
        if let permissions, !permissions.isSubset(of: granted) { return false }
        return services.contains { Self.glob($0, matches: policyName.rawValue) }
    }

    /// `*` in `pattern` stands for any run of characters; everything else is itself. Byte by byte, without
    /// allocating: it runs for every statement naming devices on every decision.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        // The shipped statements' pattern, on every decision: no walk.
        if pattern.utf8.count == 1, pattern.utf8.first == UInt8(ascii: "*") { return true }
        let star = UInt8(ascii: "*")
        let wanted = pattern.utf8
        let given = text.utf8
        var (p, t) = (wanted.startIndex, given.startIndex)
        // The last `*` seen and where in `text` it is tried to end: on a mismatch it takes one more byte.
        var backtrack: (star: String.UTF8View.Index, text: String.UTF8View.Index)?
        while t < given.endIndex {
            if p < wanted.endIndex, wanted[p] == star {
                backtrack = (p, t)
                p = wanted.index(after: p)
            } else if p < wanted.endIndex, wanted[p] == given[t] {
                p = wanted.index(after: p)
                t = given.index(after: t)
            } else if let (starAt, textAt) = backtrack {
                let next = given.index(after: textAt)
                backtrack = (starAt, next)
                (p, t) = (wanted.index(after: starAt), next)
            } else {
                return false
            }
        }
        while p < wanted.endIndex, wanted[p] == star { p = wanted.index(after: p) }
        return p == wanted.endIndex
    }
}
