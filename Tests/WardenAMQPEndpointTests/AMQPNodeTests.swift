import NIOCore
import Testing
import WardenAMQP
import WardenAzure
import WardenCore

@testable import WardenAMQPEndpoint

/// What link addresses and CBS audiences name, as each SDK writes them (protocols.md §2.3), and what a
/// telemetry message carries into the hub.
struct AMQPNodeTests {
    @Test(arguments: [
        ("$cbs", AMQPNode.claimsBasedSecurity),
        ("amqps://hub.example/devices/meter-1/messages/events", .telemetry(try! DeviceID("meter-1"))),
        ("amqps://hub.example:5671/devices/meter-1/messages/events", .telemetry(try! DeviceID("meter-1"))),
        ("/devices/meter-1/messages/events", .telemetry(try! DeviceID("meter-1"))),
        ("/DEVICES/meter%2D1/Messages/Events", .telemetry(try! DeviceID("meter-1"))),
        ("/devices/meter-1/messages/deviceBound", .cloudToDevice(try! DeviceID("meter-1"))),
        ("amqps://hub.example/devices/meter-1/messages/devicebound", .cloudToDevice(try! DeviceID("meter-1"))),
        ("/devices/meter-1/messages/feedback", .unknown),
        ("amqps://hub.example/devices/meter-1/methods/devicebound", .methods(try! DeviceID("meter-1"))),
        ("/devices/meter-1/methods/deviceBound", .methods(try! DeviceID("meter-1"))),
        ("/devices/meter-1/methods/events", .unknown),
        ("amqps://hub.example/devices/meter-1/twin", .twin(try! DeviceID("meter-1"))),
        ("/devices/meter-1/Twin", .twin(try! DeviceID("meter-1"))),
        ("/devices/meter-1/twins", .unknown),
        ("/devices/meter-1/modules/m/messages/events", .unknown),
        ("/devices//messages/events", .unknown),
        ("/devices/bad id!/messages/events", .unknown),
        ("", .unknown),
        ("amqps://", .unknown),
        ("$CBS", .unknown),
    ])
    func addressesNameTheirNode(_ address: String, _ node: AMQPNode) {
        #expect(AMQPNode(address: address) == node)
    }

    @Test func audiencesNameAHostAndADevice() {
        #expect(
            TokenAudience("hub.example/devices/meter-1") == TokenAudience(hostName: "hub.example", deviceID: "meter-1"))
        #expect(TokenAudience("amqps://hub.example:5671/devices/m%2D1")?.deviceID == "m-1")
        #expect(TokenAudience("amqps://hub.example:5671/devices/m%2D1")?.hostName == "hub.example")
        for refused in ["hub.example", "hub.example/devices", "hub.example/modules/x", "a/devices/b/modules/c", ""] {
            #expect(TokenAudience(refused) == nil, "\(refused)")
        }
    }

    @Test func telemetryCarriesItsBytesAndPropertiesAsAnMQTTDevicesBag() throws {
        let message = AMQPMessage(
            properties: .init(
                messageID: .ulong(7), correlationID: .uuid(AMQPUUID(high: 0, low: 1)), contentType: "application/json",
                contentEncoding: "utf-8"),
            applicationProperties: [
                AMQPMapEntry(.string("site"), .string("lab")), AMQPMapEntry(.string("n"), .int(-3)),
                AMQPMapEntry(.string("ok"), .bool(true)), AMQPMapEntry(.string("raw"), .binary(ByteBuffer())),
            ],
            body: .data([ByteBuffer(string: "{\"t\":"), ByteBuffer(string: "1}")]))
        let telemetry = try #require(AMQPTelemetry(message))
        #expect(telemetry.body == ByteBuffer(string: "{\"t\":1}"))
        #expect(
            telemetry.properties == [
                .init("$.mid", "7"), .init("$.cid", "00000000-0000-0000-0000-000000000001"),
                .init("$.ct", "application/json"), .init("$.ce", "utf-8"), .init("site", "lab"), .init("n", "-3"),
                .init("ok", "true"),
            ])
        #expect(AMQPTelemetry(AMQPMessage(body: .sequence([[.null]]))) == nil)
        #expect(AMQPTelemetry(AMQPMessage(body: .value(.list([])))) == nil)
    }

    @Test func aBatchOfTheCSDKIsItsMessagesInOrder() throws {
        func encoded(_ text: String) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeAMQPMessage(
                AMQPMessage(
                    applicationProperties: [AMQPMapEntry(.string("k"), .string(text))],
                    body: .data([ByteBuffer(string: text)])))
            return buffer
        }
        let batch = AMQPMessage(body: .data([encoded("one"), encoded("two")]))
        let telemetry = try AMQPTelemetry.messages(in: batch, format: AMQPTelemetry.batchFormat)
        #expect(telemetry.map(\.body) == [ByteBuffer(string: "one"), ByteBuffer(string: "two")])
        #expect(telemetry.map(\.properties) == [[.init("k", "one")], [.init("k", "two")]])
        #expect(try AMQPTelemetry.messages(in: batch, format: 0).count == 1)
        #expect(throws: AMQPError.self) {
            try AMQPTelemetry.messages(
                in: AMQPMessage(body: .data([ByteBuffer(string: "no")])), format: AMQPTelemetry.batchFormat)
        }
        #expect(throws: AMQPError.self) { try AMQPTelemetry.messages(in: batch, format: 7) }
        let oversized = AMQPMessage(
            body: .data(Array(repeating: encoded("x"), count: AMQPTelemetry.maximumBatchMessages + 1)))
        #expect(throws: AMQPError.self) {
            try AMQPTelemetry.messages(in: oversized, format: AMQPTelemetry.batchFormat)
        }
    }
}
