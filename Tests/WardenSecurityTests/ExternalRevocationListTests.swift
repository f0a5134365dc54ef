import Foundation
import SwiftASN1
import Testing
import WardenCore
import X509

@testable import WardenSecurity

/// Reading CRLs from outside: what a CA signed is read back exactly; anything else is refused with a reason.
struct ExternalRevocationListTests {
    let now = Date()

    private func authority(_ name: String) throws -> IssuingAuthority {
        try IssuingAuthority.generate(subject: try DistinguishedName { CommonName(name) }, now: now, lifetime: 86_400)
            .authority
    }

    @Test func readsWhatTheCASignedAndChecksTheSignatureAndIssuer() throws {
        let ca = try authority("Fleet")
        let der = try ca.revocationList(
            revoked: [
                RevokedEntry(serial: "0A1B", revokedAt: now, reason: .keyCompromise),
                RevokedEntry(serial: "FF00", revokedAt: now, reason: .unspecified),
            ], number: 7, thisUpdate: now, nextUpdate: now + 3_600)
        let list = try ExternalRevocationList(bytes: der, issuer: ca.certificate)
        #expect(list.serials == ["0A1B", "FF00"] && list.number == "07")
        #expect(abs(list.thisUpdate.timeIntervalSince(now)) < 1 && list.nextUpdate.map { $0 > now } == true)
        let pem = PEMDocument(type: "X509 CRL", derBytes: der).pemString
        #expect(try ExternalRevocationList(bytes: Array(pem.utf8), issuer: ca.certificate) == list)

        // Another CA's key, a flipped signature bit, a CRL of another issuer: refused.
        let other = try authority("Fleet")
        #expect(throws: WardenError(.caInvalidRevocationList, "")) {
            try ExternalRevocationList(bytes: der, issuer: other.certificate)
        }
        var tampered = der
        tampered[tampered.count - 3] ^= 0x01
        #expect(throws: WardenError(.caInvalidRevocationList, "")) {
            try ExternalRevocationList(bytes: tampered, issuer: ca.certificate)
        }
    }

    @Test func hostileBytesAreRefusedNotTrapped() throws {
        let ca = try authority("Fleet")
        let der = try ca.revocationList(revoked: [], number: 1, thisUpdate: now, nextUpdate: now + 60)
        var inputs: [[UInt8]] = [
            [], [0x30], [0x30, 0x80], Array(repeating: 0x30, count: 4_096), Array("-----BEGIN X509 CRL-----".utf8),
        ]
        for cut in stride(from: 1, to: der.count, by: 7) { inputs.append(Array(der.prefix(cut))) }
        for index in stride(from: 0, to: der.count, by: 5) {
            var flipped = der
            flipped[index] ^= 0xFF
            inputs.append(flipped)
        }
        for input in inputs {
            #expect(throws: WardenError(.caInvalidRevocationList, "")) {
                try ExternalRevocationList(bytes: input, issuer: ca.certificate)
            }
        }
        #expect(throws: WardenError(.caInvalidRevocationList, "")) {
            try ExternalRevocationList(
                bytes: Array(repeating: 0, count: ExternalRevocationList.maximumBytes + 1), issuer: ca.certificate)
        }
    }
}
