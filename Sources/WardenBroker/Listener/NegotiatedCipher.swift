import CWardenTLS
import NIOSSL

extension NIOSSLHandler {
    /// The cipher suite the handshake chose (`TLS_AES_128_GCM_SHA256`), for the Defender's inventory; nil when
    /// not known. swift-nio-ssl keeps the BoringSSL connection in private properties, found by reflection once per
    /// connection; a swift-nio-ssl upgrade that renames them makes this nil, never a crash (a test pins it).
    var negotiatedCipherSuite: String? {
        guard let connection = Mirror(reflecting: self).children.first(where: { $0.label == "connection" })?.value,
            let ssl = Mirror(reflecting: connection).children.first(where: { $0.label == "ssl" })?.value
                as? OpaquePointer,
            let name = warden_tls_cipher_name(UnsafeMutableRawPointer(ssl))
        else { return nil }
        return String(cString: name)
    }
}
