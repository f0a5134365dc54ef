import NIOCore
import Testing
import WardenMQTT

/// Each violation gets its own rule and the reaction the specification prescribes.
struct MalformedPacketTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let hex: String
        let version: ProtocolVersion?
        let kind: MQTTDecodingError.Kind
        let rule: String
        var testDescription: String { name }

        init(_ name: String, _ hex: String, _ version: ProtocolVersion?, _ kind: MQTTDecodingError.Kind, _ rule: String)
        {
            self.name = name
            self.hex = hex
            self.version = version
            self.kind = kind
            self.rule = rule
        }
    }

    static let connect311 = "100c00044d5154540402003c0000"  // clean session, keep-alive 60, empty client id

    static let cases: [Case] = [
        Case("first packet is not CONNECT [MQTT-3.1.0-1]", "c000", nil, .protocolError, "first_packet.not_connect"),
        Case("reserved packet type 0", "0000", .v311, .malformed, "fixed_header.reserved_type"),
        Case("AUTH in 3.1.1 is reserved", "f000", .v311, .malformed, "fixed_header.reserved_type"),
        Case(
            "remaining length over 4 bytes", "30ffffffff7f", .v5, .malformed,
            "remaining_length.variable_integer.too_long"),
        Case(
            "remaining length not minimal [MQTT-1.5.5-1]", "c08000", .v5, .malformed,
            "remaining_length.variable_integer.not_minimal"),
        Case("PINGREQ with flags [MQTT-2.2.2-2]", "c100", .v311, .malformed, "fixed_header.reserved_flags"),
        Case(
            "SUBSCRIBE without flag 0010 [MQTT-3.8.1-1]", "800600010001612f00", .v311, .malformed,
            "fixed_header.reserved_flags"),
        Case("PUBREL without flag 0010", "60020001", .v311, .malformed, "fixed_header.reserved_flags"),
        Case("PINGREQ with a body", "c00100", .v311, .malformed, "ping.not_empty"),
        Case(
            "unknown protocol level", "100c00044d5154540302003c0000", nil, .unsupportedProtocolVersion,
            "connect.protocol"),
        Case(
            "unknown protocol name (3.1 MQIsdp)", "100c00064d514973647003020000", nil, .unsupportedProtocolVersion,
            "connect.protocol"),
        Case(
            "CONNECT reserved flag [MQTT-3.1.2-3]", "100c00044d5154540403003c0000", nil, .malformed,
            "connect.reserved_flag"),
        Case(
            "will QoS 3 [MQTT-3.1.2-14]", "101400044d515454041c003c00000001740003627965", nil, .malformed,
            "connect.will_qos_3"),
        Case(
            "will QoS without will [MQTT-3.1.2-13]", "100c00044d5154540408003c0000", nil, .malformed,
            "connect.will_flags_without_will"),
        Case(
            "will retain without will [MQTT-3.1.2-15]", "100c00044d5154540422003c0000", nil, .malformed,
            "connect.will_flags_without_will"),
        Case(
            "3.1.1 password without username [MQTT-3.1.2-22]", "100f00044d5154540442003c00000001ff", nil, .malformed,
            "connect.password_without_username"),
        Case(
            "client id with U+0000 [MQTT-1.5.3-2]", "100d00044d5154540402003c000100", nil, .malformed,
            "string.contains_nul"),
        Case(
            "client id with a surrogate [MQTT-1.5.3-1]", "100f00044d5154540402003c0003eda080", nil, .malformed,
            "string.invalid_utf8"),
        Case(
            "client id with overlong UTF-8", "100e00044d5154540402003c0002c0af", nil, .malformed, "string.invalid_utf8"),
        Case("string longer than the packet", "100c00044d5154540402003c0005", nil, .malformed, "string.truncated"),
        Case(
            "CONNECT with trailing bytes", "100d00044d5154540402003c000000", nil, .malformed, "connect.trailing_bytes"),
        Case("PUBLISH QoS 3 [MQTT-3.3.1-4]", "36050001610001", .v311, .malformed, "publish.qos_3"),
        Case("PUBLISH DUP with QoS 0 [MQTT-3.3.1-2]", "3803000161", .v311, .malformed, "publish.dup_with_qos_0"),
        Case("PUBLISH topic with + [MQTT-3.3.2-2]", "300300012b", .v311, .malformed, "publish.wildcard_in_topic"),
        Case("PUBLISH topic with #", "3005000361232f", .v311, .malformed, "publish.wildcard_in_topic"),
        Case("PUBLISH empty topic in 3.1.1", "30020000", .v311, .protocolError, "publish.empty_topic"),
        Case("PUBLISH empty topic without alias in 5.0", "3003000000", .v5, .protocolError, "publish.empty_topic"),
        Case("PUBLISH packet id 0 [MQTT-2.3.1-1]", "3205000161 0000", .v311, .malformed, "packet_identifier.zero"),
        Case("PUBLISH topic alias 0", "300600000323 0000", .v5, .protocolError, "topic_alias.zero"),
        Case(
            "PUBLISH subscription identifier from a client [MQTT-3.3.4-6]", "300600016102 0b01", .v5, .protocolError,
            "publish.subscription_identifier_from_client"),
        Case(
            "PUBLISH repeated content type (5.0 §2.2.2.2)", "300c000161 08 03000161 03000162", .v5, .protocolError,
            "property.duplicate"),
        Case("PUBLISH unknown property", "300600016102 0500", .v5, .malformed, "property.unknown_identifier"),
        Case(
            "PUBLISH property not valid in PUBLISH", "3009000161051100000001", .v5, .malformed,
            "property.not_allowed_in_packet"),
        Case(
            "PUBLISH payload format indicator 2", "30060001610201 02", .v5, .protocolError,
            "payload_format_indicator.not_0_or_1"),
        Case(
            "PUBLISH properties longer than the packet", "300500016109 01", .v5, .malformed,
            "properties.longer_than_packet"),
        Case("PUBACK packet id 0", "40020000", .v311, .malformed, "packet_identifier.zero"),
        Case("PUBACK with trailing bytes in 3.1.1", "4003000100", .v311, .malformed, "ack.trailing_bytes"),
        Case("SUBSCRIBE with no filter [MQTT-3.8.3-3]", "82020001", .v311, .protocolError, "subscribe.no_filters"),
        Case(
            "SUBSCRIBE reserved option bits in 3.1.1 [MQTT-3-8.3-4]", "8206000100016104", .v311, .malformed,
            "subscribe.reserved_bits"),
        Case(
            "SUBSCRIBE reserved option bits in 5.0 [MQTT-3.8.3-5]", "820700010000016140", .v5, .malformed,
            "subscribe.reserved_bits"),
        Case("SUBSCRIBE QoS 3", "8206000100016103", .v311, .malformed, "subscribe.qos_3"),
        Case("SUBSCRIBE retain handling 3", "820700010000016130", .v5, .protocolError, "subscribe.retain_handling_3"),
        Case(
            "SUBSCRIBE no local on a shared subscription [MQTT-3.8.3-4]", "82100001 00 000a 2473686172652f672f61 04",
            .v5, .protocolError, "subscribe.no_local_on_shared"),
        Case(
            "SUBSCRIBE # not last [MQTT-4.7.1-1]", "8208000100 03 232f61 00", .v311, .malformed,
            "topic_filter.misplaced_multi_level_wildcard"),
        Case(
            "SUBSCRIBE a+ level", "8207000100 02 612b 00", .v311, .malformed,
            "topic_filter.misplaced_single_level_wildcard"),
        Case("SUBSCRIBE empty filter [MQTT-4.7.3-1]", "82050001000000", .v311, .malformed, "topic_filter.empty"),
        Case(
            "SUBSCRIBE empty share name", "820e00010009247368617265 2f2f61 00", .v311, .malformed,
            "shared_subscription.invalid_share_name"),
        Case(
            "SUBSCRIBE subscription identifier 0", "8209000102 0b00 0001 61 00", .v5, .protocolError,
            "subscription_identifier.zero"),
        Case("UNSUBSCRIBE with no filter [MQTT-3.10.3-2]", "a2020001", .v311, .protocolError, "unsubscribe.no_filters"),
        Case("DISCONNECT with a body in 3.1.1", "e00100", .v311, .malformed, "disconnect.trailing_bytes"),
        // Found by MQTTDecoderFuzzer: reason codes in a 3.1.1 UNSUBACK were kept, then lost on re-encoding.
        Case(
            "UNSUBACK with a payload in 3.1.1 (3.1.1 §3.11.3)", "b003000100", .v311, .malformed,
            "unsuback.trailing_bytes"),
    ]

    @Test(arguments: cases)
    func isRefused(_ testCase: Case) {
        var buffer = ByteBuffer(hex: testCase.hex)
        #expect {
            _ = try MQTTDecoder.decode(&buffer, version: testCase.version, limits: .init())
        } throws: { error in
            guard let error = error as? MQTTDecodingError else { return false }
            return error.kind == testCase.kind && error.rule == testCase.rule
        }
    }

    @Test func oversizePacketsAreRefusedFromTheHeader() {
        // Only the fixed header has arrived: the decoder refuses at once instead of buffering 1 MiB.
        var buffer = ByteBuffer(hex: "30808040")
        #expect {
            _ = try MQTTDecoder.decode(&buffer, version: .v5, limits: DecodingLimits(maximumPacketSize: 1024))
        } throws: { error in
            guard let error = error as? MQTTDecodingError else { return false }
            return error.kind == .packetTooLarge && error.limit == 1024 && error.value == 1_048_580
                && error.reasonCode == .packetTooLarge
        }
    }

    @Test func tooManyFiltersAreRefused() {
        var buffer = ByteBuffer(hex: "820a0001 000161 00 000162 00")
        #expect {
            _ = try MQTTDecoder.decode(&buffer, version: .v311, limits: DecodingLimits(maximumFiltersPerSubscribe: 1))
        } throws: { ($0 as? MQTTDecodingError)?.rule == "subscribe.too_many_filters" }
    }

    /// Levels beyond the limit in a Topic Name, a Will topic, or a filter (after a share prefix) are refused
    /// before any subscription node exists; by default 201 levels (200 separators, mosquitto's limit) pass.
    @Test func topicsWithTooManyLevelsAreRefused() throws {
        let limits = DecodingLimits(maximumTopicLevels: 3)
        func decoded(_ packet: MQTTPacket) throws -> MQTTPacket? {
            var buffer = ByteBuffer()
            try MQTTEncoder.encode(packet, version: .v5, into: &buffer)
            return try MQTTDecoder.decode(&buffer, version: .v5, limits: limits)
        }
        func refused(_ packet: MQTTPacket) -> Bool {
            do {
                _ = try decoded(packet)
                return false
            } catch {
                return (error as? MQTTDecodingError).map {
                    $0.kind == .protocolError && $0.rule == "topic.too_many_levels" && $0.limit == 3
                } ?? false
            }
        }
        let publish = { (topic: String) in
            MQTTPacket.publish(PublishPacket(qos: .atMostOnce, topic: topic, payload: ByteBuffer()))
        }
        #expect(try decoded(publish("a/b/c")) != nil)
        #expect(refused(publish("a/b/c/d")))
        #expect(refused(publish("///")))
        let subscribe = { (filter: String) throws in
            MQTTPacket.subscribe(
                SubscribePacket(packetID: 1, subscriptions: [.init(filter: try TopicFilter(filter), qos: .atMostOnce)]))
        }
        #expect(try decoded(try subscribe("$share/g/a/+/#")) != nil)
        #expect(refused(try subscribe("$share/g/a/+/c/#")))
        #expect(refused(.unsubscribe(UnsubscribePacket(packetID: 1, filters: [try TopicFilter("a/b/c/d")]))))
        let will = ConnectPacket.Will(topic: "w/x/y/z", payload: [], qos: .atMostOnce, retain: false)
        #expect(
            refused(
                .connect(ConnectPacket(protocolVersion: .v5, cleanStart: true, keepAlive: 0, clientID: "c", will: will))
            )
        )
        var buffer = ByteBuffer()
        try MQTTEncoder.encode(publish(String(repeating: "/", count: 200)), version: .v311, into: &buffer)
        #expect(try MQTTDecoder.decode(&buffer, version: .v311, limits: .init()) != nil)
        try MQTTEncoder.encode(publish(String(repeating: "/", count: 201)), version: .v311, into: &buffer)
        #expect(throws: MQTTDecodingError.self) { try MQTTDecoder.decode(&buffer, version: .v311, limits: .init()) }
    }

    @Test(arguments: [("c08000", ReasonCode.malformedPacket), ("8203000100", .protocolError)])
    func errorsMapToReasonCodes(_ hex: String, _ reason: ReasonCode) {
        var buffer = ByteBuffer(hex: hex)
        #expect {
            _ = try MQTTDecoder.decode(&buffer, version: .v5, limits: .init())
        } throws: { ($0 as? MQTTDecodingError)?.reasonCode == reason }
    }
}
