import NIOCore
import Testing
import WardenMQTT

/// Encode-then-decode gives back the same packet, over many generated packets of every type and both
/// versions (a seeded generator, so a failure reproduces).
struct RoundTripTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Generator {
        var random: SplitMix64
        let version: ProtocolVersion

        mutating func bool() -> Bool { Bool.random(using: &random) }
        mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
        mutating func bytes(_ maximum: Int) -> [UInt8] {
            (0..<int(0...maximum)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        mutating func qos() -> QoS { QoS(rawValue: UInt8(int(0...2))) ?? .atMostOnce }
        mutating func packetID() -> UInt16 { UInt16(int(1...65535)) }

        /// Text drawn from ASCII, multi-byte and astral characters (no U+0000, no wildcards).
        mutating func text(_ maximum: Int = 12) -> String {
            let pool: [Character] = ["a", "Z", "0", "/", "$", "-", " ", "é", "中", "🚀", "\u{1}", "\u{7F}"]
            return String((0..<int(0...maximum)).map { _ in pool[int(0...pool.count - 1)] })
        }

        mutating func topic() -> String {
            let topic = text()
            return topic.isEmpty ? "t" : topic
        }

        mutating func filter() throws -> TopicFilter {
            let levels = (0..<int(1...4)).map { _ in ["a", "+", "b c", "$x", "é"][int(0...4)] }
            var text = levels.joined(separator: "/") + (bool() ? "/#" : "")
            if bool(), version == .v5 { text = "$share/g\(int(0...9))/" + text }
            return try TopicFilter(text)
        }

        mutating func properties(_ fields: [WritableKeyPath<Properties, String?>] = [], users: Bool = true)
            -> Properties
        {
            var properties = Properties()
            guard version == .v5 else { return properties }
            for field in fields where bool() { properties[keyPath: field] = text() }
            if users { properties.userProperties = (0..<int(0...3)).map { _ in UserProperty(text(), text()) } }
            return properties
        }

        mutating func packet() throws -> MQTTPacket {
            switch int(0...11) {
            case 0: return .connect(connect())
            case 1:
                var properties = properties([\.assignedClientIdentifier, \.reasonString, \.responseInformation])
                if version == .v5, bool() {
                    properties.receiveMaximum = UInt16(int(1...65535))
                    properties.maximumQoS = UInt8(int(0...1))
                    properties.sessionExpiryInterval = UInt32(int(0...100_000))
                }
                return .connack(
                    ConnAckPacket(
                        sessionPresent: bool(), reasonCode: ReasonCode(rawValue: UInt8(int(0...5))),
                        properties: properties))
            case 2: return .publish(publish())
            case 3:
                let kinds: [PublishAckPacket.Kind] = [.puback, .pubrec, .pubrel, .pubcomp]
                let code =
                    version == .v5 && bool() ? ReasonCode(rawValue: [0x10, 0x80, 0x87, 0x92][int(0...3)]) : .success
                return .publishAck(
                    PublishAckPacket(
                        kinds[int(0...3)], packetID: packetID(), reasonCode: code,
                        properties: properties([\.reasonString])))
            case 4:
                var properties = properties()
                if version == .v5, bool() { properties.subscriptionIdentifiers = [int(1...268_435_455)] }
                let subscriptions = try (0..<int(1...4)).map { _ in
                    var subscription = SubscribePacket.Subscription(filter: try filter(), qos: qos())
                    if version == .v5 {
                        subscription.noLocal = subscription.filter.shareName == nil && bool()
                        subscription.retainAsPublished = bool()
                        subscription.retainHandling = .init(rawValue: UInt8(int(0...2))) ?? .sendOnSubscribe
                    }
                    return subscription
                }
                return .subscribe(
                    SubscribePacket(packetID: packetID(), properties: properties, subscriptions: subscriptions))
            case 5:
                return .suback(
                    SubAckPacket(
                        packetID: packetID(), properties: properties([\.reasonString]),
                        reasonCodes: (0..<int(1...4)).map { _ in ReasonCode(rawValue: [0, 1, 2, 0x80][int(0...3)]) }))
            case 6:
                return .unsubscribe(
                    UnsubscribePacket(
                        packetID: packetID(), properties: properties(),
                        filters: try (0..<int(1...3)).map { _ in try filter() })
                )
            case 7:
                let codes =
                    version == .v5 ? (0..<int(1...3)).map { _ in ReasonCode(rawValue: [0, 0x11][int(0...1)]) } : []
                return .unsuback(
                    SubAckPacket(packetID: packetID(), properties: properties([\.reasonString]), reasonCodes: codes))
            case 8: return .pingreq
            case 9: return .pingresp
            case 10:
                guard version == .v5 else { return .disconnect(ReasonPacket()) }
                var properties = properties([\.reasonString, \.serverReference])
                if bool() { properties.sessionExpiryInterval = UInt32(int(0...1000)) }
                return .disconnect(
                    ReasonPacket(
                        reasonCode: ReasonCode(rawValue: [0, 4, 0x8E, 0x87][int(0...3)]), properties: properties))
            default:
                guard version == .v5 else { return .pingreq }
                var properties = properties([\.authenticationMethod, \.reasonString])
                if bool() { properties.authenticationData = bytes(20) }
                return .auth(
                    ReasonPacket(
                        reasonCode: [.success, .continueAuthentication, .reAuthenticate][int(0...2)],
                        properties: properties))
            }
        }

        mutating func connect() -> ConnectPacket {
            var properties = properties([\.authenticationMethod])
            if version == .v5, bool() {
                properties.sessionExpiryInterval = UInt32(int(0...1_000_000))
                properties.receiveMaximum = UInt16(int(1...65535))
                properties.maximumPacketSize = UInt32(int(1...1_000_000))
                properties.topicAliasMaximum = UInt16(int(0...100))
                properties.requestProblemInformation = UInt8(int(0...1))
            }
            var will: ConnectPacket.Will?
            if bool() {
                var willProperties = self.properties([\.contentType, \.responseTopic])
                if version == .v5, bool() {
                    willProperties.willDelayInterval = UInt32(int(0...600))
                    willProperties.payloadFormatIndicator = UInt8(int(0...1))
                    willProperties.correlationData = bytes(8)
                }
                will = .init(topic: topic(), payload: bytes(40), qos: qos(), retain: bool(), properties: willProperties)
            }
            let username = bool() ? text() : nil
            let password = (username != nil || version == .v5) && bool() ? bytes(30) : nil
            return ConnectPacket(
                protocolVersion: version, cleanStart: bool(), keepAlive: UInt16(int(0...65535)), clientID: text(23),
                will: will, username: username, password: password, properties: properties)
        }

        mutating func publish() -> PublishPacket {
            let qos = qos()
            var properties = properties([\.contentType, \.responseTopic])
            var topic = topic()
            if version == .v5, bool() {
                properties.messageExpiryInterval = UInt32(int(0...86_400))
                properties.topicAlias = UInt16(int(1...10))
                properties.correlationData = bytes(16)
                if bool() { topic = "" }
            }
            return PublishPacket(
                dup: qos != .atMostOnce && bool(), qos: qos, retain: bool(), topic: topic,
                packetID: qos == .atMostOnce ? nil : packetID(), properties: properties,
                payload: ByteBuffer(bytes: bytes(300)))
        }
    }

    @Test(arguments: ProtocolVersion.allCases)
    func encodeThenDecodeIsIdentity(_ version: ProtocolVersion) throws {
        var generator = Generator(random: SplitMix64(state: UInt64(version.rawValue) * 7919), version: version)
        var stream = ByteBuffer()
        var sent: [MQTTPacket] = []
        for _ in 0..<3000 {
            let packet = try generator.packet()
            var single = ByteBuffer()
            try MQTTEncoder.encode(packet, version: version, into: &single)
            let decoded = try MQTTDecoder.decode(&single, version: version, limits: .protocolMaximum)
            #expect(decoded == packet)
            #expect(single.readableBytes == 0)
            try MQTTEncoder.encode(packet, version: version, into: &stream)
            sent.append(packet)
        }
        // The same packets back to back in one buffer come out one by one.
        var received: [MQTTPacket] = []
        while let packet = try MQTTDecoder.decode(&stream, version: version, limits: .protocolMaximum) {
            received.append(packet)
        }
        #expect(received == sent)
    }

    /// The remaining length takes its shortest form at every boundary of its encoding ([MQTT-1.5.5-1]), after
    /// whatever the buffer held, with the body (written in place) right behind it.
    @Test(arguments: [
        (0, [0x03]), (124, [0x7F]), (125, [0x80, 0x01]), (16_380, [0xFF, 0x7F]), (16_381, [0x80, 0x80, 0x01]),
    ])
    func remainingLengthsTakeTheirShortestForm(payloadBytes: Int, length: [UInt8]) throws {
        // QoS 0, topic "t": the body is the topic's two-byte length and byte, then the payload.
        let payload = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0) }
        let packet = PublishPacket(qos: .atMostOnce, topic: "t", payload: ByteBuffer(bytes: payload))
        var buffer = ByteBuffer(bytes: [9, 9])
        try MQTTEncoder.encode(.publish(packet), version: .v311, into: &buffer)
        #expect(Array(buffer.readableBytesView) == [9, 9, 0x30] + length + [0, 1, UInt8(ascii: "t")] + payload)
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try MQTTDecoder.decode(&buffer, version: .v311, limits: .protocolMaximum) == .publish(packet))
    }

    /// What the wire cannot carry is an error, and nothing of the packet is written (it once trapped).
    @Test(arguments: ProtocolVersion.allCases)
    func valuesLongerThanTheWireCanSayAreRefused(_ version: ProtocolVersion) throws {
        let empty = ByteBuffer()
        var tooLong = [PublishPacket(qos: .atMostOnce, topic: String(repeating: "t", count: 65_536), payload: empty)]
        if version == .v5 {
            var properties = Properties()
            properties.userProperties = [UserProperty("k", String(repeating: "v", count: 65_536))]
            tooLong.append(PublishPacket(qos: .atMostOnce, topic: "t", properties: properties, payload: empty))
        }
        for packet in tooLong {
            var buffer = ByteBuffer(bytes: [1, 2, 3])
            #expect(throws: MQTTEncodingError.self) {
                try MQTTEncoder.encode(.publish(packet), version: version, into: &buffer)
            }
            #expect(Array(buffer.readableBytesView) == [1, 2, 3])
        }
        var fits = ByteBuffer()
        let longest = PublishPacket(qos: .atMostOnce, topic: String(repeating: "t", count: 65_535), payload: empty)
        try MQTTEncoder.encode(.publish(longest), version: version, into: &fits)
        #expect(try MQTTDecoder.decode(&fits, version: version, limits: .protocolMaximum) == .publish(longest))
    }
}
