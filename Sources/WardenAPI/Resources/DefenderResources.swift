public import Foundation
public import WardenCore
public import WardenDefender

/// A ban as the API shows it.
public struct BanResource: Codable, Sendable {
    public let id: String
    /// `address`, `client-id` or `device`.
    public let kind: String
    /// The CIDR, the client id, or `{tenant}/{device}`.
    public let value: String
    public let reason: String
    public let createdAt: Date
    public let expiresAt: Date?
    public let createdBy: String
    /// The alert that caused an automatic ban.
    public let alertId: String?

    init(_ ban: Ban) {
        id = ban.id
        kind = ban.subject.kind
        value = ban.subject.value
        reason = ban.reason
        createdAt = ban.createdAt
        expiresAt = ban.expiresAt
        createdBy = ban.createdBy
        alertId = ban.alertID
    }
}

/// `POST /api/v1/bans`.
struct CreateBanRequest: APIRequestBody {
    static let fields: Set<String> = ["kind", "value", "reason", "ttlSeconds"]
    let kind: String
    let value: String
    let reason: String?
    /// Absent: until removed.
    let ttlSeconds: Int?
}

/// An alert as the API shows it.
public struct AlertResource: Codable, Sendable {
    public let id: String
    public let tenantId: String?
    public let rule: String
    public let severity: String
    public let status: String
    public let subject: String
    public let summary: String
    public let count: Int
    public let firstSeen: Date
    public let lastSeen: Date
    public let changedBy: String?
    public let changedAt: Date?

    init(_ alert: Alert) {
        id = alert.id
        tenantId = alert.tenantID?.rawValue
        rule = alert.rule
        severity = alert.severity.rawValue
        status = alert.status.rawValue
        subject = alert.subject
        summary = alert.summary
        count = alert.count
        firstSeen = alert.firstSeen
        lastSeen = alert.lastSeen
        changedBy = alert.changedBy
        changedAt = alert.changedAt
    }
}

/// A quarantined device as the API shows it.
public struct QuarantineResource: Codable, Sendable {
    public let deviceId: String
    public let level: String
    public let reason: String
    public let createdAt: Date
    public let createdBy: String
    public let alertId: String?

    init(_ quarantine: Quarantine) {
        deviceId = quarantine.deviceID.rawValue
        level = quarantine.level
        reason = quarantine.reason
        createdAt = quarantine.createdAt
        createdBy = quarantine.createdBy
        alertId = quarantine.alertID
    }
}

/// `POST /api/v1/tenants/{tenant}/bans`.
struct CreateTenantBanRequest: APIRequestBody {
    static let fields: Set<String> = ["deviceId", "reason", "ttlSeconds"]
    let deviceId: String
    let reason: String?
    /// Absent: until removed.
    let ttlSeconds: Int?
}

/// `PUT …/devices/{device}/quarantine`.
struct QuarantineRequest: APIRequestBody {
    static let fields: Set<String> = ["level", "reason"]
    let level: String?
    let reason: String?
}

/// The alert webhook as the API shows it (never its secret).
public struct AlertWebhookResource: Codable, Sendable {
    public let configured: Bool
    public let url: String?
    public let delivered: Int
    public let failed: Int
    public let dropped: Int
    public let pending: Int
    public let lastDeliveredAt: Date?
    public let lastError: String?

    init(_ webhook: AlertWebhook?) {
        let status = webhook?.current ?? AlertWebhook.Status()
        configured = webhook != nil
        url = webhook?.url
        delivered = status.delivered
        failed = status.failed
        dropped = status.dropped
        pending = status.pending
        lastDeliveredAt = status.lastDeliveredAt
        lastError = status.lastError
    }
}

/// `GET|PUT …/defender/rules`: the tenant's document as written (nil: none), and the rules in force.
struct DefenderRulesResource: Encodable {
    let document: JSONValue?
    let rules: JSONValue

    init(document text: String?, rules: DeviceRules) {
        document = text.flatMap { try? JSONValue.parse(Array($0.utf8), limits: .requestBody) }
        self.rules = rules.document
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        // Null, not absent: a tenant without a document says so.
        try container.encode(document ?? .null, forKey: .document)
        try container.encode(rules, forKey: .rules)
    }

    private enum CodingKeys: String, CodingKey { case document, rules }
}

/// `GET …/defender/inventory`: one device as the inventory knows it.
public struct InventoryResource: Codable, Sendable {
    public struct Flows: Codable, Sendable {
        public let topics: [String]
        public let messagesPerSecond: Double?
        public let averagePayloadBytes: Double?
    }

    public let deviceId: String
    public let status: String
    public let authentication: String
    public let lastConnectedAt: Date?
    public let address: String?
    public let `protocol`: String?
    public let tlsVersion: String?
    public let cipherSuite: String?
    public let clientLibrary: String?
    public let certificateExpiresAt: Date?
    public let quarantine: String?
    public let flows: Flows

    public init(_ entry: InventoryEntry) {
        let connection = entry.lastConnection
        deviceId = entry.device.id.rawValue
        status = entry.device.status.rawValue
        authentication = entry.device.authentication.type.rawValue
        lastConnectedAt = connection?.at
        address = connection?.peerAddress.description
        `protocol` = connection?.protocolName
        tlsVersion = connection?.tlsVersion
        cipherSuite = connection?.cipherSuite
        clientLibrary = connection?.clientLibrary
        certificateExpiresAt = connection?.certificateNotAfter
        quarantine = entry.quarantine
        flows = Flows(
            topics: entry.topics, messagesPerSecond: entry.messageRate, averagePayloadBytes: entry.averagePayload)
    }

    /// The CSV header `csvLine` follows.
    public static let csvHeader = CSV.line([
        "device", "status", "authentication", "last connected", "address", "protocol", "tls", "cipher suite",
        "client library", "certificate expires", "quarantine", "topics", "messages per second",
        "average payload bytes",
    ])

    /// One CSV line; values a device chose (its client library, its topics) cannot run as formulas.
    public var csvLine: String {
        let time = { (date: Date?) in date.map { UTCTimestamp.string(milliseconds: $0.unixMilliseconds) } ?? "" }
        let number = { (value: Double?) in value.map { String(format: "%.2f", $0) } ?? "" }
        return CSV.line(
            [
                deviceId, status, authentication, time(lastConnectedAt), address ?? "", self.protocol ?? "",
                tlsVersion ?? "", cipherSuite ?? "", clientLibrary ?? "", time(certificateExpiresAt),
                quarantine ?? "", flows.topics.joined(separator: " "), number(flows.messagesPerSecond),
                number(flows.averagePayloadBytes),
            ], guardingFormulas: true)
    }
}
