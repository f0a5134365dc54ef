import Crypto
import Foundation
import Testing
import WardenCore
import WardenRegistry
import WardenSecurity

struct RegistryServiceTests {
    @Test func aTenantHoldsAtMost25CAs() async throws {
        let fixture = try await RegistryFixture()
        for number in 0..<RegistryService.maximumCertificateAuthorities {
            let (_, issued) = try DevelopmentCA.generate(now: Date())
            _ = try await fixture.registry.addCertificateAuthority(
                .defaultTenant, try CAName("ca-\(number)"), certificatePEM: issued.certificatePEM)
        }
        let (_, one) = try DevelopmentCA.generate(now: Date())
        await #expect(throws: WardenError(.caTooMany, "")) {
            _ = try await fixture.registry.addCertificateAuthority(
                .defaultTenant, try CAName("one-more"), certificatePEM: one.certificatePEM)
        }
        #expect(try await fixture.registry.certificateAuthorities(.defaultTenant).count == 25)
    }

    @Test func createsSASDevicesWithFreshKeys() async throws {
        let fixture = try await RegistryFixture()
        let a = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("a")))
        let b = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("b")))
        guard case .sas(let keysA) = a.authentication, case .sas(let keysB) = b.authentication else {
            Issue.record("not SAS")
            return
        }
        #expect(keysA.primary.bytes.count == 32)
        #expect(keysA.primary.bytes != keysA.secondary.bytes)
        #expect(keysA.primary.bytes != keysB.primary.bytes)
    }

    @Test func duplicateIDIsRefused() async throws {
        let fixture = try await RegistryFixture()
        _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("a")))
        await #expect(throws: WardenError(.deviceAlreadyExists, "")) {
            try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("a")))
        }
    }

    @Test func staleETagIsRefused() async throws {
        let fixture = try await RegistryFixture()
        let created = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("a")))
        let updated = try await fixture.registry.updateDevice(
            .defaultTenant, created.id, .init(status: .disabled, statusReason: "lost"), ifMatch: created.etag)
        #expect(updated.etag != created.etag)
        await #expect(throws: WardenError(.deviceEtagMismatch, "")) {
            try await fixture.registry.updateDevice(
                .defaultTenant, created.id, .init(status: .enabled), ifMatch: created.etag)
        }
        await #expect(throws: WardenError(.deviceEtagMismatch, "")) {
            try await fixture.registry.deleteDevice(.defaultTenant, created.id, ifMatch: created.etag)
        }
        _ = try await fixture.registry.updateDevice(.defaultTenant, created.id, .init(status: .enabled), ifMatch: "*")
    }

    @Test func x509DevicesNeedAThumbprintAndHaveNoKeys() async throws {
        let fixture = try await RegistryFixture()
        await #expect(throws: WardenError(.deviceInvalidAuthentication, "")) {
            try await fixture.registry.createDevice(
                .defaultTenant, .init(id: try DeviceID("x"), authenticationType: .x509Thumbprint))
        }
        let thumbprint = try Thumbprint(String(repeating: "ab", count: 32))
        let device = try await fixture.registry.createDevice(
            .defaultTenant,
            .init(id: try DeviceID("x"), authenticationType: .x509Thumbprint, primaryThumbprint: thumbprint))
        await #expect(throws: WardenError(.deviceNotSAS, "")) {
            try await fixture.registry.rotateKeys(.defaultTenant, device.id, .primary, ifMatch: nil)
        }
        await #expect(throws: WardenError(.deviceNotSAS, "")) {
            try await fixture.registry.connectionString(.defaultTenant, device.id, gatewayHostName: nil)
        }
    }

    @Test func rotationChangesExactlyOneKeyAndSwapExchangesThem() async throws {
        let fixture = try await RegistryFixture()
        let created = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("a")))
        guard case .sas(let before) = created.authentication else { return }
        let rotated = try await fixture.registry.rotateKeys(.defaultTenant, created.id, .primary, ifMatch: nil)
        guard case .sas(let after) = rotated.authentication else { return }
        #expect(after.primary.bytes != before.primary.bytes)
        #expect(after.secondary.bytes == before.secondary.bytes)
        let swapped = try await fixture.registry.rotateKeys(.defaultTenant, created.id, .swap, ifMatch: nil)
        guard case .sas(let exchanged) = swapped.authentication else { return }
        #expect(exchanged.primary.bytes == after.secondary.bytes)
        #expect(exchanged.secondary.bytes == after.primary.bytes)
    }

    @Test func statusReasonIsLimited() async throws {
        let fixture = try await RegistryFixture()
        await #expect(throws: WardenError(.deviceInvalidStatusReason, "")) {
            try await fixture.registry.createDevice(
                .defaultTenant, .init(id: try DeviceID("a"), statusReason: String(repeating: "r", count: 129)))
        }
    }

    @Test func tenantsGetHostNamesUnderTheHub() async throws {
        let fixture = try await RegistryFixture()
        #expect(try await fixture.registry.tenant(.defaultTenant).hostName.rawValue == "hub.example")
        let acme = try await fixture.registry.createTenant(try TenantID("acme"))
        #expect(acme.hostName.rawValue == "acme.hub.example")
        await #expect(throws: WardenError(.tenantHostNameTaken, "")) {
            try await fixture.registry.createTenant(try TenantID("other"), hostName: try HostName("ACME.hub.example"))
        }
        await #expect(throws: WardenError(.tenantAlreadyExists, "")) {
            try await fixture.registry.createTenant(try TenantID("acme"))
        }
        #expect(fixture.directory.tenant(forHost: "Acme.Hub.Example") == acme.id)
    }

    @Test func connectionStringNamesTheGatewayForOtherTenants() async throws {
        let fixture = try await RegistryFixture()
        let acme = try await fixture.registry.createTenant(try TenantID("acme"))
        let device = try await fixture.registry.createDevice(acme.id, .init(id: try DeviceID("d")))
        guard case .sas(let keys) = device.authentication else { return }
        let text = String(
            decoding: try await fixture.registry.connectionString(acme.id, device.id, gatewayHostName: "hub.example")
                .bytes, as: UTF8.self)
        #expect(
            text
                == "HostName=acme.hub.example;DeviceId=d;SharedAccessKey=\(keys.primary.base64);GatewayHostName=hub.example"
        )
    }

    @Test func issuedTokensVerifyAgainstTheDirectory() async throws {
        let fixture = try await RegistryFixture()
        let device = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("d")))
        let (secret, expiry) = try await fixture.registry.sasToken(.defaultTenant, device.id, lifetime: 3600)
        let token = try SASToken.parse(String(decoding: secret.bytes, as: UTF8.self))
        let now = UInt64(Date().timeIntervalSince1970)
        #expect(token.expiry == UInt64(expiry.timeIntervalSince1970))
        _ = try fixture.directory.authenticate(token, tenantID: .defaultTenant, deviceID: device.id, now: now)
        _ = try await fixture.registry.rotateKeys(.defaultTenant, device.id, .primary, ifMatch: nil)
        #expect(throws: WardenError(.sasSignatureMismatch, "")) {
            try fixture.directory.authenticate(token, tenantID: .defaultTenant, deviceID: device.id, now: now)
        }
        await #expect(throws: WardenError(.sasInvalidLifetime, "")) {
            try await fixture.registry.sasToken(.defaultTenant, device.id, lifetime: 0)
        }
    }
}
