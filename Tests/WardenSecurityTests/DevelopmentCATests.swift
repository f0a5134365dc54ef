import Foundation
import SwiftASN1
import Testing
import WardenCore
import WardenSecurity
import X509

struct DevelopmentCATests {
    @Test func issuesAServerCertificateThatChainsToTheCA() async throws {
        let now = Date()
        let (ca, issued) = try DevelopmentCA.generate(now: now)
        let server = try ca.issueServerCertificate(
            dnsNames: ["localhost"], ipAddresses: [try #require(IPAddress("127.0.0.1"))], now: now, lifetime: 86_400)
        #expect(try DevelopmentCA.names(ofPEM: server.certificatePEM) == ["localhost"])
        let leaf = try Certificate(pemEncoded: server.certificatePEM)
        var verifier = Verifier(
            rootCertificates: CertificateStore([try Certificate(pemEncoded: issued.certificatePEM)])
        ) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: "localhost", serverIP: nil)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        guard case .validCertificate = result else {
            Issue.record("the server certificate does not validate: \(result)")
            return
        }
    }

    @Test func reloadsFromPEM() throws {
        let (ca, issued) = try DevelopmentCA.generate(now: Date())
        let reloaded = try DevelopmentCA(certificatePEM: issued.certificatePEM, privateKeyPEM: issued.privateKeyPEM)
        #expect(reloaded.certificate == ca.certificate)
        #expect("\(issued.privateKeyPEM)" == "<redacted>")
    }
}
