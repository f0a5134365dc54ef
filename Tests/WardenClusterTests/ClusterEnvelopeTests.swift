import Foundation
import NIOCore
import Testing
import WardenBroker
import WardenCore
import WardenMQTT

@testable import WardenCluster

/// The routed message between nodes: what is sent is what is read, and nothing else reads as an envelope.
struct ClusterEnvelopeTests {
    private func message(retain: Bool = false, qos: QoS = .atLeastOnce) -> BrokerMessage {
        var properties = Properties()
        properties.contentType = "application/json"
        properties.userProperties = [UserProperty("$.mid", "m-1"), UserProperty("k", "v")]
        properties.messageExpiryInterval = 60
        properties.correlationData = [1, 2, 3]
        return BrokerMessage(
            topic: "plant/line-1/state", payload: ByteBuffer(string: "running"), qos: qos, retain: retain,
            properties: properties, receivedAt: .now())
    }

    private func encoded(_ message: BrokerMessage, sequence: UInt64 = 7) throws -> ByteBuffer {
        let envelope = ClusterEnvelope(origin: UUID(), sequence: sequence, tenantID: .defaultTenant, message: message)
        return try #require(envelope.encoded(now: .now()))
    }

    @Test(arguments: [(false, QoS.atMostOnce), (true, .atLeastOnce), (false, .exactlyOnce)])
    func whatIsSentIsRead(retain: Bool, qos: QoS) throws {
        let origin = UUID()
        let sent = message(retain: retain, qos: qos)
        let envelope = ClusterEnvelope(
            origin: origin, sequence: 42, retainedAt: retain ? 1_800_000_000_000_000 : 0, tenantID: .defaultTenant,
            message: sent)
        let bytes = try #require(envelope.encoded(now: .now()))
        let read = try #require(ClusterEnvelope(decoding: bytes, maximumPacketSize: 4096, now: .now()))
        #expect(read.origin == origin && read.sequence == 42 && read.tenantID == .defaultTenant)
        #expect(read.stamp == RetainStamp(time: envelope.retainedAt, node: origin))
        #expect(read.message.topic == sent.topic && read.message.payload == sent.payload)
        #expect(read.message.qos == qos && read.message.retain == retain)
        #expect(read.message.properties.contentType == "application/json")
        #expect(read.message.properties.userProperties == sent.properties.userProperties)
        #expect(read.message.properties.correlationData == [1, 2, 3])
        #expect(read.message.expiresAt != nil)
    }

    /// The shared groups the sending node served travel with the message; a count the bytes do not hold, or a
    /// cut group, reads as nothing.
    @Test func servedGroupsAreRead() throws {
        let groups = [
            ClusterGroupID(SharedGroup(shareName: "workers", filter: "jobs/#"), in: .defaultTenant),
            ClusterGroupID(SharedGroup(shareName: "audit", filter: "jobs/+"), in: .defaultTenant),
        ]
        let envelope = ClusterEnvelope(
            origin: UUID(), sequence: 3, tenantID: .defaultTenant, servedGroups: groups, message: message())
        let bytes = try #require(envelope.encoded(now: .now()))
        let read = try #require(ClusterEnvelope(decoding: bytes, maximumPacketSize: 4096, now: .now()))
        #expect(read.servedGroups == groups)
        #expect(read.message.topic == "plant/line-1/state")
        let countOffset = 1 + 16 + 8 + 8 + 2 + "default".utf8.count
        var overcounted = bytes
        overcounted.setInteger(UInt16(3), at: countOffset)
        #expect(ClusterEnvelope(decoding: overcounted, maximumPacketSize: 4096, now: .now()) == nil)
        var hostile = bytes
        hostile.setInteger(UInt16.max, at: countOffset)
        #expect(ClusterEnvelope(decoding: hostile, maximumPacketSize: 4096, now: .now()) == nil)
        // One group's identity differs from another's, and from the same group's in another tenant.
        let other = try TenantID("other")
        #expect(groups[0] != groups[1])
        #expect(ClusterGroupID(SharedGroup(shareName: "workers", filter: "jobs/#"), in: other) != groups[0])
        #expect(ClusterGroupID(SharedGroup(shareName: "work", filter: "ers/jobs/#"), in: .defaultTenant) != groups[0])
        #expect(groups[0].queue.count == 33 && groups[0].queue.hasPrefix("g"))
    }

    /// Every cut of a valid envelope, every single-byte change of its header, trailing bytes and random bytes:
    /// read as nothing, never as a wrong message and never a trap.
    @Test func nothingElseReadsAsAnEnvelope() throws {
        let bytes = try encoded(message())
        for length in 0..<bytes.readableBytes {
            #expect(
                ClusterEnvelope(decoding: bytes.getSlice(at: 0, length: length)!, maximumPacketSize: 4096, now: .now())
                    == nil)
        }
        var trailing = bytes
        trailing.writeInteger(UInt8(0))
        #expect(ClusterEnvelope(decoding: trailing, maximumPacketSize: 4096, now: .now()) == nil)
        // The versions before, 2 without the retained message's stamp: a node of another release.
        for version in [UInt8(1), 2] {
            var otherVersion = bytes
            otherVersion.setInteger(version, at: 0)
            #expect(ClusterEnvelope(decoding: otherVersion, maximumPacketSize: 4096, now: .now()) == nil)
        }
        var badTenant = bytes
        badTenant.setInteger(UInt8(ascii: "D"), at: 1 + 16 + 8 + 8 + 2)
        #expect(ClusterEnvelope(decoding: badTenant, maximumPacketSize: 4096, now: .now()) == nil)
        var longTenant = bytes
        longTenant.setInteger(UInt16.max, at: 1 + 16 + 8 + 8)
        #expect(ClusterEnvelope(decoding: longTenant, maximumPacketSize: 4096, now: .now()) == nil)
        #expect(ClusterEnvelope(decoding: bytes, maximumPacketSize: 16, now: .now()) == nil)
        // The fuzzer's finding: a 5.0 PUBLISH with an empty topic and a topic alias decodes, but there is no
        // topic to route on (and it could not be written back).
        var aliased = ByteBuffer()
        aliased.writeInteger(ClusterEnvelope.version)
        aliased.writeBytes([UInt8](repeating: 7, count: 16))
        aliased.writeInteger(UInt64(9))
        aliased.writeInteger(Int64(0))
        aliased.writeInteger(UInt16(7))
        aliased.writeString("default")
        aliased.writeInteger(UInt16(0))
        aliased.writeBytes([0x31, 0x09, 0x00, 0x00, 0x06, 0x23, 0x00, 0x03, 0x08, 0x00, 0x00])
        #expect(ClusterEnvelope(decoding: aliased, maximumPacketSize: 4096, now: .now()) == nil)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var random = ByteBuffer()
            random.writeInteger(ClusterEnvelope.version)
            random.writeBytes((0..<Int.random(in: 0..<128, using: &generator)).map { _ in UInt8.random(in: 0...255) })
            _ = ClusterEnvelope(decoding: random, maximumPacketSize: 4096, now: .now())
        }
    }
}
