import NIOCore

extension PropertyIdentifier {
    private static let table: [PropertyIdentifier: Set<Place>] = Dictionary(
        uniqueKeysWithValues: allCases.map { ($0, $0.places) })

    func isAllowed(in place: Place) -> Bool {
        Self.table[self]?.contains(place) ?? false
    }
}

extension Properties {
    /// Reads a property block (length, then properties) for `place`. Unknown identifiers and identifiers not
    /// valid for the packet are Malformed (5.0 §2.2.2.2); a repeated property is a Protocol Error, except
    /// User Property and (in PUBLISH) Subscription Identifier.
    static func read(
        from buffer: inout ByteBuffer, place: PropertyIdentifier.Place, limits: DecodingLimits
    ) throws(MQTTDecodingError) -> Properties {
        let length = try buffer.readMQTTVariableInteger()
        guard var block = buffer.readSlice(length: length) else { throw .malformed("properties.longer_than_packet") }
        var properties = Properties()
        var seen: UInt64 = 0
        while block.readableBytes > 0 {
            let raw = try block.readMQTTVariableInteger()
            // total: below 64, checked first.
            guard raw < 64, let identifier = PropertyIdentifier(rawValue: UInt8(raw)) else {
                throw .malformed("property.unknown_identifier", value: raw)
            }
            guard identifier.isAllowed(in: place) else {
                throw .malformed("property.not_allowed_in_packet", value: raw)
            }
            let bit = UInt64(1) << raw
            let mayRepeat =
                identifier == .userProperty || (identifier == .subscriptionIdentifier && place == .packet(.publish))
            guard mayRepeat || seen & bit == 0 else { throw .protocolError("property.duplicate") }
            seen |= bit
            try properties.read(identifier, from: &block, limits: limits)
        }
        return properties
    }

    private mutating func read(
        _ identifier: PropertyIdentifier, from block: inout ByteBuffer, limits: DecodingLimits
    ) throws(MQTTDecodingError) {
        switch identifier {
        case .payloadFormatIndicator: payloadFormatIndicator = try Self.flag(&block, "payload_format_indicator")
        case .messageExpiryInterval: messageExpiryInterval = try block.readMQTTUInt32()
        case .contentType: contentType = try block.readMQTTString()
        case .responseTopic: responseTopic = try block.readMQTTString()
        case .correlationData: correlationData = try block.readMQTTBinary()
        case .subscriptionIdentifier:
            let value = try block.readMQTTVariableInteger()
            guard value != 0 else { throw .protocolError("subscription_identifier.zero") }
            subscriptionIdentifiers.append(value)
        case .sessionExpiryInterval: sessionExpiryInterval = try block.readMQTTUInt32()
        case .assignedClientIdentifier: assignedClientIdentifier = try block.readMQTTString()
        case .serverKeepAlive: serverKeepAlive = try block.readMQTTUInt16()
        case .authenticationMethod: authenticationMethod = try block.readMQTTString()
        case .authenticationData: authenticationData = try block.readMQTTBinary()
        case .requestProblemInformation:
            requestProblemInformation = try Self.flag(&block, "request_problem_information")
        case .willDelayInterval: willDelayInterval = try block.readMQTTUInt32()
        case .requestResponseInformation:
            requestResponseInformation = try Self.flag(&block, "request_response_information")
        case .responseInformation: responseInformation = try block.readMQTTString()
        case .serverReference: serverReference = try block.readMQTTString()
        case .reasonString: reasonString = try block.readMQTTString()
        case .receiveMaximum: receiveMaximum = try Self.nonZero(try block.readMQTTUInt16(), "receive_maximum.zero")
        case .topicAliasMaximum: topicAliasMaximum = try block.readMQTTUInt16()
        case .topicAlias: topicAlias = try Self.nonZero(try block.readMQTTUInt16(), "topic_alias.zero")
        case .maximumQoS: maximumQoS = try Self.flag(&block, "maximum_qos")
        case .retainAvailable: retainAvailable = try Self.flag(&block, "retain_available")
        case .userProperty:
            guard userProperties.count < limits.maximumUserProperties else {
                throw .malformed("user_properties.too_many", limit: limits.maximumUserProperties)
            }
            userProperties.append(UserProperty(try block.readMQTTString(), try block.readMQTTString()))
        case .maximumPacketSize:
            maximumPacketSize = try Self.nonZero(try block.readMQTTUInt32(), "maximum_packet_size.zero")
        case .wildcardSubscriptionAvailable: wildcardSubscriptionAvailable = try Self.flag(&block, "wildcard_available")
        case .subscriptionIdentifierAvailable:
            subscriptionIdentifierAvailable = try Self.flag(&block, "subscription_identifier_available")
        case .sharedSubscriptionAvailable: sharedSubscriptionAvailable = try Self.flag(&block, "shared_available")
        }
    }

    /// A byte that must be 0 or 1 ("It is a Protocol Error to include a value other than 0 or 1").
    private static func flag(_ block: inout ByteBuffer, _ rule: String) throws(MQTTDecodingError) -> UInt8 {
        let value = try block.readMQTTByte()
        guard value <= 1 else { throw .protocolError(rule + ".not_0_or_1") }
        return value
    }

    private static func nonZero<T: FixedWidthInteger>(_ value: T, _ rule: String) throws(MQTTDecodingError) -> T {
        guard value != 0 else { throw .protocolError(rule) }
        return value
    }

    /// Writes the property block (length, then properties in identifier order).
    func write(to buffer: inout ByteBuffer) throws(MQTTEncodingError) {
        var block = ByteBuffer()
        try writeProperties(to: &block)
        buffer.writeMQTTVariableInteger(block.readableBytes)
        buffer.writeImmutableBuffer(block)
    }

    private func writeProperties(to block: inout ByteBuffer) throws(MQTTEncodingError) {
        // One writer for the byte, two-byte and four-byte integer properties: the value's type sets the width.
        func integer(_ id: PropertyIdentifier, _ value: (some FixedWidthInteger)?) {
            guard let value else { return }
            block.writeInteger(id.rawValue)
            block.writeInteger(value)
        }
        func string(_ id: PropertyIdentifier, _ value: String?) throws(MQTTEncodingError) {
            guard let value else { return }
            block.writeInteger(id.rawValue)
            try block.writeMQTTString(value)
        }
        func binary(_ id: PropertyIdentifier, _ value: [UInt8]?) throws(MQTTEncodingError) {
            guard let value else { return }
            block.writeInteger(id.rawValue)
            try block.writeMQTTBinary(value)
        }
        integer(.payloadFormatIndicator, payloadFormatIndicator)
        integer(.messageExpiryInterval, messageExpiryInterval)
        try string(.contentType, contentType)
        try string(.responseTopic, responseTopic)
        try binary(.correlationData, correlationData)
        for identifier in subscriptionIdentifiers {
            block.writeInteger(PropertyIdentifier.subscriptionIdentifier.rawValue)
            block.writeMQTTVariableInteger(identifier)
        }
        integer(.sessionExpiryInterval, sessionExpiryInterval)
        try string(.assignedClientIdentifier, assignedClientIdentifier)
        integer(.serverKeepAlive, serverKeepAlive)
        try string(.authenticationMethod, authenticationMethod)
        try binary(.authenticationData, authenticationData)
        integer(.requestProblemInformation, requestProblemInformation)
        integer(.willDelayInterval, willDelayInterval)
        integer(.requestResponseInformation, requestResponseInformation)
        try string(.responseInformation, responseInformation)
        try string(.serverReference, serverReference)
        try string(.reasonString, reasonString)
        integer(.receiveMaximum, receiveMaximum)
        integer(.topicAliasMaximum, topicAliasMaximum)
        integer(.topicAlias, topicAlias)
        integer(.maximumQoS, maximumQoS)
        integer(.retainAvailable, retainAvailable)
        for property in userProperties {
            block.writeInteger(PropertyIdentifier.userProperty.rawValue)
            try block.writeMQTTString(property.name)
            try block.writeMQTTString(property.value)
        }
        integer(.maximumPacketSize, maximumPacketSize)
        integer(.wildcardSubscriptionAvailable, wildcardSubscriptionAvailable)
        integer(.subscriptionIdentifierAvailable, subscriptionIdentifierAvailable)
        integer(.sharedSubscriptionAvailable, sharedSubscriptionAvailable)
    }
}

extension Properties {
    /// The property block in wire form, for storing a PUBLISH's properties (`init(publishBlock:)` reads it back).
    /// Properties the wire cannot carry give an empty block: only the server builds such values, and a
    /// message holding them is never delivered either.
    public var publishBlock: [UInt8] {
        var buffer = ByteBuffer()
        guard (try? write(to: &buffer)) != nil else { return [] }
        return Array(buffer.readableBytesView)
    }

    /// Reads a block `publishBlock` wrote, with PUBLISH's rules.
    public init(publishBlock: [UInt8]) throws(MQTTDecodingError) {
        var buffer = ByteBuffer(bytes: publishBlock)
        self = try Properties.read(from: &buffer, place: .packet(.publish), limits: .protocolMaximum)
    }
}
