import Crypto
import Foundation
import Testing
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenRegistry
import WardenSecurity
import WardenStore

/// The protocol-neutral authenticator against a real registry (temporary SQLite), as the HTTPS device API and
/// future protocols use it (MQTT's own reading is `ConnectClaimTests`), and the one record it builds.
struct DeviceAuthenticatorTests {
    let registry: RegistryService
    let directory = DeviceDirectory()
    let authenticator: DeviceAuthenticator
    let key: SASKeyPair
    let now = UInt64(Date().timeIntervalSince1970)
    let peer: IPAddress
    let bus = EventBus()
    let serial: CertificateSerial

    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(
            path: folder.appending(path: "warden.sqlite").path, sealer: AESGCMSealer(masterKey: .generate()))
        serial = CertificateSerial(issuer: try Thumbprint(String(repeating: "CD", count: 32)), serial: "0A1B")
        directory.follow(bus)
        registry = RegistryService(stores: .init(database), bus: bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
        guard
            case .sas(let keys) = try await registry.createDevice(.defaultTenant, .init(id: try DeviceID("dev-1")))
                .authentication
        else { throw WardenError(.internalError, "not SAS") }
        key = keys
        authenticator = DeviceAuthenticator(directory: directory)
        peer = try #require(IPAddress("192.0.2.7"))
    }

    private func token(
        _ resource: String = "hub.example/devices/dev-1", key: SecretBytes? = nil, keyName: PolicyName? = nil
    ) -> [UInt8] {
        Array(
            SASTokenSigner.token(
                resource: resource, key: SymmetricKey(data: (key ?? self.key.primary).bytes), expiry: now + 3600,
                keyName: keyName
            ).utf8)
    }

    private func credentials(
        hostName: String? = nil, _ claim: DeviceCredentials.Claim, token: [UInt8]?,
        certificate: DeviceCredentials.Certificate? = nil
    ) -> DeviceCredentials {
        DeviceCredentials(
            hostName: hostName, claim: claim, sasToken: token, certificate: certificate, peerAddress: peer, now: now)
    }

    private func refusal(_ credentials: DeviceCredentials) -> AuthenticationRefusal? {
        do {
            _ = try authenticator.authenticate(credentials)
            return nil
        } catch {
            return error
        }
    }

    @Test func aTokensAudienceNamesTheTenantWhenNoHostDoes() throws {
        let identity = try authenticator.authenticate(credentials(.device(try DeviceID("dev-1")), token: token()))
        guard case .device(let device) = identity else {
            Issue.record("not a device")
            return
        }
        #expect(device.tenantID == .defaultTenant && device.method == .sas && device.expiry == now + 3600)
        #expect(device.dialect == .azure)
    }

    @Test func nothingPresentedIsAMissingCredential() throws {
        let refused = refusal(credentials(.device(try DeviceID("dev-1")), token: nil))
        #expect(refused?.reason.code == .authMissingCredential && refused?.isCredentialFailure == true)
    }

    @Test func anUnrecognizedClaimFailsWithItsOwnReason() {
        let reason = WardenError(.deviceInvalidID, "not an id")
        let refused = refusal(credentials(.unrecognized("bad id!", reason: reason), token: token()))
        #expect(refused?.reason == reason && refused?.isCredentialFailure == true)
    }

    @Test func aServiceProvesItsPolicy() async throws {
        let name = try PolicyName("backend")
        let policy = try await registry.createPolicy(.defaultTenant, name, permissions: [.serviceConnect])
        let identity = try authenticator.authenticate(
            credentials(
                hostName: "HUB.example", .service(name),
                token: token("hub.example", key: policy.keys.primary, keyName: name)))
        guard case .service(let service) = identity else {
            Issue.record("not a service")
            return
        }
        #expect(
            service.tenantID == TenantID.defaultTenant && service.policyName == name && service.expiry == now + 3600)
        let forged = refusal(
            credentials(hostName: "hub.example", .service(name), token: token("hub.example", keyName: name)))
        #expect(forged?.isCredentialFailure == true)
    }

    /// One record for every protocol: the claimed tenant even when refused, the method tried, never the token.
    @Test func recordsNameTheClaimAndWhatWasTried() throws {
        let device = DeviceCredentials.Claim.device(try DeviceID("dev-1"))
        let wrong = credentials(device, token: token(key: SecretBytes.random(count: 32)))
        let refused = try #require(refusal(wrong))
        let record = authenticator.record(
            wrong, .refused(refused), protocolName: "https", referenceID: "r1", at: Date())
        #expect(record.tenantID == .defaultTenant && record.principal == "dev-1" && record.method == .sas)
        #expect(!record.isAccepted && record.failure == refused.reason.code && record.referenceID == "r1")

        let good = credentials(device, token: token())
        let accepted = authenticator.record(
            good, .accepted(try authenticator.authenticate(good)), protocolName: "amqp", referenceID: "r2", at: Date())
        #expect(accepted.isAccepted && accepted.failure == nil && accepted.protocolName == "amqp")

        let thumbprint = try Thumbprint(String(repeating: "AB", count: 32))
        let chain = ChainValidation(commonName: "dev-1", path: [serial], tenants: [.defaultTenant])
        let tried: [(DeviceCredentials.Certificate?, AuthenticationRecord.Method)] = [
            (nil, .none), (.init(thumbprints: [thumbprint], chain: nil), .x509Thumbprint),
            (.init(thumbprints: [thumbprint], chain: chain), .x509CA),
        ]
        for (certificate, method) in tried {
            let presented = credentials(hostName: "unknown.example", device, token: nil, certificate: certificate)
            let refused = try #require(refusal(presented))
            let record = authenticator.record(
                presented, .refused(refused), protocolName: "mqtt", referenceID: "r", at: Date())
            #expect(record.method == method && record.tenantID == nil && record.failure == .tenantNotFound)
            #expect(record.certificateThumbprint == certificate?.thumbprints.first)
        }
    }

    /// A certificate the tenant revoked proves nothing: refused at connect with its own code, and a live
    /// identity it proved is named for closing.
    @Test func aRevokedCertificateIsRefusedAndRevokesTheIdentityItProved() async throws {
        let camera = try DeviceID("cam-1")
        _ = try await registry.createDevice(.defaultTenant, .init(id: camera, authenticationType: .x509CA))
        let presented = credentials(
            hostName: "hub.example", .device(camera), token: nil,
            certificate: .init(
                thumbprints: [], chain: ChainValidation(commonName: "cam-1", path: [serial], tenants: [.defaultTenant]))
        )
        guard case .device(let identity) = try authenticator.authenticate(presented) else {
            Issue.record("A CA-chained certificate did not prove the device.")
            return
        }
        #expect(identity.method == .x509CA && identity.certificate == serial)
        #expect(authenticator.revocation(of: identity, peerAddress: peer) == nil)

        bus.publish(
            .certificateRevoked(
                IssuedCertificate(
                    tenantID: .defaultTenant, authority: try CAName("fleet"), serial: serial, deviceID: camera,
                    thumbprint: try Thumbprint(String(repeating: "EF", count: 32)), certificatePEM: "",
                    notValidBefore: Date(), notValidAfter: Date() + 3600, issuedAt: Date(), issuedBy: "t",
                    revocation: .init(at: Date(), reason: .keyCompromise))))
        #expect(refusal(presented)?.reason.code == .authCertificateRevoked)
        #expect(authenticator.revocation(of: identity, peerAddress: peer)?.code == .authCertificateRevoked)
        // Another tenant's revocation of the same serial is not this tenant's.
        let elsewhere = ChainValidation(commonName: "cam-1", path: [serial], tenants: [try TenantID("other")])
        #expect(
            refusal(
                credentials(
                    hostName: "hub.example", .device(camera), token: nil,
                    certificate: .init(thumbprints: [], chain: elsewhere)))?.reason.code == .authInvalidCredential)
    }

    /// An external CA's CRL: a hard-fail CA without a current CRL admits none of its certificates, a CRL in force
    /// revokes what it lists (the leaf, or a CA certificate above it), and soft-fail admits without one.
    @Test func anExternalCRLRevokesWhatItListsAndHardFailNeedsOne() async throws {
        let camera = try DeviceID("cam-2")
        _ = try await registry.createDevice(.defaultTenant, .init(id: camera, authenticationType: .x509CA))
        let intermediate = CertificateSerial(issuer: serial.issuer, serial: "77")
        let leaf = CertificateSerial(issuer: try Thumbprint(String(repeating: "AB", count: 32)), serial: "0C")
        let presented = credentials(
            hostName: "hub.example", .device(camera), token: nil,
            certificate: .init(
                thumbprints: [],
                chain: ChainValidation(commonName: "cam-2", path: [leaf, intermediate], tenants: [.defaultTenant])))
        func authority(_ mode: RevocationCheck.Mode) throws -> CertificateAuthority {
            CertificateAuthority(
                tenantID: .defaultTenant, name: try CAName("external"), certificatePEM: "", thumbprint: serial.issuer,
                subject: "CN=External", notValidAfter: Date() + 86_400, isVerified: true,
                revocationCheck: RevocationCheck(mode: mode, crlURL: nil, refreshSeconds: 3_600), createdAt: Date())
        }
        // Times are relative to the credentials' clock (`now`), which is what the check reads.
        func list(_ serials: Set<String>, nextUpdate: Date) throws -> DomainEvent {
            .revocationListChanged(
                RevocationListState(
                    tenantID: .defaultTenant, authority: try CAName("external"), issuer: serial.issuer,
                    serials: serials, thisUpdate: Date() - 60, nextUpdate: nextUpdate, number: "01", source: "upload",
                    updatedAt: Date()))
        }
        #expect(refusal(presented) == nil)
        bus.publish(.certificateAuthorityChanged(try authority(.hardFail)))
        #expect(refusal(presented)?.reason.code == .authRevocationUnknown)
        bus.publish(try list([], nextUpdate: Date(timeIntervalSince1970: Double(now)) - 1))
        #expect(refusal(presented)?.reason.code == .authRevocationUnknown, "a CRL past its nextUpdate is not current")
        bus.publish(try list(["01"], nextUpdate: Date() + 3_600))
        #expect(refusal(presented) == nil)
        bus.publish(try list(["77"], nextUpdate: Date() + 3_600))
        #expect(refusal(presented)?.reason.code == .authCertificateRevoked)
        bus.publish(.certificateAuthorityChanged(try authority(.softFail)))
        bus.publish(try list([], nextUpdate: Date(timeIntervalSince1970: Double(now)) - 1))
        #expect(refusal(presented) == nil)
    }
}
