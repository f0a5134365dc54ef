public import WardenAuthentication
public import WardenAzure
public import WardenCore
public import WardenStore

/// Where the hub (WardenHub) takes over from plain MQTT: each authorized PUBLISH of a device, and each
/// device's Will, passes through it before the broker routes anything.
public protocol DeviceTrafficHandler: Sendable {
    /// Decides what becomes of `message`: the durable changes it makes (recorded before routing, so that the
    /// acknowledgement waits for their commit) and what to route instead of it, if anything.
    func received(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool) -> DeviceTrafficOutcome
    /// A device's connection is ready for what the hub holds for it: after CONNACK, and after each SUBSCRIBE.
    func deviceReady(_ sender: DeviceSender)
    /// A device's connection ended; what the hub had in flight on it is its own again.
    func deviceGone(_ sender: DeviceSender)
}

/// The device behind a PUBLISH, as its connection proved it.
public struct DeviceSender: Sendable, Hashable {
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let authMethod: Device.AuthenticationType
    public let dialect: DeviceDialect

    public init(tenantID: TenantID, deviceID: DeviceID, authMethod: Device.AuthenticationType, dialect: DeviceDialect) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.authMethod = authMethod
        self.dialect = dialect
    }
}

extension DeviceIdentity {
    /// The sender the hub sees on this identity's messages.
    public var sender: DeviceSender {
        DeviceSender(tenantID: tenantID, deviceID: deviceID, authMethod: method, dialect: dialect)
    }
}

/// What the hub made of a device's PUBLISH.
public struct DeviceTrafficOutcome: Sendable {
    /// Changes to commit before the PUBLISH is acknowledged, in order.
    public var changes: [DeviceStateChange]
    /// What the broker routes in the tenant's topic space; nil routes nothing.
    public var route: BrokerMessage?
    /// Why the hub refused the message, for the log; the client is told Topic Name invalid (5.0) or, having no
    /// way to hear a refusal, is disconnected (3.1.1).
    public var refusal: String?
    /// Runs once `changes`, and everything recorded before them, are committed (a twin response).
    public var afterCommit: (@Sendable () -> Void)?

    public init(changes: [DeviceStateChange] = [], route: BrokerMessage?) {
        self.changes = changes
        self.route = route
    }

    /// A refusal: nothing recorded, nothing routed.
    public static func refused(_ reason: String) -> DeviceTrafficOutcome {
        var outcome = DeviceTrafficOutcome(route: nil)
        outcome.refusal = reason
        return outcome
    }
}
