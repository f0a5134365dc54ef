import Crypto
import Foundation
import Testing
import WardenCore
import WardenRegistry
import WardenSecurity
import WardenStore
import X509

struct DeviceDirectoryTests {
    /// `directory` reads the fixture's store again, as a node that missed notices does; returns what changed.
    private static func reload(_ directory: DeviceDirectory, from fixture: RegistryFixture) async throws
        -> [DomainEvent]
    {
        try await directory.reload(
            tenants: fixture.database, devices: fixture.database, groups: fixture.database,
            admission: fixture.database, policies: fixture.database, authorities: fixture.database,
            authorizationPolicies: fixture.database)
    }

    /// Every change is readable at once, and moves the generation the policy's kept decisions are checked against.
    @Test func followsEveryChange() async throws {
        let fixture = try await RegistryFixture()
        let id = try DeviceID("d")
        #expect(fixture.directory.entry(.defaultTenant, id) == nil)
        let start = fixture.directory.generation
        let created = try await fixture.registry.createDevice(.defaultTenant, .init(id: id))
        #expect(fixture.directory.entry(.defaultTenant, id)?.device.etag == created.etag)
        let afterCreate = fixture.directory.generation
        _ = try await fixture.registry.updateDevice(.defaultTenant, id, .init(status: .disabled), ifMatch: nil)
        #expect(fixture.directory.entry(.defaultTenant, id)?.device.status == .disabled)
        let afterUpdate = fixture.directory.generation
        try await fixture.registry.deleteDevice(.defaultTenant, id, ifMatch: nil)
        #expect(fixture.directory.entry(.defaultTenant, id) == nil)
        #expect(fixture.directory.deviceCount == 0)
        #expect(start < afterCreate && afterCreate < afterUpdate && afterUpdate < fixture.directory.generation)
        let afterDelete = fixture.directory.generation
        _ = try await fixture.registry.createGroup(.defaultTenant, try GroupName("g"), description: "", members: [])
        #expect(fixture.directory.generation > afterDelete)
    }

    @Test func loadsWhatTheStoreHolds() async throws {
        let fixture = try await RegistryFixture()
        let id = try DeviceID("d")
        _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: id))
        let group = try GroupName("fleet")
        _ = try await fixture.registry.createGroup(.defaultTenant, group, description: "", members: [id])
        let fresh = DeviceDirectory()
        try await fresh.load(
            tenants: fixture.database, devices: fixture.database, groups: fixture.database,
            admission: fixture.database, policies: fixture.database, authorities: fixture.database,
            authorizationPolicies: fixture.database)
        #expect(fresh.entry(.defaultTenant, id)?.groups == [group])
        #expect(fresh.tenant(forHost: "hub.example") == .defaultTenant)
    }

    /// A node that missed other nodes' notices reads the registry again: what changed meanwhile comes back as the
    /// events live connections must hear (a tenant gone, a group, a shared access policy, the access list), and a
    /// second reading, with nothing changed, as none (nothing is closed for nothing).
    @Test func aReloadTellsWhatChangedMeanwhile() async throws {
        let fixture = try await RegistryFixture()
        let east = try TenantID("east")
        _ = try await fixture.registry.createTenant(east)
        let fleet = try GroupName("fleet")
        _ = try await fixture.registry.createGroup(.defaultTenant, fleet, description: "", members: [])
        let behind = DeviceDirectory()
        func reload() async throws -> [DomainEvent] { try await Self.reload(behind, from: fixture) }
        _ = try await reload()
        #expect(try await reload().isEmpty)

        try await fixture.registry.deleteTenant(east)
        try await fixture.registry.deleteGroup(.defaultTenant, fleet)
        let service = try await fixture.registry.createPolicy(
            .defaultTenant, try PolicyName("backend"), permissions: [.serviceConnect])
        _ = try await fixture.registry.replaceAccessList(
            .defaultTenant, allow: .init(), block: .init(devices: [try DeviceID("d")]), ifMatch: nil)
        let events = try await reload()
        #expect(events.contains { if case .tenantDeleted(east) = $0 { true } else { false } })
        #expect(events.contains { if case .groupDeleted(.defaultTenant, fleet) = $0 { true } else { false } })
        #expect(
            events.contains { if case .policyChanged(let policy) = $0 { policy.name == service.name } else { false } })
        #expect(events.contains { if case .accessListChanged(.defaultTenant, _) = $0 { true } else { false } })
        #expect(events.count == 4)
        #expect(try await reload().isEmpty)
    }

    /// The same after a certificate was revoked, and after a CA was deleted and made again under its name (what
    /// proved itself through the old one proves itself again).
    @Test func aReloadTellsOfRevocationsAndARemadeCA() async throws {
        let fixture = try await RegistryFixture()
        let now = Date()
        let name = try CAName("fleet")
        func authority() throws -> CertificateAuthority {
            let generated = try IssuingAuthority.generate(
                subject: try DistinguishedName { CommonName("Fleet") }, now: now, lifetime: 86_400)
            return CertificateAuthority(
                tenantID: .defaultTenant, name: name, certificatePEM: generated.certificatePEM,
                thumbprint: generated.authority.thumbprint, subject: "CN=Fleet", notValidAfter: now + 86_400,
                isVerified: true, verificationCode: nil, isIssuing: false, revocationCheck: .off, createdAt: now)
        }
        let first = try await fixture.database.createCertificateAuthority(try authority())
        try await fixture.database.addIssuedCertificate(
            IssuedCertificate(
                tenantID: .defaultTenant, authority: name,
                serial: CertificateSerial(issuer: first.thumbprint, serial: "0A"), deviceID: try DeviceID("d"),
                thumbprint: first.thumbprint, certificatePEM: first.certificatePEM, notValidBefore: now - 60,
                notValidAfter: now + 3_600, issuedAt: now - 60, issuedBy: "test"))
        let behind = DeviceDirectory()
        func reload() async throws -> [DomainEvent] { try await Self.reload(behind, from: fixture) }
        _ = try await reload()
        #expect(try await reload().isEmpty)

        _ = try await fixture.database.revokeCertificate(
            .defaultTenant, serial: "0A", .init(at: now, reason: .keyCompromise))
        let revoked = try await reload()
        #expect(revoked.count == 1)
        #expect(revoked.contains { if case .certificateRevoked(let c) = $0 { c.serial.serial == "0A" } else { false } })

        try await fixture.database.deleteCertificateAuthority(.defaultTenant, name)
        _ = try await fixture.database.createCertificateAuthority(try authority())
        let remade = try await reload()
        #expect(remade.count == 2)
        #expect(remade.first.map { if case .certificateAuthorityDeleted(_, name) = $0 { true } else { false } } == true)
        #expect(try await reload().isEmpty)
    }

    @Test func groupMembershipDrivesTheAccessList() async throws {
        let fixture = try await RegistryFixture()
        let a = try DeviceID("a")
        let b = try DeviceID("b")
        for id in [a, b] { _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: id)) }
        let fleet = try GroupName("fleet")
        _ = try await fixture.registry.createGroup(.defaultTenant, fleet, description: "trial", members: [a])
        _ = try await fixture.registry.replaceAccessList(
            .defaultTenant, allow: .init(groups: [fleet]), block: .init(), ifMatch: nil)
        #expect(fixture.directory.accessVerdict(.defaultTenant, a) == .allowed)
        #expect(fixture.directory.accessVerdict(.defaultTenant, b) == .notAllowed)
        _ = try await fixture.registry.setMembership(.defaultTenant, fleet, b, isMember: true)
        #expect(fixture.directory.accessVerdict(.defaultTenant, b) == .allowed)
        _ = try await fixture.registry.setMembership(.defaultTenant, fleet, a, isMember: false)
        #expect(fixture.directory.accessVerdict(.defaultTenant, a) == .notAllowed)
        await #expect(throws: WardenError(.deviceNotFound, "")) {
            try await fixture.registry.setMembership(.defaultTenant, fleet, try DeviceID("ghost"), isMember: true)
        }
    }

    @Test func ipFilterRulesApplyInOrderWithETags() async throws {
        let fixture = try await RegistryFixture()
        let first = try await fixture.registry.replaceIPFilter(
            .defaultTenant, defaultAction: .reject,
            rules: [
                .init(name: "bad-host", action: .reject, cidr: try CIDR("10.0.0.9")),
                .init(name: "lan", action: .accept, cidr: try CIDR("10.0.0.0/24")),
            ], ifMatch: nil)
        #expect(
            fixture.directory.ipVerdict(.defaultTenant, try #require(IPAddress("10.0.0.9")))?.ruleName == "bad-host")
        #expect(fixture.directory.ipVerdict(.defaultTenant, try #require(IPAddress("10.0.0.8")))?.action == .accept)
        #expect(fixture.directory.ipVerdict(.defaultTenant, try #require(IPAddress("10.0.1.8")))?.action == .reject)
        _ = try await fixture.registry.replaceIPFilter(
            .defaultTenant, defaultAction: .accept, rules: [], ifMatch: first.etag)
        await #expect(throws: WardenError(.ipFilterEtagMismatch, "")) {
            try await fixture.registry.replaceIPFilter(
                .defaultTenant, defaultAction: .accept, rules: [], ifMatch: first.etag)
        }
    }

    @Test func policyTokensNeedDeviceConnect() async throws {
        let fixture = try await RegistryFixture()
        let id = try DeviceID("d")
        _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: id))
        let service = try await fixture.registry.createPolicy(
            .defaultTenant, try PolicyName("service"), permissions: [.serviceConnect])
        let gateway = try await fixture.registry.createPolicy(
            .defaultTenant, try PolicyName("device"), permissions: [.deviceConnect])
        let now = UInt64(Date().timeIntervalSince1970)
        func token(_ policy: SharedAccessPolicy) throws -> SASToken {
            try SASToken.parse(
                SASTokenSigner.token(
                    resource: "hub.example/devices", key: SymmetricKey(data: policy.keys.primary.bytes),
                    expiry: now + 60,
                    keyName: policy.name))
        }
        _ = try fixture.directory.authenticate(try token(gateway), tenantID: .defaultTenant, deviceID: id, now: now)
        #expect(throws: WardenError(.authForbidden, "")) {
            try fixture.directory.authenticate(try token(service), tenantID: .defaultTenant, deviceID: id, now: now)
        }
        try await fixture.registry.deletePolicy(.defaultTenant, gateway.name)
        #expect(throws: WardenError(.policyNotFound, "")) {
            try fixture.directory.authenticate(try token(gateway), tenantID: .defaultTenant, deviceID: id, now: now)
        }
    }
}
