import Foundation
import FuzzDriver
import NIOCore
import WardenCluster
import WardenNATS

/// What a node reads from NATS: the server's operations (`NATSOperationParser`, fed in reads of the input's
/// chosen size), another node's routed message (`ClusterEnvelope`), another node's event notice
/// (`ClusterNotice`, JSON) and another node's announcement of a device its live feed follows
/// (`ClusterFeed.Interest`). The first byte chooses.
///
/// Invariants besides not crashing: the parser consumes nothing when it needs more and at least one byte per
/// operation, and no payload exceeds its limit; an envelope that reads is written back to bytes that read as the
/// same message; a notice that reads is written back to JSON that reads as the same notice; an announcement that
/// reads is written back to the same bytes.
@_cdecl("ClusterFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let rest = Array(bytes.dropFirst(2))
    switch bytes[0] % 4 {
    case 0:
        let parser = NATSOperationParser(maximumControlLine: 256, maximumPayload: 512)
        let chunk = Int(bytes[1] % 32) + 1
        var buffer = ByteBuffer()
        for start in stride(from: 0, to: rest.count, by: chunk) {
            buffer.writeBytes(rest[start..<min(start + chunk, rest.count)])
            while true {
                let before = buffer.readerIndex
                let operation: NATSServerOperation?
                do {
                    operation = try parser.next(&buffer)
                } catch {
                    return 0  // the client closes the connection
                }
                guard let operation else {
                    precondition(buffer.readerIndex == before, "waiting for more consumed bytes")
                    break
                }
                precondition(buffer.readerIndex > before, "an operation consumed nothing")
                if case .message(let message) = operation {
                    precondition(message.payload.readableBytes <= 512, "a payload over the limit")
                }
            }
        }
    case 1:
        let now = NIODeadline.now()
        guard let envelope = ClusterEnvelope(decoding: ByteBuffer(bytes: rest), maximumPacketSize: 8192, now: now)
        else { return 0 }
        guard let again = envelope.encoded(now: now),
            let read = ClusterEnvelope(decoding: again, maximumPacketSize: 1 << 20, now: now)
        else { preconditionFailure("an envelope that reads must be written back") }
        precondition(read.origin == envelope.origin && read.sequence == envelope.sequence, "header changed")
        precondition(read.retainedAt == envelope.retainedAt, "stamp changed")
        precondition(read.tenantID == envelope.tenantID && read.message.topic == envelope.message.topic)
        precondition(read.message.payload == envelope.message.payload && read.message.qos == envelope.message.qos)
        precondition(read.message.retain == envelope.message.retain, "retain changed")
        precondition(read.servedGroups == envelope.servedGroups, "served groups changed")
    case 2:
        guard let notice = try? JSONDecoder().decode(ClusterNotice.self, from: Data(rest)) else { return 0 }
        guard let json = try? JSONEncoder().encode(notice),
            let again = try? JSONDecoder().decode(ClusterNotice.self, from: json)
        else { preconditionFailure("a notice that reads must be written back") }
        precondition(again == notice, "a notice read back differently")
    default:
        let buffer = ByteBuffer(bytes: rest)
        guard let interest = ClusterFeed.Interest(decoding: buffer) else { return 0 }
        precondition(interest.encoded == buffer, "an announcement read back differently")
    }
    return 0
}
