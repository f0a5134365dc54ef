import NIOCore
import Testing
import WardenMQTT

/// Real client bytes decode to the packets paho meant, and re-encode to the same bytes.
struct PahoCaptureTests {
    private func decodeAll(_ hex: String) throws -> [MQTTPacket] {
        var buffer = ByteBuffer(hex: hex)
        var packets: [MQTTPacket] = []
        var version: ProtocolVersion?
        while let packet = try MQTTDecoder.decode(&buffer, version: version, limits: .init()) {
            if case .connect(let connect) = packet { version = connect.protocolVersion }
            packets.append(packet)
        }
        #expect(buffer.readableBytes == 0)
        return packets
    }

    /// Decodes a CONNECT, SUBSCRIBE, PUBLISH, DISCONNECT stream and checks it re-encodes byte for byte.
    private func connectSubscribePublish(_ hex: String, _ version: ProtocolVersion) throws
        -> (ConnectPacket, SubscribePacket, PublishPacket)
    {
        let packets = try decodeAll(hex)
        var encoded = ByteBuffer()
        for packet in packets { try MQTTEncoder.encode(packet, version: version, into: &encoded) }
        #expect(encoded.hex == hex)
        guard packets.count == 4, case .connect(let connect) = packets[0], case .subscribe(let subscribe) = packets[1],
            case .publish(let publish) = packets[2], case .disconnect = packets[3]
        else { throw DecodedOtherPackets(types: packets.map(\.type)) }
        return (connect, subscribe, publish)
    }

    struct DecodedOtherPackets: Error {
        let types: [PacketType]
    }

    @Test func mqtt311Stream() throws {
        let (connect, subscribe, publish) = try connectSubscribePublish(PahoCaptures.v311, .v311)
        #expect(connect.protocolVersion == .v311 && !connect.cleanStart && connect.keepAlive == 60)
        #expect(connect.clientID == "dev-1" && connect.username == "hub/dev-1/?api-version=2021-04-12")
        #expect(connect.password == Array("secret".utf8))
        #expect(
            connect.will
                == .init(
                    topic: "devices/dev-1/messages/events/", payload: Array("bye".utf8), qos: .atLeastOnce,
                    retain: false))
        #expect(
            subscribe.subscriptions.map(\.filter.rawValue) == [
                "devices/dev-1/messages/devicebound/#", "$iothub/twin/res/#",
            ])
        #expect(subscribe.subscriptions.map(\.qos) == [.atLeastOnce, .atMostOnce])
        #expect(
            publish.qos == .atLeastOnce && publish.packetID == 2 && publish.topic == "devices/dev-1/messages/events/a=1"
        )
        #expect(String(buffer: publish.payload) == "hello")
    }

    @Test func mqtt5Stream() throws {
        let (connect, subscribe, publish) = try connectSubscribePublish(PahoCaptures.v5, .v5)
        #expect(connect.protocolVersion == .v5 && connect.cleanStart && connect.keepAlive == 30)
        #expect(connect.properties.sessionExpiryInterval == 3600 && connect.properties.receiveMaximum == 20)
        #expect(connect.properties.userProperties == [UserProperty("k", "v")])
        let subscription = try #require(subscribe.subscriptions.first)
        #expect(subscription.filter.rawValue == "a/+/c" && subscription.qos == .exactlyOnce)
        #expect(
            subscription.noLocal && subscription.retainAsPublished && subscription.retainHandling == .sendOnNewSubscribe
        )
        #expect(subscribe.properties.subscriptionIdentifiers == [7])
        #expect(publish.qos == .exactlyOnce && publish.retain && publish.topic == "a/b/c")
        #expect(publish.properties.contentType == "application/json" && publish.properties.messageExpiryInterval == 60)
        #expect(publish.properties.userProperties == [UserProperty("x", "y")])
    }

    /// Every prefix of a stream yields exactly the packets wholly inside it, and consumes nothing of the rest.
    @Test(arguments: [(PahoCaptures.v311, ProtocolVersion.v311), (PahoCaptures.v5, .v5)])
    func incrementalDecoding(_ hex: String, _ version: ProtocolVersion) throws {
        let whole = ByteBuffer(hex: hex)
        let expected = try decodeAll(hex)
        var boundaries = [0]
        for packet in expected {
            var encoded = ByteBuffer()
            try MQTTEncoder.encode(packet, version: version, into: &encoded)
            boundaries.append((boundaries.last ?? 0) + encoded.readableBytes)
        }
        for cut in 0...whole.readableBytes {
            var prefix = whole.getSlice(at: whole.readerIndex, length: cut) ?? ByteBuffer()
            var decoded = 0
            var current: ProtocolVersion?
            while let packet = try MQTTDecoder.decode(&prefix, version: current, limits: .init()) {
                if case .connect(let connect) = packet { current = connect.protocolVersion }
                #expect(packet == expected[decoded])
                decoded += 1
            }
            let complete = boundaries.lastIndex { $0 <= cut } ?? 0
            #expect(decoded == complete, "cut at \(cut)")
            #expect(prefix.readerIndex == boundaries[complete], "cut at \(cut)")
        }
    }
}
