import NIOCore

/// The MQTT 5.0 properties of one packet (or of a Will), each field one property; absent means not sent.
///
/// MQTT 3.1.1 packets have none, and the encoder writes none for them.
public struct Properties: Sendable, Hashable {
    public var payloadFormatIndicator: UInt8?
    public var messageExpiryInterval: UInt32?
    public var contentType: String?
    public var responseTopic: String?
    public var correlationData: [UInt8]?
    /// PUBLISH may carry several (one per matching subscription); SUBSCRIBE at most one.
    public var subscriptionIdentifiers: [Int] = []
    public var sessionExpiryInterval: UInt32?
    public var assignedClientIdentifier: String?
    public var serverKeepAlive: UInt16?
    public var authenticationMethod: String?
    public var authenticationData: [UInt8]?
    public var requestProblemInformation: UInt8?
    public var willDelayInterval: UInt32?
    public var requestResponseInformation: UInt8?
    public var responseInformation: String?
    public var serverReference: String?
    public var reasonString: String?
    public var receiveMaximum: UInt16?
    public var topicAliasMaximum: UInt16?
    public var topicAlias: UInt16?
    public var maximumQoS: UInt8?
    public var retainAvailable: UInt8?
    /// Name-value pairs, in order; names may repeat.
    public var userProperties: [UserProperty] = []
    public var maximumPacketSize: UInt32?
    public var wildcardSubscriptionAvailable: UInt8?
    public var subscriptionIdentifierAvailable: UInt8?
    public var sharedSubscriptionAvailable: UInt8?

    /// No properties.
    public init() {}

    /// Whether no property is set.
    public var isEmpty: Bool { self == Properties() }
}

/// One MQTT 5.0 User Property.
public struct UserProperty: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
