import NIOCore
import Testing

@testable import WardenAMQP

/// Frames and messages as python-qpid-proton writes them, and frames that break the rules.
struct AMQPFrameTests {
    @Test func aProtonClientsOpeningReadsFrameByFrame() throws {
        var buffer = ByteBuffer(bytes: ProtonCaptures.clientFrames)
        #expect(try AMQPProtocolHeader.decode(&buffer) == .amqp)
        var frames: [AMQPFrame] = []
        while let frame = try AMQPFrameDecoder.decode(&buffer, maximumFrameSize: 65536) { frames.append(frame) }
        #expect(buffer.readableBytes == 0)
        guard frames.count == 4, case .open(let open) = frames[0].performative,
            case .begin(let begin) = frames[1].performative, case .attach(let attach) = frames[2].performative,
            case .transfer(let transfer) = frames[3].performative
        else {
            Issue.record("frames: \(frames.map(\.performative))")
            return
        }
        #expect(open.containerID == "device-1" && open.hostname == "hub.example")
        #expect(begin.remoteChannel == nil && begin.nextOutgoingID == 0)
        #expect(attach.name == "telemetry" && attach.role == .sender && attach.handle == 0)
        #expect(attach.address(of: attach.target) == "amqps://hub.example/devices/device-1/messages/events")
        #expect(transfer.deliveryTag == ByteBuffer(string: "tag-1") && transfer.deliveryID == 0 && !transfer.more)
        let message = try AMQPMessage(decoding: frames[3].payload)
        #expect(message.body.bytes == ByteBuffer(string: "21.5"))
        #expect(message.applicationProperties == [AMQPMapEntry(.string("a"), .string("1"))])
    }

    @Test func framesWeWriteReadBackAsTheyWere() throws {
        let performatives: [AMQPPerformative] = [
            .open(.init(containerID: "warden", maximumFrameSize: 65536, idleTimeout: 120_000)),
            .begin(.init(remoteChannel: 0, nextOutgoingID: 1, incomingWindow: 5000, outgoingWindow: 5000)),
            .attach(
                .init(
                    name: "cbs", handle: 3, role: .receiver, senderSettleMode: 1,
                    target: .described(descriptor: .code(0x29), value: .list([.string("$cbs")])),
                    properties: [AMQPMapEntry(.symbol("com.microsoft:api-version"), .string("2020-09-30"))])),
            .flow(
                .init(
                    nextIncomingID: 1, incomingWindow: 10, nextOutgoingID: 0, outgoingWindow: 10, handle: 3,
                    deliveryCount: 0, linkCredit: 100, drain: true)),
            .transfer(.init(handle: 3, deliveryID: 9, deliveryTag: ByteBuffer(bytes: [1]), settled: true, more: true)),
            .disposition(.init(role: .receiver, first: 4, last: 7, settled: true, state: .accepted)),
            .disposition(
                .init(
                    role: .receiver, first: 1, settled: true,
                    state: .rejected(AMQPError(.unauthorizedAccess, "no", info: nil)))),
            .disposition(
                .init(
                    role: .sender, first: 1, settled: false,
                    state: .modified(deliveryFailed: true, undeliverableHere: false))),
            .detach(.init(handle: 3, closed: true, error: AMQPError(.notFound, "no such node"))),
            .end(nil),
            .close(AMQPError(.decodeError, "bad")),
        ]
        for performative in performatives {
            var buffer = ByteBuffer()
            buffer.writeAMQPFrame(AMQPFrame(channel: 7, performative: performative))
            let frame = try AMQPFrameDecoder.decode(&buffer, maximumFrameSize: 65536)
            #expect(frame?.performative == performative && frame?.channel == 7)
        }
        let sasl: [AMQPPerformative] = [
            .saslMechanisms(["MSSBCBS", "PLAIN", "ANONYMOUS"]),
            .saslInit(.init(mechanism: "PLAIN", initialResponse: ByteBuffer(bytes: [0, 0x61, 0, 0x62]))),
            .saslOutcome(.authentication),
        ]
        for performative in sasl {
            var buffer = ByteBuffer()
            buffer.writeAMQPFrame(AMQPFrame(kind: .sasl, performative: performative))
            #expect(try AMQPFrameDecoder.decode(&buffer, maximumFrameSize: 512)?.performative == performative)
        }
    }

    @Test func aFrameIsReadOnlyWhenWhole() throws {
        var whole = ByteBuffer()
        whole.writeAMQPFrame(AMQPFrame(performative: .end(nil)))
        for cut in 0..<whole.readableBytes {
            var part = whole.getSlice(at: 0, length: cut)!
            #expect(try AMQPFrameDecoder.decode(&part, maximumFrameSize: 512) == nil)
            #expect(part.readableBytes == cut, "nothing consumed")
        }
        var heartbeat = ByteBuffer(bytes: [0, 0, 0, 8, 2, 0, 0, 0])
        #expect(try AMQPFrameDecoder.decode(&heartbeat, maximumFrameSize: 512)?.performative == nil)
    }

    @Test(
        arguments: [
            ([0, 0, 0x10, 1, 2, 0, 0, 0], "frame.too_large"),
            ([0, 0, 0, 8, 1, 0, 0, 0], "frame.bad_data_offset"),
            ([0, 0, 0, 8, 3, 0, 0, 0], "frame.bad_data_offset"),
            ([0, 0, 0, 8, 2, 9, 0, 0], "frame.unknown_type"),
            ([0, 0, 0, 10, 2, 1, 0, 0, 0x53, 0x44], "sasl_frame.not_described"),
            ([0, 0, 0, 8, 2, 1, 0, 0], "sasl_frame.empty"),
            ([0, 0, 0, 13, 2, 0, 0, 0, 0x00, 0x53, 0x17, 0x45, 0x40], "frame.bytes_after_performative"),
            ([0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0x45], "open.field_0_missing"),
            ([0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x40, 0x45], "performative.unknown"),
            ([0, 0, 0, 12, 2, 1, 0, 0, 0x00, 0x53, 0x10, 0x45], "performative.unknown"),
            ([0, 0, 0, 13, 2, 0, 0, 0, 0x00, 0x53, 0x14, 0x41, 0x40], "transfer.not_a_list"),
            ([0, 0, 0, 15, 2, 0, 0, 0, 0x00, 0x53, 0x16, 0xC0, 0x02, 0x01, 0xA1], "value.truncated"),
        ] as [([UInt8], String)])
    func framesThatBreakTheRulesAreRefusedByName(_ bytes: [UInt8], _ rule: String) {
        var buffer = ByteBuffer(bytes: bytes)
        do {
            let frame = try AMQPFrameDecoder.decode(&buffer, maximumFrameSize: 4096)
            Issue.record("read as \(String(describing: frame))")
        } catch {
            #expect(error.rule == rule)
        }
    }

    @Test func onlyAnAMQP10HeaderIsRead() throws {
        var sasl = ByteBuffer(bytes: Array("AMQP".utf8) + [3, 1, 0, 0])
        #expect(try AMQPProtocolHeader.decode(&sasl) == .sasl)
        var short = ByteBuffer(bytes: Array("AMQP".utf8) + [3])
        #expect(try AMQPProtocolHeader.decode(&short) == nil)
        for bytes in [Array("AMQP".utf8) + [0, 0, 9, 10], Array("HTTP/1.1".utf8), Array("AMQP".utf8) + [1, 1, 0, 0]] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: AMQPDecodingError.framing("protocol_header.unsupported")) {
                try AMQPProtocolHeader.decode(&buffer)
            }
        }
    }
}

struct AMQPMessageTests {
    @Test func aProtonMessageReadsWithEverySection() throws {
        let message = try AMQPMessage(decoding: ByteBuffer(bytes: ProtonCaptures.messageData))
        #expect(message.header?.durable == true && message.header?.timeToLive == 60_000)
        #expect(message.messageAnnotations == [AMQPMapEntry(.symbol("iothub-interface-id"), .string("dtmi:x;1"))])
        #expect(message.properties?.messageID == .string("msg-1"))
        #expect(message.properties?.correlationID == .uuid(AMQPUUID(high: 0, low: 0x42)))
        #expect(message.properties?.to == "$cbs" && message.properties?.replyTo == "cbs")
        #expect(message.properties?.contentType == "application/json")
        #expect(message.properties?.creationTime == 1_800_000_000_500)
        #expect(message.applicationProperties?.first == AMQPMapEntry(.string("operation"), .string("put-token")))
        #expect(message.body.bytes == ByteBuffer(string: #"{"temperature": 21.5}"#))
        var written = ByteBuffer()
        written.writeAMQPMessage(message)
        #expect(try AMQPMessage(decoding: written) == message)
    }

    @Test func aCBSTokenIsAStringValue() throws {
        let message = try AMQPMessage(decoding: ByteBuffer(bytes: ProtonCaptures.messageValueString))
        #expect(message.body == .value(.string("SharedAccessSignature sr=x&sig=y&se=1")))
    }

    @Test func sectionsMayBeNamedBySymbolAndPropertiesMayBeDescribed() throws {
        let uri = AMQPValue.described(descriptor: .name("com.microsoft:uri"), value: .string("amqps://hub"))
        let message = AMQPMessage(
            applicationProperties: [AMQPMapEntry(.string("link"), uri)], body: .value(.string("x")))
        var buffer = ByteBuffer()
        buffer.writeAMQPMessage(message)
        #expect(try AMQPMessage(decoding: buffer) == message)
        let symbolic = ByteBuffer(bytes: [0x00, 0xA3, 0x11] + Array("amqp:amqp-value:*".utf8) + [0xA1, 0x01, 0x78])
        #expect(try AMQPMessage(decoding: symbolic).body == .value(.string("x")))
    }

    @Test func dataSectionsJoin() throws {
        var buffer = ByteBuffer()
        buffer.writeAMQPMessage(AMQPMessage(body: .data([ByteBuffer(string: "ab"), ByteBuffer(string: "cd")])))
        #expect(try AMQPMessage(decoding: buffer).body.bytes == ByteBuffer(string: "abcd"))
    }

    @Test(
        arguments: [
            ([0x40], "message.not_a_section"),
            ([0x00, 0x53, 0x70, 0x45], "message.no_body"),
            ([0x00, 0x53, 0x77, 0x40, 0x00, 0x53, 0x70, 0x45], "message.section_out_of_order"),
            ([0x00, 0x53, 0x77, 0x40, 0x00, 0x53, 0x77, 0x40], "message.section_out_of_order"),
            ([0x00, 0x53, 0x75, 0xA0, 0x00, 0x00, 0x53, 0x76, 0x45], "message.body_sections_mixed"),
            ([0x00, 0x53, 0x75, 0x40], "data.not_binary"),
            (
                [0x00, 0x53, 0x74, 0xC1, 0x04, 0x02, 0x53, 0x01, 0x40, 0x00, 0x53, 0x77, 0x40],
                "application-properties.key_not_string"
            ),
            (
                [0x00, 0x53, 0x74, 0xC1, 0x05, 0x02, 0xA1, 0x01, 0x61, 0x45, 0x00, 0x53, 0x77, 0x40],
                "application-properties.value_not_simple"
            ),
            (
                [0x00, 0x53, 0x72, 0xC1, 0x05, 0x02, 0xA1, 0x01, 0x61, 0x40, 0x00, 0x53, 0x77, 0x40],
                "message-annotations.key_not_symbol_or_ulong"
            ),
            ([0x00, 0x53, 0x73, 0xC0, 0x02, 0x01, 0x41, 0x00, 0x53, 0x77, 0x40], "properties.field_0_not_message_id"),
        ] as [([UInt8], String)])
    func messagesThatBreakTheRulesAreRefusedByName(_ bytes: [UInt8], _ rule: String) {
        do {
            let message = try AMQPMessage(decoding: ByteBuffer(bytes: bytes))
            Issue.record("read as \(message)")
        } catch {
            #expect(error.rule == rule)
        }
    }
}
