import Foundation
import SwiftASN1
import Testing
import WardenCore
import X509

@testable import WardenSecurity

/// Registering CAs for x509-ca devices: only CA certificates, only unexpired ones.
struct CertificateAuthorityCheckTests {
    let now = Date()

    @Test func acceptsACACertificateAndRecordsItsThumbprint() throws {
        let (_, issued) = try DevelopmentCA.generate(now: now)
        let parsed = try CertificateAuthorityCheck.parseCA(issued.certificatePEM, now: now)
        #expect(parsed.thumbprint.algorithm == .sha256)
        #expect(parsed.subject.contains("Warden Development CA"))
    }

    @Test func refusesALeafCertificateGarbageAndAnExpiredCA() throws {
        let (ca, issued) = try DevelopmentCA.generate(now: now)
        let leaf = try ca.issueServerCertificate(
            dnsNames: ["localhost"], ipAddresses: [], now: now, lifetime: 3600)
        #expect(throws: WardenError(.caInvalidCertificate, "")) {
            try CertificateAuthorityCheck.parseCA(leaf.certificatePEM, now: now)
        }
        #expect(throws: WardenError(.caInvalidCertificate, "")) {
            try CertificateAuthorityCheck.parseCA(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", now: now)
        }
        #expect(throws: WardenError(.caInvalidCertificate, "")) {
            try CertificateAuthorityCheck.parseCA(issued.certificatePEM, now: now.addingTimeInterval(11 * 365 * 86_400))
        }
    }

    @Test func proofMustCarryTheCodeAndTheCAsSignature() throws {
        let (ca, issued) = try DevelopmentCA.generate(now: now)
        let (_, otherIssued) = try DevelopmentCA.generate(now: now)
        // The development CA names its certificates' subject after the first DNS name.
        let proof = try ca.issueServerCertificate(dnsNames: ["C0DE"], ipAddresses: [], now: now, lifetime: 3600)
        try CertificateAuthorityCheck.verifyProof(proof.certificatePEM, code: "C0DE", caPEM: issued.certificatePEM)
        #expect(throws: WardenError(.caVerificationFailed, "")) {
            try CertificateAuthorityCheck.verifyProof(proof.certificatePEM, code: "OTHER", caPEM: issued.certificatePEM)
        }
        #expect(throws: WardenError(.caVerificationFailed, "")) {
            try CertificateAuthorityCheck.verifyProof(
                proof.certificatePEM, code: "C0DE", caPEM: otherIssued.certificatePEM)
        }
    }

    /// A presented chain longer than any real device's is refused before the path search: certificates that can
    /// each sign the others make the search's paths grow as a factorial, a CPU cost any TLS client could ask for.
    @Test func aChainLongerThanTheMostIsRefusedBeforeTheSearch() async throws {
        let (ca, issued) = try DevelopmentCA.generate(now: now)
        let root = try Certificate(pemEncoded: issued.certificatePEM)
        func der(_ pem: String) throws -> [UInt8] {
            var serializer = DER.Serializer()
            try serializer.serialize(try Certificate(pemEncoded: pem))
            return serializer.serializedBytes
        }
        let leaf = try der(
            ca.issueServerCertificate(dnsNames: ["cam-1"], ipAddresses: [], now: now, lifetime: 3600)
                .certificatePEM)
        let others = try (0..<CertificateAuthorityCheck.maximumChainLength).map { _ in
            try der(DevelopmentCA.generate(now: now).1.certificatePEM)
        }
        let longest = [leaf] + others.dropFirst()
        #expect(longest.count == CertificateAuthorityCheck.maximumChainLength)
        let valid = await CertificateAuthorityCheck.validate(chain: longest, roots: [root], now: now)
        #expect(valid?.commonName == "cam-1")
        #expect(await CertificateAuthorityCheck.validate(chain: [leaf] + others, roots: [root], now: now) == nil)
    }
}
