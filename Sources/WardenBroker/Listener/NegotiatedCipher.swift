import CWardenTLS
import NIOSSL

extension NIOSSLHandler {
    /// The cipher suite the handshake chose (`TLS_AES_128_GCM_SHA256`), for the Defender's inventory; nil when
    /// not known. swift-nio-ssl keeps the BoringSSL connection in private properties, found by reflection once per
    /// connection; a swift-nio-ssl upgrade that renames them makes this nil, never a crash (a test pins it).
    var negotiatedCipherSuite: String? {
        guard let connection = Self.property("connection", of: self),
            let ssl = Self.property("ssl", of: connection) as? OpaquePointer,
            let name = warden_tls_cipher_name(UnsafeMutableRawPointer(ssl))
        else { return nil }
        return String(cString: name)
    }

    /// A stored property by name, looked for in the class and its superclasses (`NIOSSLServerHandler` keeps
    /// its connection in `NIOSSLHandler`'s).
    private static func property(_ label: String, of value: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: value)
        while let current = mirror {
            if let found = current.children.first(where: { $0.label == label }) { return found.value }
            mirror = current.superclassMirror
        }
        return nil
    }
}
