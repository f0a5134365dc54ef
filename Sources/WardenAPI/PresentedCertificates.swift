public import NIOCore
public import WardenAuthentication

/// Where an HTTPS request finds the client certificate chain its connection presented: the connection's
/// `PresentedChain`, which the TLS layer's verification callback records, in the pipeline so that a request
/// reaches it through its channel. It passes everything through.
public final class PresentedCertificates: ChannelInboundHandler, Sendable {
    public typealias InboundIn = NIOAny

    public let chain = PresentedChain()

    public init() {}
}
