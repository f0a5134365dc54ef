import Foundation
import Synchronization
import WardenCore
import WardenSecurity

/// The server's certificate chain and key: from configuration, or issued by the development CA that the first
/// start creates (`tls/ca.pem` for clients to trust). The server certificate is re-issued when it has less
/// than 30 days left.
struct TLSMaterial: Sendable {
    let certificateChainPEM: String
    let privateKeyPEM: SecretBytes
    /// The CA clients should trust, when the development CA is in use.
    let caCertificatePath: String?

    static let serverCertificateLifetime: TimeInterval = 397 * 86_400
    static let renewalMargin: TimeInterval = 30 * 86_400
    /// What the sealed server and development CA keys are bound to.
    static let serverKeyContext = "tls.server-key"
    static let caKeyContext = "tls.ca-key"
    /// Held while the sealed TLS keys are read or written: a renewal and a master-key rotation take turns.
    static let sealedFiles = Mutex(())

    static func load(
        _ configuration: ServerConfiguration.TLS, directory: DataDirectory, hubHostName: HostName,
        sealer: any SecretSealer,
        now: Date
    ) throws -> TLSMaterial {
        try sealedFiles.withLock { _ in
            try loadHoldingFiles(
                configuration, directory: directory, hubHostName: hubHostName, sealer: sealer, now: now)
        }
    }

    private static func loadHoldingFiles(
        _ configuration: ServerConfiguration.TLS, directory: DataDirectory, hubHostName: HostName,
        sealer: any SecretSealer, now: Date
    ) throws -> TLSMaterial {
        if let certificatePath = configuration.certificatePath, let keyPath = configuration.privateKeyPath {
            guard let chain = FileManager.default.contents(atPath: certificatePath),
                let key = FileManager.default.contents(atPath: keyPath)
            else {
                throw WardenError(.configInvalidValue, "Cannot read 'tls.certificate' or 'tls.private-key'.")
            }
            return TLSMaterial(
                certificateChainPEM: String(decoding: chain, as: UTF8.self), privateKeyPEM: SecretBytes(Array(key)),
                caCertificatePath: nil)
        }
        let ca = try developmentCA(directory, sealer: sealer, now: now)
        if directory.exists(directory.serverCertificate), directory.exists(directory.sealedServerKey),
            let pem = String(data: try directory.read(directory.serverCertificate), encoding: .utf8),
            let notAfter = try? DevelopmentCA.expiry(ofPEM: pem), notAfter.timeIntervalSince(now) > renewalMargin,
            (try? DevelopmentCA.names(ofPEM: pem).contains(hubHostName.rawValue)) == true
        {
            let key = try sealer.open(Array(try directory.read(directory.sealedServerKey)), context: serverKeyContext)
            return TLSMaterial(certificateChainPEM: pem, privateKeyPEM: key, caCertificatePath: directory.caCertificate)
        }
        let names = Array(Set(["localhost", hubHostName.rawValue])).sorted()
        let issued = try ca.issueServerCertificate(
            dnsNames: names, ipAddresses: [IPAddress("127.0.0.1"), IPAddress("::1")].compactMap { $0 }, now: now,
            lifetime: serverCertificateLifetime)
        try directory.write(Data(issued.certificatePEM.utf8), to: directory.serverCertificate, mode: 0o644)
        try directory.write(
            Data(try sealer.seal(issued.privateKeyPEM, context: serverKeyContext)), to: directory.sealedServerKey,
            mode: 0o600)
        return TLSMaterial(
            certificateChainPEM: issued.certificatePEM, privateKeyPEM: issued.privateKeyPEM,
            caCertificatePath: directory.caCertificate)
    }

    private static func developmentCA(_ directory: DataDirectory, sealer: any SecretSealer, now: Date) throws
        -> DevelopmentCA
    {
        if directory.exists(directory.caCertificate), directory.exists(directory.sealedCAKey) {
            let key = try sealer.open(Array(try directory.read(directory.sealedCAKey)), context: caKeyContext)
            return try DevelopmentCA(
                certificatePEM: String(decoding: try directory.read(directory.caCertificate), as: UTF8.self),
                privateKeyPEM: key)
        }
        let (ca, issued) = try DevelopmentCA.generate(now: now)
        try directory.write(
            Data(try sealer.seal(issued.privateKeyPEM, context: caKeyContext)), to: directory.sealedCAKey, mode: 0o600)
        try directory.write(Data(issued.certificatePEM.utf8), to: directory.caCertificate, mode: 0o644)
        // A new CA invalidates any server certificate the directory still holds.
        try? FileManager.default.removeItem(atPath: directory.serverCertificate)
        return ca
    }
}
