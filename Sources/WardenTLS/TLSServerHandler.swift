import CWardenTLS
public import NIOCore
import NIOTLS

/// The server side of TLS on a device listener's connection, over BoringSSL directly (`warden_tls`).
///
/// Why not swift-nio-ssl's `NIOSSLServerHandler`, which builds the context: an idle connection there keeps a
/// plaintext read buffer and a BIO buffer of 16 KiB each and a ring of 96 pending writes for its whole life,
/// about as much as a whole idle TLS connection costs mosquitto (BENCHMARKS.md, "Idle connections"). Here the
/// connection holds BoringSSL's own state and nothing else between reads: input is lent to BoringSSL for the
/// duration of a call, output is taken at once, and small writes between two flushes go out as one record.
///
/// What a chain the client presents proves is not decided here: any chain passes the handshake (BoringSSL still
/// checks the client's proof of possession of the key), and `checkChain` gets it, leaf first, before anything the
/// client sent after the handshake is passed on. A closing connection sends close_notify and waits up to
/// `closeNotifyWait` for the client's, reading and dropping what comes meanwhile, so that the last answer is not
/// lost to a reset from unread input.
public final class TLSServerHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Runs once the handshake ends with a chain (DER, leaf first); the connection reads on when it returns.
    public typealias ChainCheck = @Sendable ([[UInt8]]) async -> Void

    /// How long a closing connection waits for the client's close_notify.
    public static let closeNotifyWait = TimeAmount.seconds(5)

    /// The largest buffer decrypted records are read into: below glibc's mmap threshold (16 KiB, docs/
    /// architecture.md "Memory"), so that a busy connection's reads do not map and unmap pages.
    static let plaintextChunk = 8_192

    /// The most plaintext encrypted at once: its records are written before the next piece is encrypted.
    static let sealedPiece = 65_536

    /// Writes up to this size wait for the flush and share its records; larger ones are encrypted as they come.
    static let coalescedWriteLimit = 4_096

    private enum State {
        case handshaking
        case checkingChain
        case open
        case closing
        case closed
    }

    private let engine: Engine
    private let checkChain: ChainCheck
    private var state = State.handshaking
    /// Ciphertext that came while the chain was checked.
    private var held: ByteBuffer?
    /// A read asked for while the chain was checked.
    private var readWanted = false
    /// A read under way, and the bytes that came during it.
    private var isReceiving = false
    private var queued: ByteBuffer?
    /// Small writes since the last flush, with their promises; writes made before the handshake ended.
    private var plaintext: ByteBuffer?
    private var plaintextPromises: [EventLoopPromise<Void>] = []
    private var early: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var closePromise: EventLoopPromise<Void>?
    private var closeTimer: Scheduled<Void>?

    /// Throws `TLSFailure` when BoringSSL cannot make the connection (memory).
    public init(context: TLSServerContext, checkChain: @escaping ChainCheck) throws {
        guard let raw = warden_tls_new(context.sslContext) else { throw TLSFailure("no memory for a connection") }
        engine = Engine(raw, context: context)
        self.checkChain = checkChain
    }

    /// "1.2" or "1.3" once the handshake is done.
    public var negotiatedVersion: String? {
        guard state != .handshaking else { return nil }
        return switch warden_tls_version(engine.raw) {
        case 0x0304: "1.3"
        case 0x0303: "1.2"
        default: nil
        }
    }

    /// The cipher suite the handshake chose (`TLS_AES_128_GCM_SHA256`), for the Defender's inventory.
    public var negotiatedCipherSuite: String? {
        warden_tls_cipher_name(engine.raw).map { String(cString: $0) }
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        // A flush inside a read (ours, or a layer's above) that fails makes NIO read what the socket still holds
        // before it closes: those bytes wait for the ones being read.
        guard !isReceiving else {
            queued.setOrWriteImmutableBuffer(bytes)
            return
        }
        receiving(context) { handler in
            var bytes = bytes
            handler.dispatch(context, &bytes)
        }
    }

    /// Runs `body` as the one read under way, then reads what came meanwhile.
    private func receiving(_ context: ChannelHandlerContext, _ body: (TLSServerHandler) -> Void) {
        isReceiving = true
        defer { isReceiving = false }
        body(self)
        while state != .closed, var more = queued.take() { dispatch(context, &more) }
    }

    private func dispatch(_ context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        switch state {
        case .handshaking: handshake(context, &bytes)
        case .checkingChain: held.setOrWriteImmutableBuffer(bytes)
        case .open, .closing: readRecords(context, &bytes)
        case .closed: break
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .open: context.fireChannelReadComplete()
        // Waiting for the client's close_notify, also when a layer above had stopped reading.
        case .closing: context.read()
        default: break
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let wasClosing = state == .closing
        state = .closed
        closeTimer?.cancel()
        closeTimer = nil
        failWrites(ChannelError.ioOnClosedChannel)
        held = nil
        queued = nil
        if wasClosing { closePromise.take()?.succeed() }
        context.fireChannelInactive()
    }

    private func handshake(_ context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        let result = engine.lending(&bytes) { warden_tls_handshake(engine.raw) }
        guard result >= 0 else { return fail(context, TLSFailure.last()) }
        sendProtocolOutput(context)
        // The flush may have failed and closed the connection.
        guard result == 1, state == .handshaking else { return }
        let chain = engine.peerCertificates()
        guard !chain.isEmpty else { return open(context, &bytes) }
        state = .checkingChain
        if bytes.readableBytes > 0 { held = bytes }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let check = checkChain
        promise.completeWithTask { await check(chain) }
        promise.futureResult.assumeIsolated().whenComplete { _ in
            guard self.state == .checkingChain else { return }
            self.receiving(context) { handler in
                var held = handler.held.take() ?? ByteBuffer()
                handler.open(context, &held)
            }
            if self.state == .open { context.fireChannelReadComplete() }
            if self.readWanted {
                self.readWanted = false
                context.read()
            }
        }
    }

    /// The handshake is over: writes made before it go out, the layers above hear of it, and what the client
    /// sent after it is read.
    private func open(_ context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        state = .open
        if !early.isEmpty {
            for (buffer, promise) in early.take() {
                if state == .open {
                    encrypt(context, buffer, promise: promise)
                } else {
                    promise?.fail(ChannelError.ioOnClosedChannel)
                }
            }
            flush(context: context)
        }
        guard state == .open else { return }
        context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        // Also with no bytes left: BoringSSL may hold a record it read with the handshake's last message.
        readRecords(context, &bytes)
    }

    /// Decrypts what `bytes` completes, passing it on in buffers of up to `plaintextChunk` (or dropping it while
    /// closing).
    private func readRecords(_ context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        var result = 0
        var failure: TLSFailure?
        repeat {
            let capacity = min(max(bytes.readableBytes, 1_024), Self.plaintextChunk)
            var plaintext = context.channel.allocator.buffer(capacity: capacity)
            engine.lending(&bytes) {
                while plaintext.writableBytes > 0 {
                    plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                        let count = warden_tls_read(engine.raw, space.baseAddress, space.count)
                        result = count > 0 ? 1 : count
                        // Read now: code run before `fail` may use BoringSSL on this thread.
                        if count == -2 { failure = TLSFailure.last() }
                        return max(count, 0)
                    }
                    if result <= 0 { break }
                }
            }
            if plaintext.readableBytes > 0, state == .open {
                context.fireChannelRead(wrapInboundOut(plaintext))
            }
        } while result == 1 && state != .closed
        // A layer above may have closed the connection while it read.
        guard state != .closed else { return }
        switch result {
        case -1: peerClosed(context)
        case -2: fail(context, failure ?? TLSFailure.last())
        default: sendProtocolOutput(context)  // a TLS 1.3 key update's answer, for one
        }
    }

    /// The client sent close_notify: what was written goes out, then ours, then the connection closes.
    private func peerClosed(_ context: ChannelHandlerContext) {
        if state == .open { sealPlaintext(context) }
        guard state != .closed else { return }
        let promise = closePromise.take()
        state = .closed
        closeTimer?.cancel()
        warden_tls_close(engine.raw)
        sendProtocolOutput(context)
        // The flush may have failed and closed it already.
        if context.channel.isActive {
            context.close(promise: promise)
        } else {
            promise?.succeed()
        }
    }

    /// The handshake or a record failed: the layers above hear why, the alert BoringSSL wrote goes out, and the
    /// connection closes.
    private func fail(_ context: ChannelHandlerContext, _ failure: TLSFailure) {
        let promise = closePromise.take()
        state = .closed
        closeTimer?.cancel()
        failWrites(failure)
        sendProtocolOutput(context)
        context.fireErrorCaught(failure)
        context.close(promise: promise)
    }

    // MARK: Outbound

    public func read(context: ChannelHandlerContext) {
        if state == .checkingChain {
            readWanted = true
        } else {
            context.read()
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .handshaking, .checkingChain: early.append((buffer, promise))
        case .open: encrypt(context, buffer, promise: promise)
        case .closing, .closed: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        guard state == .open else { return }
        sealPlaintext(context)
        if state == .open { context.flush() }
    }

    /// `.all` sends close_notify and waits for the client's (see the type's comment); `.output` sends close_notify
    /// and closes the output at once, for a caller that ends the connection without waiting (`SocketCloser`).
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch (state, mode) {
        case (.open, .all), (.open, .output):
            sealPlaintext(context)
            guard state == .open else { return context.close(mode: mode, promise: promise) }
            warden_tls_close(engine.raw)
            state = .closing
            guard mode == .all else {
                sendProtocolOutput(context)
                return context.close(mode: mode, promise: promise)
            }
            // Kept first: the flush may fail and close the connection, or read the client's close_notify.
            closePromise = promise
            sendProtocolOutput(context)
            guard state == .closing else { return }
            closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeNotifyWait) {
                guard self.state == .closing else { return }
                self.state = .closed
                context.close(promise: self.closePromise.take())
            }
            context.read()
        case (.closing, .all) where closeTimer != nil:
            if let promise {
                if let closePromise {
                    closePromise.futureResult.cascade(to: promise)
                } else {
                    closePromise = promise
                }
            }
        case (.handshaking, .all), (.checkingChain, .all):
            state = .closed
            failWrites(ChannelError.ioOnClosedChannel)
            context.close(promise: promise)
        default:
            context.close(mode: mode, promise: promise)
        }
    }

    /// Small writes wait in `plaintext` for the flush; a larger one first seals what waits, keeping the order.
    private func encrypt(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        if buffer.readableBytes <= Self.coalescedWriteLimit {
            plaintext.setOrWriteImmutableBuffer(buffer)
            if let promise { plaintextPromises.append(promise) }
        } else {
            sealPlaintext(context)
            seal(context, buffer, promises: promise.map { [$0] } ?? [])
        }
    }

    private func sealPlaintext(_ context: ChannelHandlerContext) {
        guard let waiting = plaintext.take() else { return }
        seal(context, waiting, promises: plaintextPromises.take())
    }

    /// Encrypts `buffer` in pieces of up to `sealedPiece` bytes, each piece's records written (not flushed) as
    /// they are made; the promises complete with the last piece's write.
    private func seal(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, promises: [EventLoopPromise<Void>]) {
        guard state == .open else {
            for promise in promises { promise.fail(ChannelError.ioOnClosedChannel) }
            return
        }
        var rest = buffer
        repeat {
            let piece = rest.readSlice(length: min(rest.readableBytes, Self.sealedPiece)) ?? ByteBuffer()
            let result = piece.withUnsafeReadableBytes { warden_tls_write(engine.raw, $0.baseAddress, $0.count) }
            guard result == 1 else {
                let failure = TLSFailure.last()
                fail(context, failure)
                for promise in promises { promise.fail(failure) }
                return
            }
            context.write(
                wrapOutboundOut(takeOutput(context)),
                promise: rest.readableBytes == 0 ? combined(promises, context) : nil)
        } while rest.readableBytes > 0
    }

    /// One promise standing for several (nil for none).
    private func combined(_ promises: [EventLoopPromise<Void>], _ context: ChannelHandlerContext) -> EventLoopPromise<
        Void
    >? {
        switch promises.count {
        case 0: return nil
        case 1: return promises[0]
        default:
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { result in
                for each in promises { each.completeWith(result) }
            }
            return promise
        }
    }

    /// What BoringSSL wrote (an empty buffer when nothing).
    private func takeOutput(_ context: ChannelHandlerContext) -> ByteBuffer {
        let count = warden_tls_output_count(engine.raw)
        var output = context.channel.allocator.buffer(capacity: count)
        guard count > 0 else { return output }
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
            warden_tls_take_output(engine.raw, space.baseAddress)
            return count
        }
        return output
    }

    /// Writes and flushes what BoringSSL wrote of its own (the handshake, an alert, close_notify, a key update's
    /// answer), if anything; a flush also sends application records written before it.
    private func sendProtocolOutput(_ context: ChannelHandlerContext) {
        guard warden_tls_output_count(engine.raw) > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(takeOutput(context)), promise: nil)
    }

    private func failWrites(_ error: any Error) {
        plaintext = nil
        for promise in plaintextPromises.take() { promise.fail(error) }
        for (_, promise) in early.take() { promise?.fail(error) }
    }
}

/// Why a TLS connection failed, as BoringSSL says it ("error:10000410:SSL routines:OPENSSL_internal:...").
public struct TLSFailure: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description.isEmpty ? "TLS failed" : description
    }

    /// BoringSSL's reason for the last failure on this thread.
    static func last() -> TLSFailure {
        var text = [CChar](repeating: 0, count: 256)
        text.withUnsafeMutableBufferPointer { warden_tls_error($0.baseAddress, $0.count) }
        return TLSFailure(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

extension TLSServerHandler {
    /// Owns the C connection (freed with the handler) and the context it was made on.
    fileprivate final class Engine {
        let raw: OpaquePointer
        private let context: TLSServerContext

        init(_ raw: OpaquePointer, context: TLSServerContext) {
            self.raw = raw
            self.context = context
        }

        deinit { warden_tls_free(raw) }

        /// Runs `body` with `bytes` lent to BoringSSL, then moves past what it read.
        func lending<T>(_ bytes: inout ByteBuffer, _ body: () -> T) -> T {
            let (result, consumed) = bytes.withUnsafeReadableBytes { space in
                warden_tls_set_input(raw, space.baseAddress?.assumingMemoryBound(to: UInt8.self), space.count)
                defer { warden_tls_set_input(raw, nil, 0) }
                let result = body()
                return (result, space.count - warden_tls_input_left(raw))
            }
            bytes.moveReaderIndex(forwardBy: consumed)
            return result
        }

        /// The chain the client presented, leaf first.
        func peerCertificates() -> [[UInt8]] {
            (0..<warden_tls_peer_certificate_count(raw)).compactMap { index in
                var length = 0
                guard let bytes = warden_tls_peer_certificate(raw, index, &length) else { return nil }
                return Array(UnsafeBufferPointer(start: bytes, count: length))
            }
        }
    }
}

extension Optional {
    /// The value, leaving nil behind.
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}

extension Array {
    fileprivate mutating func take() -> Self {
        defer { self = [] }
        return self
    }
}
