/// A cloud-to-device message in a device's queue (anchors.md §1.5): what the service sent and where it stands.
public struct CloudToDeviceMessage: Sendable, Equatable {
    /// Which feedback the sender wants (`iothub-ack`).
    public enum Acknowledgement: String, Sendable, Codable, CaseIterable {
        case none, positive, negative, full

        /// Whether completion is reported.
        public var reportsSuccess: Bool { self == .positive || self == .full }
        /// Whether dead-lettering (rejected, expired, too many deliveries, purged) is reported.
        public var reportsFailure: Bool { self == .negative || self == .full }
    }

    /// Unique and increasing across the hub; the queue's order.
    public let sequenceNumber: Int64
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let messageID: String
    public let correlationID: String?
    /// Application properties and the content type and encoding (`$.ct`, `$.ce`), as a property bag's text.
    public let properties: String
    public let body: [UInt8]
    public let acknowledgement: Acknowledgement
    /// Unix milliseconds.
    public let enqueuedAt: Int64
    public let expiresAt: Int64
    /// Deliveries abandoned so far (lock expiry does not count, as in IoT Hub).
    public var deliveryCount: Int
    /// The lock of an HTTPS receive, stored so that the device may settle it on any node and after a restart.
    public var httpsLock: HTTPSLock?

    /// An HTTPS receiver's hold on a message: its ETag and until when (Unix milliseconds).
    public struct HTTPSLock: Sendable, Equatable {
        public let token: String
        public let until: Int64

        public init(token: String, until: Int64) {
            self.token = token
            self.until = until
        }
    }

    public init(
        sequenceNumber: Int64, tenantID: TenantID, deviceID: DeviceID, messageID: String, correlationID: String?,
        properties: String, body: [UInt8], acknowledgement: Acknowledgement, enqueuedAt: Int64, expiresAt: Int64,
        deliveryCount: Int = 0, httpsLock: HTTPSLock? = nil
    ) {
        self.sequenceNumber = sequenceNumber
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.messageID = messageID
        self.correlationID = correlationID
        self.properties = properties
        self.body = body
        self.acknowledgement = acknowledgement
        self.enqueuedAt = enqueuedAt
        self.expiresAt = expiresAt
        self.deliveryCount = deliveryCount
        self.httpsLock = httpsLock
    }
}

/// What became of a cloud-to-device message whose sender asked to know (IoT Hub's feedback record).
public struct CloudToDeviceFeedback: Sendable, Equatable {
    /// IoT Hub's status codes.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case success = "Success"
        case expired = "Expired"
        case deliveryCountExceeded = "DeliveryCountExceeded"
        case rejected = "Rejected"
        case purged = "Purged"
    }

    /// Unique and increasing across the hub.
    public let sequenceNumber: Int64
    public let tenantID: TenantID
    public let deviceID: DeviceID
    public let originalMessageID: String
    public let status: Status
    public let description: String
    /// When the original message was enqueued, and when this record was made (Unix milliseconds).
    public let enqueuedAt: Int64
    public let recordedAt: Int64

    public init(
        sequenceNumber: Int64, tenantID: TenantID, deviceID: DeviceID, originalMessageID: String, status: Status,
        description: String, enqueuedAt: Int64, recordedAt: Int64
    ) {
        self.sequenceNumber = sequenceNumber
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.originalMessageID = originalMessageID
        self.status = status
        self.description = description
        self.enqueuedAt = enqueuedAt
        self.recordedAt = recordedAt
    }
}
