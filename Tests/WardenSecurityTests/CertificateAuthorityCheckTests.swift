import Foundation
import Testing
import WardenCore

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
}
