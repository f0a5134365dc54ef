import Foundation
import WardenAzure
import WardenCore
import WardenHub

/// `POST …/devices/{device}/c2d`.
struct SendCloudToDeviceRequest: APIRequestBody {
    static let fields: Set<String> = [
        "body", "bodyEncoding", "messageId", "correlationId", "properties", "contentType", "contentEncoding",
        "ttlSeconds", "ack",
    ]

    let body: String
    /// `utf-8` (default) or `base64`.
    let bodyEncoding: String?
    let messageId: String?
    let correlationId: String?
    let properties: [String: String]?
    let contentType: String?
    let contentEncoding: String?
    let ttlSeconds: Int64?
    let ack: CloudToDeviceMessage.Acknowledgement?

    func request() throws -> CloudToDeviceService.Request {
        let bytes: [UInt8]
        switch bodyEncoding ?? "utf-8" {
        case "utf-8": bytes = Array(body.utf8)
        case "base64":
            guard let data = Data(base64Encoded: body) else {
                throw WardenError(.requestInvalidField, "Field 'body' is not valid base64.")
            }
            bytes = Array(data)
        default:
            throw WardenError(.requestInvalidField, "Field 'bodyEncoding' must be 'utf-8' or 'base64'.")
        }
        for name in [messageId, correlationId].compactMap({ $0 }) where name.isEmpty || name.utf8.count > 128 {
            throw WardenError(.requestInvalidField, "A message or correlation id must be 1 to 128 bytes.")
        }
        if let name = properties?.keys.first(where: { $0.isEmpty || $0.hasPrefix("$") || $0.hasPrefix("iothub-") }) {
            throw WardenError(
                .requestInvalidField,
                "Property name '\(name)' is empty or reserved ('$…' and 'iothub-…' are the hub's).")
        }
        return CloudToDeviceService.Request(
            body: bytes, messageID: messageId, correlationID: correlationId,
            properties: (properties ?? [:]).sorted { $0.key < $1.key }.map { PropertyBag.Property($0.key, $0.value) },
            contentType: contentType, contentEncoding: contentEncoding, timeToLive: ttlSeconds,
            acknowledgement: ack ?? .none)
    }
}

/// A cloud-to-device message as the API shows it.
public struct CloudToDeviceResource: Codable, Sendable {
    public let sequenceNumber: Int64
    public let deviceId: String
    public let messageId: String
    public let correlationId: String?
    /// `enqueued` or `invisible` (locked by a receiver).
    public let state: String
    public let ack: String
    public let deliveryCount: Int
    public let enqueuedTime: String
    public let expiryTime: String
    public let properties: [String: String?]
    public let contentType: String?
    public let contentEncoding: String?
    public let body: String
    public let bodyEncoding: String

    init(_ message: CloudToDeviceMessage, isLocked: Bool = false) {
        sequenceNumber = message.sequenceNumber
        deviceId = message.deviceID.rawValue
        messageId = message.messageID
        correlationId = message.correlationID
        state = isLocked ? "invisible" : "enqueued"
        ack = message.acknowledgement.rawValue
        deliveryCount = message.deliveryCount
        enqueuedTime = UTCTimestamp.string(milliseconds: message.enqueuedAt)
        expiryTime = UTCTimestamp.string(milliseconds: message.expiresAt)
        let bag = (try? PropertyBag(parsing: Substring(message.properties))) ?? PropertyBag()
        var application: [String: String?] = [:]
        for property in bag.properties where !property.isSystem { application[property.name] = .some(property.value) }
        properties = application
        contentType = bag["$.ct"]
        contentEncoding = bag["$.ce"]
        (body, bodyEncoding) = MessageBody.text(message.body)
    }
}

/// A feedback record as the API shows it (IoT Hub's field names).
public struct FeedbackResource: Codable, Sendable {
    public let sequenceNumber: Int64
    public let originalMessageId: String
    public let deviceId: String
    public let statusCode: String
    public let description: String
    public let enqueuedTimeUtc: String
    public let recordedTimeUtc: String

    init(_ feedback: CloudToDeviceFeedback) {
        sequenceNumber = feedback.sequenceNumber
        originalMessageId = feedback.originalMessageID
        deviceId = feedback.deviceID.rawValue
        statusCode = feedback.status.rawValue
        description = feedback.description
        enqueuedTimeUtc = UTCTimestamp.string(milliseconds: feedback.enqueuedAt)
        recordedTimeUtc = UTCTimestamp.string(milliseconds: feedback.recordedAt)
    }
}

/// `DELETE …/c2d`.
struct PurgeResource: Codable, Sendable {
    let purged: Int
}
