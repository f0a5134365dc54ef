import Foundation
import Testing
import WardenSecurity

@testable import WardenServer

/// The listeners' TLS context: what testssl.sh checks, pinned where a library upgrade could undo it.
struct TLSContextTests {
    @Test(arguments: [ServerConfiguration.TLSMinimumVersion.tls12, .tls13])
    func theServerChoosesTheCipherSuite(_ minimum: ServerConfiguration.TLSMinimumVersion) throws {
        let (ca, _) = try DevelopmentCA.generate(now: Date())
        let issued = try ca.issueServerCertificate(
            dnsNames: ["localhost"], ipAddresses: [], now: Date(), lifetime: 86_400)
        let material = TLSMaterial(
            certificateChainPEM: issued.certificatePEM, privateKeyPEM: issued.privateKeyPEM, caCertificatePath: nil)
        // Throws when swift-nio-ssl's context no longer has the property the option is set on.
        _ = try WardenServer.makeTLSContext(material, minimum: minimum)
    }
}
