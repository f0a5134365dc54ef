import FuzzDriver
import NIOCore
import WardenAMQP

/// What an AMQP peer sends: the first byte chooses a connection's stream (a protocol header, then frames, fed
/// in reads of the second byte's size), one message (a delivery's joined payload) or one value.
///
/// Invariants besides not crashing: the frame decoder consumes nothing while it waits and a whole frame when it
/// reads one; whatever reads is written back to bytes that read as the same thing, and writing that again
/// gives the same bytes (bytes, not values, are compared: a NaN is not equal to itself).
@_cdecl("AMQPDecoderFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 2 else { return 0 }
    let input = ByteBuffer(bytes: UnsafeBufferPointer(start: data + 2, count: size - 2))
    switch data[0] % 3 {
    case 0: stream(input, readSize: Int(data[1]) + 1)
    case 1:
        if let message = try? AMQPMessage(decoding: input) {
            var first = ByteBuffer()
            first.writeAMQPMessage(message)
            guard let again = try? AMQPMessage(decoding: first) else { preconditionFailure("a written message reads") }
            var second = ByteBuffer()
            second.writeAMQPMessage(again)
            precondition(first == second, "a message writes the same bytes twice")
        }
    default:
        var buffer = input
        if let value = try? AMQPValueDecoder.decode(&buffer) {
            var first = ByteBuffer()
            first.writeAMQPValue(value)
            var copy = first
            guard let again = try? AMQPValueDecoder.decode(&copy) else { preconditionFailure("a written value reads") }
            var second = ByteBuffer()
            second.writeAMQPValue(again)
            precondition(first == second, "a value writes the same bytes twice")
        }
    }
    return 0
}

private func stream(_ input: ByteBuffer, readSize: Int) {
    var input = input
    var buffer = ByteBuffer()
    var headerRead = false
    while let read = input.readSlice(length: min(readSize, input.readableBytes)), read.readableBytes > 0 {
        buffer.writeImmutableBuffer(read)
        do {
            if !headerRead {
                guard try AMQPProtocolHeader.decode(&buffer) != nil else { continue }
                headerRead = true
            }
            while true {
                let before = buffer.readableBytes
                guard let frame = try AMQPFrameDecoder.decode(&buffer, maximumFrameSize: 65536) else {
                    precondition(buffer.readableBytes == before, "nothing consumed while waiting")
                    break
                }
                var written = ByteBuffer()
                written.writeAMQPFrame(frame)
                guard let again = try? AMQPFrameDecoder.decode(&written, maximumFrameSize: .max) else {
                    preconditionFailure("a written frame reads")
                }
                var first = ByteBuffer()
                first.writeAMQPFrame(frame)
                var second = ByteBuffer()
                second.writeAMQPFrame(again)
                precondition(first == second, "a frame writes the same bytes twice")
            }
        } catch {
            return
        }
    }
}
