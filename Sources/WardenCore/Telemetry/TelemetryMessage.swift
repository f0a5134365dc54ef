public import Foundation

/// One device-to-cloud message as the hub stored it: the device's body and properties, stamped with who sent
/// it, when it was enqueued and its place in the hub's sequence.
public struct TelemetryMessage: Sendable, Equatable {
    /// Unique and increasing across the hub, in the order messages were accepted.
    public let sequenceNumber: Int64
    public let tenantID: TenantID
    public let deviceID: DeviceID
    /// When the hub accepted it, in milliseconds since 1970 (UTC).
    public let enqueuedAtMilliseconds: Int64
    /// How the sending connection authenticated.
    public let authMethod: Device.AuthenticationType
    /// The property bag as the device wrote it on the topic (`name=value&…`, percent-encoded; `$`-prefixed
    /// system properties), followed by what the hub adds (`iothub-MessageType=Will`, `mqtt-retain=true`).
    /// Kept as text so that storing a message costs no encoding; readers parse it.
    public let properties: String
    public let body: [UInt8]

    public init(
        sequenceNumber: Int64, tenantID: TenantID, deviceID: DeviceID, enqueuedAtMilliseconds: Int64,
        authMethod: Device.AuthenticationType, properties: String, body: [UInt8]
    ) {
        self.sequenceNumber = sequenceNumber
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.enqueuedAtMilliseconds = enqueuedAtMilliseconds
        self.authMethod = authMethod
        self.properties = properties
        self.body = body
    }

    /// `enqueuedAtMilliseconds` as a date.
    public var enqueuedAt: Date { Date(timeIntervalSince1970: Double(enqueuedAtMilliseconds) / 1000) }
}
