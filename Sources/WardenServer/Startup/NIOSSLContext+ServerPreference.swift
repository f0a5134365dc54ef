import CWardenTLS
import NIOSSL
import WardenCore

extension NIOSSLContext {
    /// Makes the server choose the cipher suite by its own order (TLS 1.2; TLS 1.3 lets the client choose among
    /// equally strong suites), which swift-nio-ssl has no setting for: the option is set on the BoringSSL
    /// context it keeps in a private property, found by reflection. Throws `config.invalid_value` when that
    /// property is gone (a swift-nio-ssl upgrade renamed it) or the option did not take, so the server never
    /// starts with a weaker setting than it says; a test pins it.
    func preferServerCipherOrder() throws {
        guard
            let pointer = Mirror(reflecting: self).children.first(where: { $0.label == "sslContext" })?.value
                as? OpaquePointer
        else {
            throw WardenError(.configInvalidValue, "TLS: swift-nio-ssl no longer exposes its context's options.")
        }
        let options = warden_tls_prefer_server_ciphers(UnsafeMutableRawPointer(pointer))
        guard options & warden_tls_server_preference_option != 0 else {
            throw WardenError(.configInvalidValue, "TLS: the server cipher order could not be set.")
        }
    }
}
