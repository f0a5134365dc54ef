public import NIOSSL
import Synchronization

/// The TLS context new connections of a listener use; replaced on SIGHUP while live connections keep theirs.
public final class TLSContextSlot: Sendable {
    private let context: Mutex<NIOSSLContext>

    public init(_ context: NIOSSLContext) {
        self.context = Mutex(context)
    }

    /// The context for the next connection.
    public var current: NIOSSLContext { context.withLock { $0 } }

    /// Uses `context` from now on.
    public func replace(with context: NIOSSLContext) {
        self.context.withLock { $0 = context }
    }
}
