import Foundation
import WardenAzure
import WardenCore
import WardenHub

/// One stored device-to-cloud message as the API shows it. System properties get Azure's names
/// (`$.mid` → `messageId`, …; others keep their `$` name); the body is text when it is UTF-8, else base64.
public struct TelemetryResource: Codable, Sendable {
    /// The short names devices put in property bags, and the names the API uses.
    static let systemNames = [
        "$.mid": "messageId", "$.cid": "correlationId", "$.ct": "contentType", "$.ce": "contentEncoding",
        "$.uid": "userId", "$.to": "to", "$.exp": "expiryTimeUtc", "$.ctime": "creationTimeUtc",
        "$.ifid": "interfaceId", "$.sub": "componentName",
    ]

    public let sequenceNumber: Int64
    public let enqueuedTime: String
    public let deviceId: String
    public let authMethod: String
    public let systemProperties: [String: String]
    public let properties: [String: String?]
    public let body: String
    public let bodyEncoding: String

    init(_ message: TelemetryMessage) {
        sequenceNumber = message.sequenceNumber
        enqueuedTime = UTCTimestamp.string(milliseconds: message.enqueuedAtMilliseconds)
        deviceId = message.deviceID.rawValue
        authMethod = message.authMethod.rawValue
        var system: [String: String] = [:]
        var application: [String: String?] = [:]
        // Stored bags parsed when they were accepted; one that no longer parses shows no properties.
        let bag = (try? PropertyBag(parsing: Substring(message.properties))) ?? PropertyBag()
        for property in bag.properties {
            if property.isSystem {
                system[Self.systemNames[property.name] ?? property.name] = property.value ?? ""
            } else {
                application[property.name] = .some(property.value)
            }
        }
        systemProperties = system
        properties = application
        (body, bodyEncoding) = MessageBody.text(message.body)
    }

    /// The CSV header `csvRow` follows.
    static let csvHeader =
        "sequenceNumber,enqueuedTime,deviceId,authMethod,messageId,correlationId,contentType,properties,body,bodyEncoding"

    /// One CSV line (RFC 4180 quoting); the application properties are a JSON object in one field.
    var csvRow: String {
        let propertiesJSON = (try? JSONResponse.encoder.encode(properties)).map { String(decoding: $0, as: UTF8.self) }
        return [
            String(sequenceNumber), enqueuedTime, deviceId, authMethod, systemProperties["messageId"] ?? "",
            systemProperties["correlationId"] ?? "", systemProperties["contentType"] ?? "", propertiesJSON ?? "{}",
            body, bodyEncoding,
        ].map { CSV.field($0) }.joined(separator: ",")
    }
}
