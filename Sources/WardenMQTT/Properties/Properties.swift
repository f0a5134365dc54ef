import NIOCore

/// The MQTT 5.0 properties of one packet (or of a Will), each field one property; absent means not sent.
///
/// MQTT 3.1.1 packets have none, and the encoder writes none for them.
public struct Properties: Sendable, Hashable {
    /// The values, behind one reference so that a packet (and every enum case holding one) stays small and
    /// copies cheaply: a profile of the QoS 1 path showed packets' property copies as its largest single cost.
    /// Copy on write; every empty value shares one storage.
    struct Fields: Sendable, Hashable {
        var payloadFormatIndicator: UInt8?
        var messageExpiryInterval: UInt32?
        var contentType: String?
        var responseTopic: String?
        var correlationData: [UInt8]?
        var subscriptionIdentifiers: [Int] = []
        var sessionExpiryInterval: UInt32?
        var assignedClientIdentifier: String?
        var serverKeepAlive: UInt16?
        var authenticationMethod: String?
        var authenticationData: [UInt8]?
        var requestProblemInformation: UInt8?
        var willDelayInterval: UInt32?
        var requestResponseInformation: UInt8?
        var responseInformation: String?
        var serverReference: String?
        var reasonString: String?
        var receiveMaximum: UInt16?
        var topicAliasMaximum: UInt16?
        var topicAlias: UInt16?
        var maximumQoS: UInt8?
        var retainAvailable: UInt8?
        var userProperties: [UserProperty] = []
        var maximumPacketSize: UInt32?
        var wildcardSubscriptionAvailable: UInt8?
        var subscriptionIdentifierAvailable: UInt8?
        var sharedSubscriptionAvailable: UInt8?
    }

    private final class Storage: @unchecked Sendable {
        // Mutated only through `mutate`, after a uniqueness check: never shared while written.
        var fields: Fields

        init(_ fields: Fields) {
            self.fields = fields
        }
    }

    private static let empty = Storage(Fields())
    private var storage: Storage

    public var payloadFormatIndicator: UInt8? {
        get { storage.fields.payloadFormatIndicator }
        set { mutate { $0.payloadFormatIndicator = newValue } }
    }

    public var messageExpiryInterval: UInt32? {
        get { storage.fields.messageExpiryInterval }
        set { mutate { $0.messageExpiryInterval = newValue } }
    }

    public var contentType: String? {
        get { storage.fields.contentType }
        set { mutate { $0.contentType = newValue } }
    }

    public var responseTopic: String? {
        get { storage.fields.responseTopic }
        set { mutate { $0.responseTopic = newValue } }
    }

    public var correlationData: [UInt8]? {
        get { storage.fields.correlationData }
        set { mutate { $0.correlationData = newValue } }
    }

    /// PUBLISH may carry several (one per matching subscription); SUBSCRIBE at most one.
    public var subscriptionIdentifiers: [Int] {
        get { storage.fields.subscriptionIdentifiers }
        set { mutate { $0.subscriptionIdentifiers = newValue } }
    }

    public var sessionExpiryInterval: UInt32? {
        get { storage.fields.sessionExpiryInterval }
        set { mutate { $0.sessionExpiryInterval = newValue } }
    }

    public var assignedClientIdentifier: String? {
        get { storage.fields.assignedClientIdentifier }
        set { mutate { $0.assignedClientIdentifier = newValue } }
    }

    public var serverKeepAlive: UInt16? {
        get { storage.fields.serverKeepAlive }
        set { mutate { $0.serverKeepAlive = newValue } }
    }

    public var authenticationMethod: String? {
        get { storage.fields.authenticationMethod }
        set { mutate { $0.authenticationMethod = newValue } }
    }

    public var authenticationData: [UInt8]? {
        get { storage.fields.authenticationData }
        set { mutate { $0.authenticationData = newValue } }
    }

    public var requestProblemInformation: UInt8? {
        get { storage.fields.requestProblemInformation }
        set { mutate { $0.requestProblemInformation = newValue } }
    }

    public var willDelayInterval: UInt32? {
        get { storage.fields.willDelayInterval }
        set { mutate { $0.willDelayInterval = newValue } }
    }

    public var requestResponseInformation: UInt8? {
        get { storage.fields.requestResponseInformation }
        set { mutate { $0.requestResponseInformation = newValue } }
    }

    public var responseInformation: String? {
        get { storage.fields.responseInformation }
        set { mutate { $0.responseInformation = newValue } }
    }

    public var serverReference: String? {
        get { storage.fields.serverReference }
        set { mutate { $0.serverReference = newValue } }
    }

    public var reasonString: String? {
        get { storage.fields.reasonString }
        set { mutate { $0.reasonString = newValue } }
    }

    public var receiveMaximum: UInt16? {
        get { storage.fields.receiveMaximum }
        set { mutate { $0.receiveMaximum = newValue } }
    }

    public var topicAliasMaximum: UInt16? {
        get { storage.fields.topicAliasMaximum }
        set { mutate { $0.topicAliasMaximum = newValue } }
    }

    public var topicAlias: UInt16? {
        get { storage.fields.topicAlias }
        set { mutate { $0.topicAlias = newValue } }
    }

    public var maximumQoS: UInt8? {
        get { storage.fields.maximumQoS }
        set { mutate { $0.maximumQoS = newValue } }
    }

    public var retainAvailable: UInt8? {
        get { storage.fields.retainAvailable }
        set { mutate { $0.retainAvailable = newValue } }
    }

    /// Name-value pairs, in order; names may repeat.
    public var userProperties: [UserProperty] {
        get { storage.fields.userProperties }
        set { mutate { $0.userProperties = newValue } }
    }

    public var maximumPacketSize: UInt32? {
        get { storage.fields.maximumPacketSize }
        set { mutate { $0.maximumPacketSize = newValue } }
    }

    public var wildcardSubscriptionAvailable: UInt8? {
        get { storage.fields.wildcardSubscriptionAvailable }
        set { mutate { $0.wildcardSubscriptionAvailable = newValue } }
    }

    public var subscriptionIdentifierAvailable: UInt8? {
        get { storage.fields.subscriptionIdentifierAvailable }
        set { mutate { $0.subscriptionIdentifierAvailable = newValue } }
    }

    public var sharedSubscriptionAvailable: UInt8? {
        get { storage.fields.sharedSubscriptionAvailable }
        set { mutate { $0.sharedSubscriptionAvailable = newValue } }
    }

    /// No properties.
    public init() {
        storage = Self.empty
    }

    /// Whether no property is set.
    public var isEmpty: Bool { storage === Self.empty || storage.fields == Fields() }

    private mutating func mutate(_ body: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
        body(&storage.fields)
    }

    public static func == (left: Properties, right: Properties) -> Bool {
        left.storage === right.storage || left.storage.fields == right.storage.fields
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.fields)
    }
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
