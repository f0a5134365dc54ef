public import NIOCore
import Synchronization

/// The client certificate chain (DER, leaf first) a TLS connection presented, recorded by the TLS layer's
/// verification callback and read by the HTTPS device API. It sits in the connection's pipeline so that a
/// request finds it through its channel; it passes everything through.
public final class PresentedCertificates: ChannelInboundHandler, Sendable {
    public typealias InboundIn = NIOAny

    private let chain = Mutex<[[UInt8]]>([])

    public init() {}

    /// Called from the TLS verification callback.
    public func record(_ certificates: [[UInt8]]) {
        chain.withLock { $0 = certificates }
    }

    /// What was presented; empty when no certificate was.
    public var certificates: [[UInt8]] { chain.withLock { $0 } }
}
