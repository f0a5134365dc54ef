import Benchmark
import NIOCore
import WardenBroker
import WardenMQTT

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput], scalingFactor: .kilo, maxDuration: .seconds(5),
        maxIterations: 1_000_000)

    var properties = Properties()
    properties.contentType = "application/json"
    properties.userProperties = [UserProperty("seq", "42")]
    let payload = ByteBuffer(repeating: 0x61, count: 256)
    let publish311 = MQTTPacket.publish(
        PublishPacket(
            qos: .atLeastOnce, topic: "devices/sensor-0042/messages/events/a=1", packetID: 7, payload: payload))
    let publish5 = MQTTPacket.publish(
        PublishPacket(
            qos: .atLeastOnce, topic: "devices/sensor-0042/messages/events/a=1", packetID: 7, properties: properties,
            payload: payload))
    let limits = DecodingLimits()

    for (name, packet, version) in [("3.1.1", publish311, ProtocolVersion.v311), ("5.0", publish5, .v5)] {
        var wire = ByteBuffer()
        precondition((try? MQTTEncoder.encode(packet, version: version, into: &wire)) != nil)

        Benchmark("Decode PUBLISH QoS 1, 256-byte payload (\(name))") { benchmark in
            for _ in benchmark.scaledIterations {
                var buffer = wire
                blackHole(try MQTTDecoder.decode(&buffer, version: version, limits: limits))
            }
        }

        Benchmark("Encode PUBLISH QoS 1, 256-byte payload (\(name))") { benchmark in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(1024)
            for _ in benchmark.scaledIterations {
                buffer.clear()
                try MQTTEncoder.encode(packet, version: version, into: &buffer)
                blackHole(buffer)
            }
        }
    }

    let filter = try? TopicFilter("devices/+/messages/events/#")
    Benchmark("Topic filter match (+ and #)") { benchmark in
        guard let filter else { return }
        for _ in benchmark.scaledIterations {
            blackHole(filter.matches("devices/sensor-0042/messages/events/a=1"))
        }
    }

    // 1,000,000 subscriptions: one C2D filter per device, as a hub holds them, plus 1,000 wildcard filters.
    var trie = SubscriptionTrie<Int, QoS>()
    for device in 0..<1_000_000 {
        trie.insert("devices/dev-\(device)/messages/devicebound/#", subscriber: device, value: .atLeastOnce)
    }
    for service in 0..<1_000 {
        trie.insert("devices/+/messages/events/\(service)", subscriber: 2_000_000 + service, value: .atMostOnce)
    }
    let routed = trie
    Benchmark("Route one message through 1,001,000 subscriptions (trie)") { benchmark in
        for _ in benchmark.scaledIterations {
            var matched = 0
            routed.forEachMatch("devices/dev-424242/messages/devicebound/%24.mid=7") { _, _ in matched += 1 }
            blackHole(matched)
        }
    }
}
