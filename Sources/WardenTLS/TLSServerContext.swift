import CWardenTLS
public import NIOSSL
import WardenCore

/// A listener's TLS settings as BoringSSL holds them: swift-nio-ssl builds the `SSL_CTX` from a
/// `TLSConfiguration` (certificate chain, key, versions, suites, a client certificate asked for), and this sets what
/// swift-nio-ssl has no setting for:
/// - the server chooses the cipher suite by its own order (TLS 1.2; TLS 1.3 lets the client choose among
///   equally strong suites);
/// - no session resumption: a full handshake checks a device's certificate again at each connection.
///
/// Its connections are `TLSServerHandler`s, each an `SSL` of this context; an `SSL` holds a reference to its
/// context, so replacing the context (`TLSContextSlot`) leaves live connections as they are.
public final class TLSServerContext: Sendable {
    /// Keeps the `SSL_CTX` alive; swift-nio-ssl frees it with this.
    private let owner: NIOSSLContext
    nonisolated(unsafe) let sslContext: UnsafeMutableRawPointer

    /// Throws `config.invalid_value` when the configuration cannot be used, when swift-nio-ssl no longer keeps its
    /// `SSL_CTX` where this finds it (by reflection: a swift-nio-ssl upgrade renamed it) or the context does not
    /// read back as set, so the server never starts with a weaker setting than it says; a test pins it.
    ///
    /// A configuration with a callback that swift-nio-ssl runs with its own connection's data (a context callback,
    /// PSK, key logging) is refused: `TLSServerHandler`'s connections carry none, and the callback would trap.
    public init(configuration: TLSConfiguration) throws {
        guard configuration.sslContextCallback == nil, configuration.pskServerCallback == nil,
            configuration.pskServerProvider == nil, configuration.keyLogCallback == nil
        else {
            throw WardenError(.configInvalidValue, "TLS: a context, PSK or key-log callback is not supported.")
        }
        do {
            owner = try NIOSSLContext(configuration: configuration)
        } catch {
            throw WardenError(.configInvalidValue, "The TLS certificate or key cannot be used: \(error).")
        }
        guard
            let pointer = Mirror(reflecting: owner).children.first(where: { $0.label == "sslContext" })?.value
                as? OpaquePointer
        else {
            throw WardenError(.configInvalidValue, "TLS: swift-nio-ssl no longer exposes its context.")
        }
        sslContext = UnsafeMutableRawPointer(pointer)
        guard warden_tls_configure_server(sslContext) else {
            throw WardenError(.configInvalidValue, "TLS: the server cipher order or session setting could not be set.")
        }
    }
}
