public import Foundation

/// A refusal the Defender (or an operator) put on a source, until it expires or is removed (issue 16).
public struct Ban: Sendable, Hashable {
    /// What is refused.
    public enum Subject: Sendable, Hashable, CustomStringConvertible {
        /// Connections from these addresses, before any TLS work (new connections; those already
        /// authenticated stay, so that one attacker behind a NAT does not cut off honest devices).
        case address(CIDR)
        /// CONNECTs with this MQTT client id, in any tenant; live connections with it close.
        case clientID(String)
        /// One device, by every protocol; its live connections close.
        case device(TenantID, DeviceID)

        /// `address`, `client-id` or `device`.
        public var kind: String {
            switch self {
            case .address: "address"
            case .clientID: "client-id"
            case .device: "device"
            }
        }

        /// The CIDR, the client id, or `{tenant}/{device}`.
        public var value: String {
            switch self {
            case .address(let range): range.description
            case .clientID(let id): id
            case .device(let tenantID, let deviceID): "\(tenantID)/\(deviceID)"
            }
        }

        public var description: String { "\(kind) \(value)" }

        /// The subject `kind` names with `value`; `request.invalid_field` (or the value's own code) otherwise.
        public init(kind: String, value: String) throws(WardenError) {
            switch kind {
            case "address":
                self = .address(try CIDR(value.contains("/") ? value : Self.single(value)))
            case "client-id":
                guard !value.isEmpty, value.utf8.count <= 256 else {
                    throw WardenError(.requestInvalidField, "A client id is 1 to 256 bytes.")
                }
                self = .clientID(value)
            case "device":
                guard let slash = value.firstIndex(of: "/") else {
                    throw WardenError(.requestInvalidField, "A device is named {tenant}/{device id}.")
                }
                self = .device(
                    try TenantID(String(value[..<slash])), try DeviceID(String(value[value.index(after: slash)...])))
            default:
                throw WardenError(.requestInvalidField, "A ban's kind is address, client-id or device.")
            }
        }

        /// One address as a CIDR of its own.
        private static func single(_ address: String) -> String {
            address.contains(":") ? address + "/128" : address + "/32"
        }
    }

    public let id: String
    public let subject: Subject
    public let reason: String
    public let createdAt: Date
    /// Nil: until removed.
    public let expiresAt: Date?
    /// `user:{name}`, `service:{name}`, or `defender:{rule}` for an automatic one.
    public let createdBy: String
    /// The alert that caused it, for an automatic one.
    public let alertID: String?

    public init(
        id: String, subject: Subject, reason: String, createdAt: Date, expiresAt: Date?, createdBy: String,
        alertID: String? = nil
    ) {
        self.id = id
        self.subject = subject
        self.reason = reason
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.createdBy = createdBy
        self.alertID = alertID
    }

    /// Whether it refuses at `now`.
    public func isActive(at now: Date) -> Bool { expiresAt.map { $0 > now } ?? true }
}

/// Where connections ask whether a source is banned (the broker's listeners and CONNECT, the HTTPS listener,
/// the HTTPS device API); the Defender answers from memory.
public protocol ConnectionGate: Sendable {
    /// The ban refusing new connections from `address`, if any.
    func ban(of address: IPAddress) -> Ban?
    /// The ban refusing a CONNECT with `clientID`, if any.
    func ban(ofClientID clientID: String) -> Ban?
    /// The ban refusing the device, if any.
    func ban(of deviceID: DeviceID, in tenantID: TenantID) -> Ban?
    /// A TCP connection from `address` was let in (counted for the connection-flood rule).
    func accepted(from address: IPAddress)
}

extension ConnectionGate {
    public func accepted(from address: IPAddress) {}
}

/// A gate that refuses nothing (tests, tools).
public struct OpenGate: ConnectionGate {
    public init() {}
    public func ban(of address: IPAddress) -> Ban? { nil }
    public func ban(ofClientID clientID: String) -> Ban? { nil }
    public func ban(of deviceID: DeviceID, in tenantID: TenantID) -> Ban? { nil }
}
