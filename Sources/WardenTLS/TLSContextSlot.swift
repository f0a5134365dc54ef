import Synchronization

/// The TLS context new connections of a listener use; replaced on SIGHUP while live connections keep theirs.
public final class TLSContextSlot: Sendable {
    private let context: Mutex<TLSServerContext>

    public init(_ context: TLSServerContext) {
        self.context = Mutex(context)
    }

    /// The context for the next connection.
    public var current: TLSServerContext { context.withLock { $0 } }

    /// Uses `context` from now on.
    public func replace(with context: TLSServerContext) {
        self.context.withLock { $0 = context }
    }
}
