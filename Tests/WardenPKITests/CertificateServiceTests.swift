import Crypto
import Foundation
import SwiftASN1
import Synchronization
import Testing
import WardenCore
import WardenPKI
import WardenStore
import X509

@testable import WardenSecurity

/// The tenant CA on a real SQLite store: issue from CSRs, renew, revoke, and what the CRL and OCSP say.
struct CertificateServiceTests {
    let database: SQLiteDatabase
    let bus = EventBus()
    let service: CertificateService
    let recorded = Recorded()

    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try SQLiteDatabase(
            path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        _ = try await database.createTenant(
            Tenant(id: .defaultTenant, hostName: try HostName("hub.example"), createdAt: Date()), etag: "e")
        service = CertificateService(
            store: database, bus: bus, settings: .init(baseURL: "http://pki.example:8080/"))
        let recorded = self.recorded
        bus.observe { event in recorded.events.withLock { $0.append(event) } }
    }

    func csrPEM(_ commonName: String) throws -> String { try csr(commonName) }

    private func csr(_ commonName: String, key: P256.Signing.PrivateKey = .init()) throws -> String {
        try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(commonName) },
            privateKey: Certificate.PrivateKey(key), attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256
        ).serializeAsPEM().pemString
    }

    private func fleetCA() async throws -> CertificateAuthority {
        try await service.createAuthority(.defaultTenant, try CAName("fleet"), commonName: "Fleet CA", days: 3650)
    }

    @Test func aCreatedCAIsVerifiedAndIssuesDeviceCertificatesThatChainToIt() async throws {
        let authority = try await fleetCA()
        #expect(authority.isIssuing && authority.isVerified)
        let issued = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
            days: 30, by: "user:admin")
        let certificate = try Certificate(pemEncoded: issued.certificatePEM)
        let root = try Certificate(pemEncoded: authority.certificatePEM)
        #expect(CertificateAuthorityCheck.commonName(of: certificate) == "meter-1")
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        let access = try certificate.extensions.authorityInformationAccess
        #expect(access?.contains { "\($0.location)".contains("http://pki.example:8080/pki/ocsp") } == true)
        let points = certificate.extensions.first { $0.oid == [2, 5, 29, 31] }
        #expect(points.map { String(decoding: $0.value, as: UTF8.self) }?.contains("/pki/default/fleet.crl") == true)
        #expect(issued.notValidAfter.timeIntervalSince(issued.issuedAt) <= 30 * 86_400)
        var verifier = Verifier(rootCertificates: CertificateStore([root])) { RFC5280Policy() }
        let result = await verifier.validate(leaf: certificate, intermediates: CertificateStore())
        guard case .validCertificate = result else {
            Issue.record("The issued certificate does not chain to its CA: \(result)")
            return
        }
        let published = recorded.events.withLock { $0 }
        #expect(published.contains { if case .certificateIssued(let c) = $0 { c == issued } else { false } })
        let serials = Set(
            try await [
                issued,
                service.issue(
                    .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"),
                    deviceID: try DeviceID("meter-1"), days: nil, by: "user:admin"),
            ].map(\.serial.serial))
        #expect(serials.count == 2)
    }

    @Test func hostileAndMismatchedRequestsAreRefusedWithTheirReason() async throws {
        let authority = try await fleetCA()
        let device = try DeviceID("meter-1")
        await #expect(throws: WardenError(.certificateRequestMismatch, "")) {
            try await service.issue(
                .defaultTenant, authority: authority.name, csrPEM: try csr("meter-2"), deviceID: device, days: nil,
                by: "t")
        }
        for garbage in [
            "", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
            String(repeating: "A", count: 20_000), authority.certificatePEM,
        ] {
            await #expect(throws: WardenError(.certificateInvalidRequest, "")) {
                try await service.issue(
                    .defaultTenant, authority: authority.name, csrPEM: garbage, deviceID: device, days: nil, by: "t")
            }
        }
        // A CSR whose signature is not by its key: flip one byte of the signature.
        var der = try CertificateSigningRequest(pemEncoded: try csr("meter-1")).derBytes()
        der[der.count - 2] ^= 0x01
        let tampered = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString
        await #expect(throws: WardenError(.certificateInvalidRequest, "")) {
            try await service.issue(
                .defaultTenant, authority: authority.name, csrPEM: tampered, deviceID: device, days: nil, by: "t")
        }
        await #expect(throws: WardenError(.certificateInvalidLifetime, "")) {
            try await service.issue(
                .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: device, days: 0,
                by: "t")
        }
        await #expect(throws: WardenError(.caNotFound, "")) {
            try await service.issue(
                .defaultTenant, authority: try CAName("nope"), csrPEM: try csr("meter-1"), deviceID: device,
                days: nil, by: "t")
        }
        await #expect(throws: WardenError(.certificateNotFound, "")) {
            try await service.revoke(.defaultTenant, serial: "not hex", reason: .keyCompromise)
        }
    }

    @Test func anExternalCAIssuesNothing() async throws {
        let generated = try IssuingAuthority.generate(
            subject: try DistinguishedName { CommonName("Elsewhere") }, now: Date(), lifetime: 86_400)
        let external = CertificateAuthority(
            tenantID: .defaultTenant, name: try CAName("external"), certificatePEM: generated.certificatePEM,
            thumbprint: generated.authority.thumbprint, subject: "CN=Elsewhere", notValidAfter: Date() + 86_400,
            isVerified: true, createdAt: Date())
        _ = try await database.createCertificateAuthority(external)
        await #expect(throws: WardenError(.caNotIssuing, "")) {
            try await service.issue(
                .defaultTenant, authority: external.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
                days: nil, by: "t")
        }
    }

    @Test func renewalKeepsTheDeviceAndRevocationIsFinalAndPublished() async throws {
        let authority = try await fleetCA()
        let first = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
            days: nil, by: "user:admin")
        let renewed = try await service.renew(
            .defaultTenant, serial: first.serial.serial.lowercased(), csrPEM: try csr("meter-1"), days: 10,
            by: "user:admin")
        #expect(renewed.deviceID == first.deviceID && renewed.renewedFrom == first.serial.serial)
        #expect(renewed.serial != first.serial)
        let revoked = try await service.revoke(.defaultTenant, serial: first.serial.serial, reason: .keyCompromise)
        #expect(revoked.status(at: Date()) == .revoked && revoked.revocation?.reason == .keyCompromise)
        await #expect(throws: WardenError(.certificateAlreadyRevoked, "")) {
            try await service.revoke(.defaultTenant, serial: first.serial.serial, reason: .superseded)
        }
        await #expect(throws: WardenError(.certificateAlreadyRevoked, "")) {
            try await service.renew(
                .defaultTenant, serial: first.serial.serial, csrPEM: try csr("meter-1"), days: nil, by: "t")
        }
        #expect(
            recorded.events.withLock { $0 }.contains {
                if case .certificateRevoked(let c) = $0 { c == revoked } else { false }
            })
        let listed = try await service.certificates(
            .defaultTenant, filter: .init(status: .revoked), after: nil, limit: 10)
        #expect(listed.items.map(\.serial) == [first.serial])
        let valid = try await service.certificates(.defaultTenant, filter: .init(status: .valid), after: nil, limit: 10)
        #expect(valid.items.map(\.serial) == [renewed.serial])
        let expiring = try await service.certificates(
            .defaultTenant, filter: .init(expiringBefore: Date() + 20 * 86_400), after: nil, limit: 10)
        #expect(expiring.items.map(\.serial) == [renewed.serial])
    }

    @Test func aDeletedDevicesCertificatesAreRevoked() async throws {
        service.follow(bus)
        let authority = try await fleetCA()
        let issued = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
            days: nil, by: "t")
        let other = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-2"), deviceID: try DeviceID("meter-2"),
            days: nil, by: "t")
        bus.publish(.deviceDeleted(.defaultTenant, try DeviceID("meter-1")))
        var revoked = try await service.certificate(.defaultTenant, serial: issued.serial.serial)
        for _ in 0..<200 where revoked.revocation == nil {
            try await Task.sleep(for: .milliseconds(10))
            revoked = try await service.certificate(.defaultTenant, serial: issued.serial.serial)
        }
        #expect(revoked.revocation?.reason == .cessationOfOperation)
        #expect(try await service.certificate(.defaultTenant, serial: other.serial.serial).revocation == nil)
    }

    @Test func theCRLIsSignedByTheCAAndListsWhatWasRevoked() async throws {
        let authority = try await fleetCA()
        let root = try Certificate(pemEncoded: authority.certificatePEM)
        let kept = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
            days: nil, by: "t")
        let gone = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-2"), deviceID: try DeviceID("meter-2"),
            days: nil, by: "t")
        let empty = try await service.revocationList(.defaultTenant, authority.name)
        #expect(try Signed(empty).verifies(with: root))
        _ = try await service.revoke(.defaultTenant, serial: gone.serial.serial, reason: .keyCompromise)
        let list = try await service.revocationList(.defaultTenant, authority.name)
        let signed = try Signed(list)
        #expect(try signed.verifies(with: root))
        #expect(signed.body.contains(Hex.decode(gone.serial.serial)!))
        #expect(!signed.body.contains(Hex.decode(kept.serial.serial)!))
    }

    /// Another node's revocation: this node's cached CRL is signed again once it hears of it.
    @Test func aRevocationOnAnotherNodeIsInThisNodesNextCRL() async throws {
        service.follow(bus)
        let authority = try await fleetCA()
        let issued = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
            days: nil, by: "t")
        let before = try await service.revocationList(.defaultTenant, authority.name)
        let other = CertificateService(
            store: database, bus: EventBus(), settings: .init(baseURL: "http://pki.example:8080/"))
        let revoked = try await other.revoke(.defaultTenant, serial: issued.serial.serial, reason: .keyCompromise)
        #expect(try await service.revocationList(.defaultTenant, authority.name) == before)
        bus.publish(.certificateRevoked(revoked), from: .otherNode)
        let after = try Signed(try await service.revocationList(.defaultTenant, authority.name))
        #expect(after.body.contains(Hex.decode(issued.serial.serial)!))
    }

    /// Two nodes on one store: a replayed older CRL is refused on a node whose own copy is older still (the store
    /// holds the newest any node accepted), and a node takes the newer one when it hears of it.
    @Test func anOlderCRLIsRefusedWhicheverNodeAcceptedTheNewer() async throws {
        let now = Date()
        let external = try IssuingAuthority.generate(
            subject: try DistinguishedName { CommonName("Meters") }, now: now, lifetime: 86_400
        ).authority
        let name = try CAName("meters")
        _ = try await database.createCertificateAuthority(
            CertificateAuthority(
                tenantID: .defaultTenant, name: name, certificatePEM: external.certificatePEM,
                thumbprint: try Thumbprint(String(repeating: "ab", count: 32)), subject: "CN=Meters",
                notValidAfter: now + 86_400, isVerified: true, verificationCode: nil, isIssuing: false,
                revocationCheck: .off, createdAt: now))
        func crl(_ number: UInt64, _ serials: [String] = []) throws -> [UInt8] {
            try external.revocationList(
                revoked: serials.map { RevokedEntry(serial: $0, revokedAt: now, reason: .keyCompromise) },
                number: number, thisUpdate: now, nextUpdate: now + 3_600)
        }
        let otherBus = EventBus()
        let other = CertificateService(
            store: database, bus: otherBus, settings: .init(baseURL: "http://pki.example:8080/"))
        other.follow(otherBus)
        _ = try await other.acceptRevocationList(.defaultTenant, name, bytes: try crl(1), source: "upload")
        _ = try await service.acceptRevocationList(.defaultTenant, name, bytes: try crl(3, ["0A"]), source: "upload")
        await #expect(throws: WardenError(.caStaleRevocationList, "")) {
            _ = try await other.acceptRevocationList(.defaultTenant, name, bytes: try crl(2), source: "upload")
        }
        #expect(other.revocationListStatus(.defaultTenant, name).list?.number == "01")
        let accepted = try #require(service.revocationListStatus(.defaultTenant, name).list)
        otherBus.publish(.revocationListChanged(accepted), from: .otherNode)
        #expect(other.revocationListStatus(.defaultTenant, name).list?.serials == ["0A"])
        // An older one heard later does not replace it.
        var older = accepted
        older = RevocationListState(
            tenantID: older.tenantID, authority: older.authority, issuer: older.issuer, serials: [],
            thisUpdate: older.thisUpdate, nextUpdate: older.nextUpdate, number: "02", source: "upload",
            updatedAt: older.updatedAt)
        otherBus.publish(.revocationListChanged(older), from: .otherNode)
        #expect(other.revocationListStatus(.defaultTenant, name).list?.number == "03")

        // Reading the store again after missed notices announces only what this node did not hold.
        func announced() -> Int {
            recorded.events.withLock { events in
                events.filter { if case .revocationListChanged = $0 { true } else { false } }.count
            }
        }
        let before = announced()
        try await service.loadRevocationLists(announcedFrom: .otherNode)
        #expect(announced() == before)
    }

    @Test func ocspAnswersGoodRevokedAndUnknownAndRefusesWhatItCannotRead() async throws {
        let authority = try await fleetCA()
        let root = try Certificate(pemEncoded: authority.certificatePEM)
        let good = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-1"), deviceID: try DeviceID("meter-1"),
            days: nil, by: "t")
        let gone = try await service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try csr("meter-2"), deviceID: try DeviceID("meter-2"),
            days: nil, by: "t")
        _ = try await service.revoke(.defaultTenant, serial: gone.serial.serial, reason: .keyCompromise)

        for (serial, tag) in [(good.serial.serial, 0x80), (gone.serial.serial, 0xA1), ("0BADC0DE", 0x82)] {
            let answer = await service.answerOCSP(try ocspRequest(issuer: root, serial: serial))
            let basic = try basicResponse(answer)
            #expect(try basic.verifies(with: root))
            // The status follows the CertID echoed back: [0] good, [1] revoked, [2] unknown.
            let certID = try ocspCertID(issuer: root, serial: serial)
            let index = try #require(basic.body.firstRange(of: certID))
            #expect(basic.body[index.upperBound] == UInt8(tag))
        }
        #expect(await service.answerOCSP([0x30, 0x00]) == [0x30, 0x03, 0x0A, 0x01, 0x01])
        #expect(await service.answerOCSP(Array(repeating: 0x30, count: 10_000)) == [0x30, 0x03, 0x0A, 0x01, 0x01])
        let stranger = try IssuingAuthority.generate(
            subject: try DistinguishedName { CommonName("Stranger") }, now: Date(), lifetime: 86_400)
        #expect(
            await service.answerOCSP(try ocspRequest(issuer: stranger.authority.certificate, serial: "01"))
                == [0x30, 0x03, 0x0A, 0x01, 0x06])
    }

    // MARK: DER helpers (a reader of what Warden writes, not Warden's own code)

    /// A signed structure: `SEQUENCE { body, algorithm, BIT STRING signature, ... }`.
    struct Signed {
        let body: [UInt8]
        let signature: [UInt8]

        init(_ der: [UInt8]) throws {
            (body, signature) = try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                let first = nodes.next()
                let body = Array(try #require(first).encodedBytes)
                _ = nodes.next()
                let bits = try ASN1BitString(derEncoded: &nodes)
                while nodes.next() != nil {}
                return (body, Array(bits.bytes))
            }
        }

        func verifies(with ca: Certificate) throws -> Bool {
            ca.publicKey.isValidSignature(signature, for: body, signatureAlgorithm: .ecdsaWithSHA256)
        }
    }

    private func basicResponse(_ der: [UInt8]) throws -> Signed {
        let basic = try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
            let first = nodes.next()
            let status = try Int(derEncoded: try #require(first), withIdentifier: .enumerated)
            #expect(status == 0)
            return try DER.explicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { tagged in
                try DER.sequence(tagged, identifier: .sequence) { bytes in
                    _ = try ASN1ObjectIdentifier(derEncoded: &bytes)
                    return try ASN1OctetString(derEncoded: &bytes).bytes
                }
            }
        }
        return try Signed(Array(basic))
    }

    private func ocspCertID(issuer: Certificate, serial: String) throws -> [UInt8] {
        var name = DER.Serializer()
        try name.serialize(issuer.subject)
        var coder = DER.Serializer()
        try coder.appendConstructedNode(identifier: .sequence) { id in
            try id.appendConstructedNode(identifier: .sequence) { algorithm in
                try algorithm.serialize([1, 3, 14, 3, 2, 26] as ASN1ObjectIdentifier)
                try algorithm.serialize(ASN1Null())
            }
            try id.serialize(ASN1OctetString(contentBytes: ArraySlice(Insecure.SHA1.hash(data: name.serializedBytes))))
            try id.serialize(
                ASN1OctetString(
                    contentBytes: ArraySlice(Insecure.SHA1.hash(data: issuer.publicKey.subjectPublicKeyInfoBytes))))
            try id.serialize(ArraySlice(try #require(Hex.decode(serial))))
        }
        return coder.serializedBytes
    }

    private func ocspRequest(issuer: Certificate, serial: String) throws -> [UInt8] {
        let certID = try ocspCertID(issuer: issuer, serial: serial)
        var coder = DER.Serializer()
        try coder.appendConstructedNode(identifier: .sequence) { request in
            try request.appendConstructedNode(identifier: .sequence) { tbs in
                try tbs.appendConstructedNode(identifier: .sequence) { list in
                    try list.appendConstructedNode(identifier: .sequence) { $0.serializeRawBytes(certID) }
                }
            }
        }
        return coder.serializedBytes
    }
}

/// What the bus published.
final class Recorded: Sendable {
    let events = Mutex<[DomainEvent]>([])
}

extension CertificateSigningRequest {
    fileprivate func derBytes() throws -> [UInt8] {
        var coder = DER.Serializer()
        try coder.serialize(self)
        return coder.serializedBytes
    }
}

/// `OCSPCheck` (external CAs' OCSP at connection) against a responder that signs real answers (Warden's own, as
/// an external CA's responder would): good, revoked, and a responder that cannot be reached under soft-fail and
/// hard-fail.
struct OCSPCheckTests {
    @Test func theResponderDecidesAndAnUnreachableOneFailsOnlyHard() async throws {
        let fixture = try await CertificateServiceTests()
        let authority = try await fixture.service.createAuthority(
            .defaultTenant, try CAName("ext"), commonName: "External", days: 30)
        let root = try Certificate(pemEncoded: authority.certificatePEM)
        let issued = try await fixture.service.issue(
            .defaultTenant, authority: authority.name, csrPEM: try fixture.csrPEM("cam-1"),
            deviceID: try DeviceID("cam-1"), days: 10, by: "test")
        let chain = [try PEMDocument(pemString: issued.certificatePEM).derBytes]
        let asked = Mutex<[String]>([])
        let service = fixture.service
        let answering = OCSPCheck { request, uri in
            asked.withLock { $0.append(uri) }
            return await service.answerOCSP(request)
        }
        #expect(await answering.status(of: chain, root: root, hardFail: true) == .good)
        #expect(asked.withLock { $0 } == ["http://pki.example:8080/pki/ocsp"])

        let unreachable = OCSPCheck { _, _ in nil }
        #expect(await unreachable.status(of: chain, root: root, hardFail: false) == .good)
        #expect(await unreachable.status(of: chain, root: root, hardFail: true) == .unknown)
        let garbage = OCSPCheck { _, _ in [0x30, 0x03, 0x0A, 0x01, 0x01] }
        #expect(await garbage.status(of: chain, root: root, hardFail: true) == .unknown)

        _ = try await service.revoke(.defaultTenant, serial: issued.serial.serial, reason: .keyCompromise)
        #expect(await answering.status(of: chain, root: root, hardFail: false) == .revoked)
        #expect(await answering.status(of: chain, root: root, hardFail: true) == .revoked)
    }
}
