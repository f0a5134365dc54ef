import NIOCore
import WardenAMQP
import WardenAzure
import WardenCore

extension AMQPMessage {
    /// A cloud-to-device message as IoT Hub delivers it on a device's `messages/devicebound` link (protocols.md
    /// §2.5): the sender's ids, content type and encoding and expiry as properties, its own properties (and
    /// `iothub-ack`) as application properties, the hub's bookkeeping as message annotations, the body as one
    /// data section. `lockToken` is the delivery's tag too, as IoT Hub's.
    init(cloudToDevice message: CloudToDeviceMessage, lockToken: AMQPUUID) {
        // The stored bag was written by the hub (`PropertyBag.text`): it parses.
        let bag = (try? PropertyBag(parsing: Substring(message.properties))) ?? PropertyBag()
        var application: [AMQPMapEntry] = []
        for property in bag.properties where !property.isSystem {
            application.append(AMQPMapEntry(.string(property.name), property.value.map(AMQPValue.string) ?? .null))
        }
        if message.acknowledgement != .none {
            application.append(AMQPMapEntry(.string("iothub-ack"), .string(message.acknowledgement.rawValue)))
        }
        self.init(
            header: Header(durable: true, deliveryCount: UInt32(clamping: message.deliveryCount)),
            messageAnnotations: [
                AMQPMapEntry(.symbol("x-opt-lock-token"), .uuid(lockToken)),
                AMQPMapEntry(.symbol("x-opt-sequence-number"), .long(message.sequenceNumber)),
                AMQPMapEntry(.symbol("iothub-enqueuedtime"), .timestamp(message.enqueuedAt)),
                AMQPMapEntry(.symbol("iothub-deliverycount"), .int(Int32(clamping: message.deliveryCount))),
            ],
            properties: Properties(
                messageID: .string(message.messageID), to: "/devices/\(message.deviceID.rawValue)/messages/deviceBound",
                correlationID: message.correlationID.map(AMQPValue.string), contentType: bag["$.ct"],
                contentEncoding: bag["$.ce"], absoluteExpiryTime: message.expiresAt),
            applicationProperties: application.isEmpty ? nil : application,
            body: .data([ByteBuffer(bytes: message.body)]))
    }
}

extension AMQPUUID {
    /// 128 random bits: a delivery's lock token.
    static func random() -> AMQPUUID {
        var generator = SystemRandomNumberGenerator()
        return AMQPUUID(high: generator.next(), low: generator.next())
    }

    /// Its 16 bytes, big-endian: the delivery tag that carries it.
    var bytes: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(high)
        buffer.writeInteger(low)
        return buffer
    }
}
