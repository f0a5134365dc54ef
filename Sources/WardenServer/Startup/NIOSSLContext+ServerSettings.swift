import CWardenTLS
import NIOSSL
import WardenCore

extension NIOSSLContext {
    /// Sets what swift-nio-ssl has no setting for, on the BoringSSL context it keeps in a private property, found
    /// by reflection:
    /// - the server chooses the cipher suite by its own order (TLS 1.2; TLS 1.3 lets the client choose among
    ///   equally strong suites);
    /// - no session resumption: a resumed handshake skips the certificate verification callback, where each
    ///   listener records the chain a device presents, so an X.509 device resuming a session would present
    ///   nothing; a full handshake checks the certificate again at each connection.
    ///
    /// Throws `config.invalid_value` when that property is gone (a swift-nio-ssl upgrade renamed it) or the context
    /// does not read back as set, so the server never starts with a weaker setting than it says; a test pins it.
    func configureServer() throws {
        guard
            let pointer = Mirror(reflecting: self).children.first(where: { $0.label == "sslContext" })?.value
                as? OpaquePointer
        else {
            throw WardenError(.configInvalidValue, "TLS: swift-nio-ssl no longer exposes its context's options.")
        }
        guard warden_tls_configure_server(UnsafeMutableRawPointer(pointer)) else {
            throw WardenError(.configInvalidValue, "TLS: the server cipher order or session setting could not be set.")
        }
    }
}
