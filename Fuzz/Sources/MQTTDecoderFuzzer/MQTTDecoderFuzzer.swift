import FuzzDriver
import NIOCore
import WardenMQTT

/// libFuzzer entry point: any bytes, decoded as a server decodes a client's stream, in every version state.
///
/// Invariants checked besides "does not crash": a nil result consumes nothing, and every packet that decodes
/// re-encodes to bytes that decode to the same packet.
/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("MQTTDecoderFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    for version in [nil, ProtocolVersion.v311, .v5] {
        var buffer = input
        var current = version
        while true {
            let before = buffer.readerIndex
            let packet: MQTTPacket?
            do {
                packet = try MQTTDecoder.decode(
                    &buffer, version: current, limits: DecodingLimits(maximumPacketSize: 65_536))
            } catch {
                break
            }
            guard let packet else {
                precondition(buffer.readerIndex == before, "nil must consume nothing")
                break
            }
            if case .connect(let connect) = packet { current = connect.protocolVersion }
            let encodeVersion = current ?? .v5
            var encoded = ByteBuffer()
            guard (try? MQTTEncoder.encode(packet, version: encodeVersion, into: &encoded)) != nil else {
                preconditionFailure("a decoded \(packet.type) does not encode")
            }
            let again = try? MQTTDecoder.decode(&encoded, version: current, limits: .protocolMaximum)
            precondition(again == packet, "round trip changed \(packet.type)")
        }
    }
    return 0
}
