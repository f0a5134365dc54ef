import Foundation
import WardenCore

/// Rows of the device-state tables (MQTT sessions, telemetry, cloud-to-device queues, twins) as domain values,
/// for both engines. Numbers the store wrote from narrower types are narrowed back with clamping: a hand-edited
/// value is wrong, not a crash.
enum DeviceStateRows {
    static func session(_ row: some StoreRow) throws -> StoredSession {
        StoredSession(
            tenantID: try TenantID(row.value("tenant_id")), clientID: try row.value("client_id"),
            expiryInterval: UInt32(clamping: try row.value("expiry_interval") as Int64),
            disconnectedAt: (try row.value("disconnected_at") as Double?).map(Date.init(timeIntervalSince1970:)),
            node: try row.value("node"))
    }

    static func subscription(_ row: some StoreRow) throws -> StoredSubscription {
        StoredSubscription(
            tenantID: try TenantID(row.value("tenant_id")), clientID: try row.value("client_id"),
            filter: try row.value("filter"), options: UInt8(clamping: try row.value("options") as Int64),
            identifier: try row.value("identifier"))
    }

    static func message(_ row: some StoreRow) throws -> StoredMessage {
        StoredMessage(
            tenantID: try TenantID(row.value("tenant_id")), clientID: try row.value("client_id"),
            sequence: try row.value("sequence"), message: try payload(row),
            deliveryQoS: UInt8(clamping: try row.value("delivery_qos") as Int64), retain: try row.value("retain"),
            subscriptionIdentifiers: identifiers(try row.value("subscription_identifiers")),
            packetID: (try row.value("packet_id") as Int64?).map { UInt16(clamping: $0) },
            phase: UInt8(clamping: try row.value("phase") as Int64))
    }

    static func retained(_ row: some StoreRow) throws -> StoredRetained {
        let node = try row.value("stamp_node") as Data
        return StoredRetained(
            tenantID: try TenantID(row.value("tenant_id")), message: try payload(row),
            stamp: RetainStamp(time: try row.value("stamp_time"), node: uuid(node) ?? .zero))
    }

    /// A node's identity as stored (16 bytes); nil for anything else (rows from before stamps: none).
    static func uuid(_ bytes: Data) -> UUID? {
        guard bytes.count == 16 else { return nil }
        return bytes.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    /// How a message's subscription identifiers are stored: "1,7".
    static func identifiersText(_ identifiers: [Int]) -> String {
        identifiers.map(String.init).joined(separator: ",")
    }

    private static func payload(_ row: some StoreRow) throws -> StoredPayload {
        StoredPayload(
            topic: try row.value("topic"), payload: Array(try row.value("payload") as Data),
            qos: UInt8(clamping: try row.value("qos") as Int64), properties: Array(try row.value("properties") as Data),
            expiresAt: (try row.value("expires_at") as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    private static func identifiers(_ text: String) -> [Int] {
        // total: parses text: nil unless a number in range.
        text.split(separator: ",").compactMap { Int($0) }
    }

    static func telemetry(_ row: some StoreRow) throws -> TelemetryMessage {
        guard let method = Device.AuthenticationType(rawValue: try row.value("auth_method")) else {
            throw WardenError(.storeUnavailable, "A stored telemetry message names an unknown auth method.")
        }
        return TelemetryMessage(
            sequenceNumber: try row.value("sequence"), tenantID: try TenantID(row.value("tenant_id")),
            deviceID: try DeviceID(row.value("device_id")), enqueuedAtMilliseconds: try row.value("enqueued_at"),
            authMethod: method, properties: try row.value("properties"), body: Array(try row.value("body") as Data))
    }

    static func cloudToDevice(_ row: some StoreRow) throws -> CloudToDeviceMessage {
        let lockToken: String? = try row.value("lock_token")
        let lockUntil: Int64? = try row.value("lock_until")
        return CloudToDeviceMessage(
            sequenceNumber: try row.value("sequence"), tenantID: try TenantID(row.value("tenant_id")),
            deviceID: try DeviceID(row.value("device_id")), messageID: try row.value("message_id"),
            correlationID: try row.value("correlation_id"), properties: try row.value("properties"),
            body: Array(try row.value("body") as Data),
            acknowledgement: CloudToDeviceMessage.Acknowledgement(rawValue: try row.value("ack")) ?? .none,
            enqueuedAt: try row.value("enqueued_at"), expiresAt: try row.value("expires_at"),
            deliveryCount: try row.value("delivery_count"),
            httpsLock: lockToken.flatMap { token in lockUntil.map { .init(token: token, until: $0) } })
    }

    static func feedback(_ row: some StoreRow) throws -> CloudToDeviceFeedback {
        CloudToDeviceFeedback(
            sequenceNumber: try row.value("sequence"), tenantID: try TenantID(row.value("tenant_id")),
            deviceID: try DeviceID(row.value("device_id")), originalMessageID: try row.value("original_message_id"),
            status: CloudToDeviceFeedback.Status(rawValue: try row.value("status")) ?? .rejected,
            description: try row.value("description"), enqueuedAt: try row.value("enqueued_at"),
            recordedAt: try row.value("recorded_at"))
    }

    /// A twin section's stored times: `{"section": ms, "properties": {name: ms}}`.
    private struct Updated: Codable {
        let section: Int64
        let properties: [String: Int64]
    }

    /// A twin's columns as stored: the sections' properties and times as JSON text with sorted keys.
    /// The columns an upsert of one twin section writes over (the same SQL in both engines).
    static func twinSectionUpdate(_ section: TwinSection) -> String {
        let name = section == .desired ? "desired" : "reported"
        return "\(name) = excluded.\(name), \(name)_version = excluded.\(name)_version, "
            + "\(name)_updated = excluded.\(name)_updated"
    }

    struct TwinColumns {
        let desired: String
        let desiredUpdated: String
        let reported: String
        let reportedUpdated: String

        init(_ twin: DeviceTwin) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            func text(_ value: some Encodable) throws -> String {
                String(decoding: try encoder.encode(value), as: UTF8.self)
            }
            desired = try text(twin.desired.properties)
            desiredUpdated = try text(
                Updated(section: twin.desired.sectionUpdated, properties: twin.desired.lastUpdated))
            reported = try text(twin.reported.properties)
            reportedUpdated = try text(
                Updated(section: twin.reported.sectionUpdated, properties: twin.reported.lastUpdated))
        }
    }

    static func twin(_ row: some StoreRow) throws -> DeviceTwin {
        var twin = DeviceTwin(
            tenantID: try TenantID(row.value("tenant_id")), deviceID: try DeviceID(row.value("device_id")))
        twin.desired = try section(
            try row.value("desired"), try row.value("desired_version"), try row.value("desired_updated"))
        twin.reported = try section(
            try row.value("reported"), try row.value("reported_version"), try row.value("reported_updated"))
        return twin
    }

    private static func section(_ properties: String, _ version: Int, _ updated: String) throws -> DeviceTwin.Section {
        let decoder = JSONDecoder()
        var section = DeviceTwin.Section()
        section.properties = try decoder.decode([String: JSONValue].self, from: Data(properties.utf8))
        section.version = version
        let times = try decoder.decode(Updated.self, from: Data(updated.utf8))
        section.sectionUpdated = times.section
        section.lastUpdated = times.properties
        return section
    }
}
