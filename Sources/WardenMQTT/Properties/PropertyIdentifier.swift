/// MQTT 5.0 property identifiers (5.0 §2.2.2.2) and the packets each may appear in.
enum PropertyIdentifier: UInt8, CaseIterable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A

    /// Where a property may stand: a packet type, or the Will Properties of CONNECT.
    enum Place: Hashable {
        case packet(PacketType)
        case will
    }

    /// The places this property is valid in (5.0 §2.2.2.2 table 2-4).
    var places: Set<Place> {
        switch self {
        case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
            [.packet(.publish), .will]
        case .subscriptionIdentifier: [.packet(.publish), .packet(.subscribe)]
        case .sessionExpiryInterval: [.packet(.connect), .packet(.connack), .packet(.disconnect)]
        case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
            .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable:
            [.packet(.connack)]
        case .authenticationMethod, .authenticationData: [.packet(.connect), .packet(.connack), .packet(.auth)]
        case .requestProblemInformation, .requestResponseInformation: [.packet(.connect)]
        case .willDelayInterval: [.will]
        case .serverReference: [.packet(.connack), .packet(.disconnect)]
        case .reasonString:
            [
                .packet(.connack), .packet(.puback), .packet(.pubrec), .packet(.pubrel), .packet(.pubcomp),
                .packet(.suback), .packet(.unsuback), .packet(.disconnect), .packet(.auth),
            ]
        case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize: [.packet(.connect), .packet(.connack)]
        case .topicAlias: [.packet(.publish)]
        case .userProperty:
            Set(PacketType.allCases.filter { $0 != .pingreq && $0 != .pingresp }.map { .packet($0) } + [.will])
        }
    }
}
