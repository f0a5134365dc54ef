import NIOCore
import Testing

@testable import WardenMQTT

/// Packets sent within the client's Maximum Packet Size: explanations go first, then the packet.
struct MaximumPacketSizeTests {
    private func encoded(_ packet: MQTTPacket, within maximum: Int) throws -> (fits: Bool, bytes: ByteBuffer) {
        var buffer = ByteBuffer(string: "before")
        let fits = try MQTTEncoder.encode(packet, version: .v5, into: &buffer, maximumPacketSize: maximum)
        #expect(buffer.readString(length: 6) == "before")
        return (fits, buffer)
    }

    private func denial(reason: String?) -> MQTTPacket {
        var properties = Properties()
        properties.reasonString = reason
        properties.userProperties = [UserProperty("k", "v")]
        return .publishAck(PublishAckPacket(.puback, packetID: 7, reasonCode: .notAuthorized, properties: properties))
    }

    @Test func aPacketThatFitsIsSentWhole() throws {
        let (fits, bytes) = try encoded(denial(reason: "Not authorized."), within: 1000)
        #expect(fits)
        var expected = ByteBuffer()
        try MQTTEncoder.encode(denial(reason: "Not authorized."), version: .v5, into: &expected)
        #expect(bytes == expected)
    }

    @Test func anAcknowledgementLosesItsReasonStringAndUserPropertiesRatherThanTheAcknowledgement() throws {
        // [MQTT-3.4.2-2]: the Reason String is left out when it would exceed the client's Maximum Packet Size.
        let (fits, bytes) = try encoded(denial(reason: String(repeating: "x", count: 200)), within: 10)
        #expect(fits)
        #expect(Array(bytes.readableBytesView) == [0x40, 0x03, 0x00, 0x07, 0x87])
    }

    @Test func whatCannotFitEvenBareIsNotWritten() throws {
        let (fits, bytes) = try encoded(denial(reason: "why"), within: 4)
        #expect(!fits)
        #expect(bytes.readableBytes == 0)
        let publish = MQTTPacket.publish(PublishPacket(qos: .atMostOnce, topic: "t", payload: ByteBuffer(string: "p")))
        let (publishFits, _) = try encoded(publish, within: 6)
        #expect(!publishFits)
    }
}
