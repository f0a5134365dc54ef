import Foundation
import FuzzDriver
import NIOCore
import NIOEmbedded
import NIOSSL
import WardenCore
import WardenSecurity
import WardenTLS

/// The server side of TLS (`TLSServerHandler` over BoringSSL) on embedded channels, two ways, by the input's
/// first byte:
/// - even: the rest is what a client sends before any handshake, in reads of the second byte's size (1…256):
///   what anyone who can reach a TLS port sends;
/// - odd: the rest is a script played on a connected pair, swift-nio-ssl's client against the server: each byte
///   an operation (the client or the server writes, flushes, closes all or output; bytes move between them in
///   pieces of chosen sizes; a byte of the client's stream is flipped), for the orders of reads, writes and
///   closes a client and the hub's handlers can make.
///
/// Invariants: nothing traps; what the server passes on is, in order, a prefix of what the client wrote while no
/// byte was flipped; once the server's channel is closed it stays closed.
private struct Harness {
    let server: TLSServerContext
    let client: NIOSSLContext

    static let shared: Harness = {
        guard let (_, issued) = try? DevelopmentCA.generate(now: Date()),
            let chain = try? NIOSSLCertificate.fromPEMBytes(Array(issued.certificatePEM.utf8)),
            let key = try? NIOSSLPrivateKey(bytes: issued.privateKeyPEM.bytes, format: .pem)
        else { preconditionFailure("no certificate") }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.certificateVerification = .optionalVerification
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.certificateVerification = .none
        guard let server = try? TLSServerContext(configuration: configuration),
            let client = try? NIOSSLContext(configuration: clientConfiguration)
        else { preconditionFailure("no context") }
        return Harness(server: server, client: client)
    }()
}

/// Collects what reaches the end of a pipeline.
private final class Sink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var received = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

private func makeServer() -> (EmbeddedChannel, Sink) {
    let sink = Sink()
    guard let tls = try? TLSServerHandler(context: Harness.shared.server, checkChain: { _ in }) else {
        preconditionFailure("no connection")
    }
    let channel = EmbeddedChannel(handlers: [tls, sink])
    _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    return (channel, sink)
}

private func bytesBeforeAHandshake(_ input: ArraySlice<UInt8>) {
    guard let first = input.first else { return }
    let size = Int(first) + 1
    let (server, _) = makeServer()
    var rest = input.dropFirst()
    while !rest.isEmpty, server.isActive {
        let piece = rest.prefix(size)
        rest = rest.dropFirst(piece.count)
        _ = try? server.writeInbound(ByteBuffer(bytes: piece))
        while (try? server.readOutbound(as: ByteBuffer.self)) != nil {}
    }
    end(server)
}

private func script(_ input: ArraySlice<UInt8>) {
    let (server, sink) = makeServer()
    guard let clientTLS = try? NIOSSLClientHandler(context: Harness.shared.client, serverHostname: nil) else { return }
    let clientSink = Sink()
    let client = EmbeddedChannel(handlers: [clientTLS, clientSink])
    _ = try? client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    var sent = ByteBuffer()
    var flipped = false
    var wasClosed = false
    var counter: UInt8 = 0

    /// Moves up to `limit` bytes of one side's output to the other (nil: all).
    func move(from source: EmbeddedChannel, to target: EmbeddedChannel, limit: Int?, flip: Bool = false) {
        var budget = limit ?? .max
        while budget > 0, let buffer = try? source.readOutbound(as: ByteBuffer.self) {
            var piece = buffer.getSlice(at: buffer.readerIndex, length: min(budget, buffer.readableBytes)) ?? buffer
            budget -= piece.readableBytes
            if flip, piece.readableBytes > 0 {
                let at = piece.readerIndex + piece.readableBytes / 2
                piece.setInteger((piece.getInteger(at: at, as: UInt8.self) ?? 0) ^ 0x40, at: at)
                flipped = true
            }
            if target.isActive { _ = try? target.writeInbound(piece) }
        }
    }

    for operation in input.dropFirst() {
        counter &+= 1
        switch operation % 12 {
        case 0:
            var bytes = ByteBuffer(repeating: counter, count: Int(operation) * 37)
            if client.isActive {
                sent.writeImmutableBuffer(bytes)
                client.write(bytes, promise: nil)
            }
            bytes.clear()
        case 1: client.flush()
        case 2: server.writeAndFlush(ByteBuffer(repeating: counter, count: Int(operation) * 3), promise: nil)
        case 3: server.write(ByteBuffer(repeating: counter, count: Int(operation)), promise: nil)
        case 4: server.flush()
        case 5: move(from: client, to: server, limit: nil)
        case 6: move(from: client, to: server, limit: Int(operation) / 4 + 1)
        case 7: move(from: server, to: client, limit: nil)
        case 8: server.close(promise: nil)
        case 9: server.close(mode: .output, promise: nil)
        case 10: client.close(promise: nil)
        default: move(from: client, to: server, limit: 64, flip: true)
        }
        _ = server.embeddedEventLoop.run()
        if wasClosed { precondition(!server.isActive, "a closed connection came back") }
        wasClosed = !server.isActive
    }
    if !flipped {
        let got = sink.received.readableBytesView
        precondition(sent.readableBytesView.starts(with: got), "the server passed on what the client did not send")
    }
    end(server)
    end(client)
}

/// Closes `channel` and lets the time a closing TLS connection waits for its peer's close_notify pass.
private func end(_ channel: EmbeddedChannel) {
    channel.close(promise: nil)
    channel.embeddedEventLoop.advanceTime(by: .seconds(60))
    _ = try? channel.finish(acceptAlreadyClosed: true)
}

/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("TLSFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))[...]
    if input[input.startIndex] % 2 == 0 {
        bytesBeforeAHandshake(input.dropFirst())
    } else {
        script(input.dropFirst())
    }
    return 0
}
