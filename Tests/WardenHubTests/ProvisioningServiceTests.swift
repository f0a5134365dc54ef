import Crypto
import Foundation
import Synchronization
import Testing
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenRegistry
import WardenStore

@testable import WardenBroker
@testable import WardenHub
@testable import WardenProvisioning
@testable import WardenSecurity

/// DPS registrations against the real store and registry: which tokens prove an enrollment (both SDK families'
/// encodings), what a register and its poll answer, and the refusals.
struct ProvisioningServiceTests {
    let hub: HubFixture
    let registry: RegistryService
    let service: ProvisioningService
    let scope: String
    let now = UInt64(Date().timeIntervalSince1970)
    let peer: IPAddress

    init() async throws {
        hub = try HubFixture()
        peer = try #require(IPAddress("192.0.2.9"))
        registry = RegistryService(stores: .init(hub.database), bus: hub.bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
        let twins = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        twins.follow(hub.bus)
        service = ProvisioningService(store: hub.database, registry: registry, twins: twins, bus: hub.bus)
        service.follow(hub.bus)
        scope = try await service.idScope(.defaultTenant)
    }

    /// A DPS token as an SDK family writes it: `sr` percent-encoded in upper case (Python) or lower case (C),
    /// with `skn=registration` or without it.
    private func token(_ registrationID: String, key: SecretBytes, lowerCase: Bool = false, keyName: String? = nil)
        -> [UInt8]
    {
        var resource = "\(scope)%2Fregistrations%2F\(registrationID)"
        if lowerCase { resource = resource.replacingOccurrences(of: "%2F", with: "%2f") }
        let signature = SASKey(key).authenticationCode(encodedResource: resource, expiry: now + 3600)
        let sig = SASTokenSigner.percentEncode(Data(signature).base64EncodedString())
        var text = "SharedAccessSignature sr=\(resource)&sig=\(sig)&se=\(now + 3600)"
        if let keyName { text += "&skn=\(keyName)" }
        return Array(text.utf8)
    }

    private func username(_ registrationID: String, scope: String? = nil) throws -> ProvisioningUsername {
        try #require(
            ProvisioningUsername("\(scope ?? self.scope)/registrations/\(registrationID)/api-version=2019-03-31"))
    }

    /// A node of a cluster that missed other nodes' notices reads enrollments again: one made elsewhere proves
    /// registrations here, one deleted elsewhere stops proving them.
    @Test func aLoadTakesTheEnrollmentsAsTheStoreHoldsThem() async throws {
        let twins = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        let elsewhere = ProvisioningService(store: hub.database, registry: registry, twins: twins, bus: EventBus())
        let group = try await service.createEnrollment(.defaultTenant, .group(try EnrollmentGroupName("meters")))
        let key = try #require(group.attestation.keys).derived(for: "meter-1").primary
        let register = { () throws in
            _ = try elsewhere.authenticate(
                try username("meter-1"), token: token("meter-1", key: key), certificate: nil, now: now)
        }
        #expect(throws: WardenError.self) { try register() }
        try await elsewhere.load { [.defaultTenant] }
        try register()
        try await service.deleteEnrollment(.defaultTenant, .group(try EnrollmentGroupName("meters")))
        try register()
        try await elsewhere.load { [.defaultTenant] }
        #expect(throws: WardenError(.authInvalidCredential, "")) { try register() }
    }

    @Test func bothSDKFamiliesTokensProveAGroupAndItsDerivedKeyIsDPSs() async throws {
        let group = try await service.createEnrollment(.defaultTenant, .group(try EnrollmentGroupName("meters")))
        let key = try #require(group.attestation.keys).derived(for: "meter-1").primary
        for (lowerCase, keyName) in [(false, nil), (true, "registration"), (false, "registration"), (true, nil)] {
            let identity = try service.authenticate(
                try username("meter-1"), token: token("meter-1", key: key, lowerCase: lowerCase, keyName: keyName),
                certificate: nil, now: now)
            #expect(identity.enrollment == .group(try EnrollmentGroupName("meters")))
        }
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(
                try username("meter-1"), token: token("meter-1", key: key, keyName: "owner"), certificate: nil, now: now
            )
        }
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(
                try username("meter-2"), token: token("meter-2", key: key), certificate: nil, now: now)
        }
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(
                try username("meter-1", scope: "0ne00000000"), token: token("meter-1", key: key), certificate: nil,
                now: now)
        }
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(
                try username("meter-1"), token: token("meter-1", key: key), certificate: nil, now: now + 7200)
        }
        _ = try await service.setEnabled(.defaultTenant, group.kind, false)
        #expect(throws: WardenError(.enrollmentDisabled, "")) {
            try service.authenticate(
                try username("meter-1"), token: token("meter-1", key: key), certificate: nil, now: now)
        }
    }

    @Test func microsoftsGroupKeyVectorDerivesItsDeviceKey() throws {
        let group = try #require(
            SecretBytes(
                base64: "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="))
        let keys = SASKeyPair(primary: group, secondary: group).derived(for: "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6")
        #expect(keys.primary.base64 == "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=")
    }

    @Test func registerThenPollAssignsTheDeviceWithItsKeysAndTwin() async throws {
        let individual = try await service.createEnrollment(
            .defaultTenant, .individual(try DeviceID("gw-1")), deviceID: try DeviceID("gateway-one"),
            initialDesired: ["mode": .string("eco")])
        let identity = try service.authenticate(
            try username("gw-1"), token: token("gw-1", key: try #require(individual.attestation.keys).primary),
            certificate: nil, now: now)
        let accepted = await service.answer(
            .register(requestID: "1"), body: Array(#"{"registrationId":"gw-1","payload":null}"#.utf8), from: identity,
            peer: peer)
        #expect(accepted.status == 202 && accepted.retryAfter == 1)
        let operation = try JSONDecoder().decode([String: String].self, from: Data(accepted.body))
        let operationID = try #require(operation["operationId"])
        #expect(operation["status"] == "assigning")

        let done = await service.answer(
            .operationStatus(requestID: "2", operationID: operationID), body: [0x20], from: identity, peer: peer)
        #expect(done.status == 200)
        let status = try JSONDecoder().decode(JSONValue.self, from: Data(done.body))
        #expect(status["status"] == .string("assigned"))
        #expect(status["registrationState"]?["deviceId"] == .string("gateway-one"))
        #expect(status["registrationState"]?["assignedHub"] == .string("hub.example"))
        let device = try await registry.device(.defaultTenant, try DeviceID("gateway-one"))
        guard case .sas(let keys) = device.authentication else {
            Issue.record("The provisioned device does not use SAS keys.")
            return
        }
        #expect(keys.primary.bytes == individual.attestation.keys?.primary.bytes)

        // Another registration cannot read this one's operation; an unknown one is a 404.
        let other = RegistrationIdentity(
            tenantID: .defaultTenant, idScope: scope, registrationID: try DeviceID("gw-2"), enrollment: individual.kind)
        #expect(
            await service.answer(
                .operationStatus(requestID: "3", operationID: operationID), body: [], from: other, peer: peer
            )
            .status == 404)

        // Another node (a load balancer between the device and the nodes) answers the poll from the store.
        let twins = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        let elsewhere = ProvisioningService(store: hub.database, registry: registry, twins: twins, bus: EventBus())
        let there = await elsewhere.answer(
            .operationStatus(requestID: "4", operationID: operationID), body: [], from: identity, peer: peer)
        #expect(there.status == 200 && there.body == done.body)
        #expect(
            await elsewhere.answer(
                .operationStatus(requestID: "5", operationID: operationID), body: [], from: other, peer: peer
            )
            .status == 404)
    }

    /// A device of the registration id that this registration did not make keeps its credentials: a group key
    /// cannot take over an operator's device.
    @Test func aDeviceTheRegistrationDidNotMakeIsNotTakenOver() async throws {
        let group = try await service.createEnrollment(.defaultTenant, .group(try EnrollmentGroupName("meters")))
        let existing = try await registry.createDevice(.defaultTenant, .init(id: try DeviceID("meter-9")))
        let identity = try service.authenticate(
            try username("meter-9"),
            token: token("meter-9", key: try #require(group.attestation.keys).derived(for: "meter-9").primary),
            certificate: nil, now: now)
        let accepted = await service.answer(.register(requestID: "1"), body: [], from: identity, peer: peer)
        let operationID = try #require(
            try JSONDecoder().decode([String: String].self, from: Data(accepted.body))["operationId"])
        let done = await service.answer(
            .operationStatus(requestID: "2", operationID: operationID), body: [], from: identity, peer: peer)
        let status = try JSONDecoder().decode(JSONValue.self, from: Data(done.body))
        #expect(status["status"] == .string("failed"))
        let after = try await registry.device(.defaultTenant, try DeviceID("meter-9"))
        guard case .sas(let before) = existing.authentication, case .sas(let now) = after.authentication else {
            Issue.record("not SAS")
            return
        }
        #expect(before.primary.bytes == now.primary.bytes)
    }

    @Test func aBodyForAnotherRegistrationFailsAndFloodsAreToldToWait() async throws {
        let individual = try await service.createEnrollment(.defaultTenant, .individual(try DeviceID("gw-3")))
        let identity = try service.authenticate(
            try username("gw-3"), token: token("gw-3", key: try #require(individual.attestation.keys).primary),
            certificate: nil, now: now)
        let accepted = await service.answer(
            .register(requestID: "1"), body: Array(#"{"registrationId":"gw-4"}"#.utf8), from: identity, peer: peer)
        let operationID = try #require(
            try JSONDecoder().decode([String: String].self, from: Data(accepted.body))["operationId"])
        let failed = await service.answer(
            .operationStatus(requestID: "2", operationID: operationID), body: [], from: identity, peer: peer)
        let status = try JSONDecoder().decode(JSONValue.self, from: Data(failed.body))
        #expect(status["status"] == .string("failed"))
        #expect(status["registrationState"]?["errorCode"] == .number(400_004))
        await #expect(throws: WardenError(.deviceNotFound, "")) {
            try await registry.device(.defaultTenant, try DeviceID("gw-3"))
        }
        var statuses: [Int] = []
        for index in 0..<ProvisioningService.requestsPerMinute {
            statuses.append(
                await service.answer(
                    .operationStatus(requestID: "\(index)", operationID: "x"), body: [], from: identity, peer: peer
                ).status)
        }
        #expect(
            statuses.last == 429 && statuses.filter { $0 == 404 }.count == ProvisioningService.requestsPerMinute - 2)
    }

    /// The rate table counts at most `maximumCounted` registration ids and addresses: a new one finding it full of
    /// recent ones waits (429) instead of growing it, and idle ones make room again after a minute.
    @Test func theRateTableIsBounded() {
        let start = Date()
        let admitted = (0..<ProvisioningService.maximumCounted).filter { service.admit("a\($0)", at: start) }
        #expect(admitted.count == ProvisioningService.maximumCounted)
        #expect(!service.admit("newcomer", at: start.addingTimeInterval(2)))
        #expect(service.admit("a1", at: start.addingTimeInterval(2)), "a counted one goes on")
        #expect(service.admit("newcomer", at: start.addingTimeInterval(61)))
        #expect(service.state.withLock { $0.requests.count } <= 2)
    }

    /// X.509: a group's CA must be on the certificate's path, with CN = the registration id; an individual
    /// enrollment's thumbprint proves its device alone. A token is not needed, and a certificate proves no
    /// symmetric-key enrollment.
    @Test func certificatesProveX509EnrollmentsOnly() async throws {
        let caThumbprint = try Thumbprint(String(repeating: "C1", count: 32))
        let authority = CertificateAuthority(
            tenantID: .defaultTenant, name: try CAName("fleet"), certificatePEM: "", thumbprint: caThumbprint,
            subject: "CN=Fleet", notValidAfter: Date() + 86_400, isVerified: true, createdAt: Date())
        _ = try await hub.database.createCertificateAuthority(authority)
        hub.bus.publish(.certificateAuthorityChanged(authority))
        _ = try await service.createEnrollment(
            .defaultTenant, .group(try EnrollmentGroupName("cameras")),
            attestation: .certificateAuthority(authority.name))
        let solo = try Thumbprint(String(repeating: "5A", count: 32))
        _ = try await service.createEnrollment(
            .defaultTenant, .individual(try DeviceID("solo-1")),
            attestation: .thumbprints(primary: solo, secondary: nil))
        _ = try await service.createEnrollment(.defaultTenant, .group(try EnrollmentGroupName("keys")))

        func presented(_ commonName: String, issuer: Thumbprint, thumbprints: [Thumbprint] = [])
            -> DeviceCredentials.Certificate
        {
            DeviceCredentials.Certificate(
                thumbprints: thumbprints,
                chain: ChainValidation(
                    commonName: commonName, path: [CertificateSerial(issuer: issuer, serial: "01")],
                    tenants: [.defaultTenant]))
        }
        let camera = try service.authenticate(
            try username("cam-1"), token: nil, certificate: presented("cam-1", issuer: caThumbprint), now: now)
        #expect(camera.enrollment == .group(try EnrollmentGroupName("cameras")))
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(
                try username("cam-2"), token: nil, certificate: presented("cam-1", issuer: caThumbprint), now: now)
        }
        let stranger = try Thumbprint(String(repeating: "EE", count: 32))
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(
                try username("cam-1"), token: nil, certificate: presented("cam-1", issuer: stranger), now: now)
        }
        let individual = try service.authenticate(
            try username("solo-1"), token: nil, certificate: presented("solo-1", issuer: stranger, thumbprints: [solo]),
            now: now)
        #expect(individual.enrollment == .individual(try DeviceID("solo-1")))
        #expect(throws: WardenError(.authInvalidCredential, "")) {
            try service.authenticate(try username("cam-1"), token: nil, certificate: nil, now: now)
        }
        // An X.509 group needs a verified CA of the tenant.
        await #expect(throws: WardenError(.caNotFound, "")) {
            try await service.createEnrollment(
                .defaultTenant, .group(try EnrollmentGroupName("nope")),
                attestation: .certificateAuthority(try CAName("x")))
        }
    }

    /// A CSR that is not base64 DER, or one this hub cannot issue for (no certificate service here), fails the
    /// registration with DPS's 400 and creates nothing.
    @Test func aCSRThatCannotBeIssuedFailsTheRegistration() async throws {
        let individual = try await service.createEnrollment(.defaultTenant, .individual(try DeviceID("gw-9")))
        let identity = try service.authenticate(
            try username("gw-9"), token: token("gw-9", key: try #require(individual.attestation.keys).primary),
            certificate: nil, now: now)
        for body in [#"{"csr":"not base64 at all"}"#, #"{"csr":"MIIBAA=="}"#] {
            let accepted = await service.answer(
                .register(requestID: "1"), body: Array(body.utf8), from: identity, peer: peer)
            let operationID = try #require(
                try JSONDecoder().decode([String: String].self, from: Data(accepted.body))["operationId"])
            let failed = await service.answer(
                .operationStatus(requestID: "2", operationID: operationID), body: [], from: identity, peer: peer)
            let status = try JSONDecoder().decode(JSONValue.self, from: Data(failed.body))
            #expect(status["status"] == .string("failed"), "\(body)")
        }
        await #expect(throws: WardenError(.deviceNotFound, "")) {
            try await registry.device(.defaultTenant, try DeviceID("gw-9"))
        }
    }
}

/// Where registrations go (issue 15, item 5): hashed allocation is stable and spreads, and the settings an
/// enrollment may hold are checked.
struct ProvisioningAllocationTests {
    @Test func hashedAllocationIsStableAndSpreadsAcrossTenants() {
        var counts = [0, 0, 0]
        for index in 0..<3000 { counts[ProvisioningService.bucket("device-\(index)", of: 3)] += 1 }
        // Each of three tenants gets a third, within a few percent.
        #expect(counts.allSatisfy { (900...1100).contains($0) }, "\(counts)")
        #expect(ProvisioningService.bucket("meter-7", of: 3) == ProvisioningService.bucket("meter-7", of: 3))
        #expect(ProvisioningService.bucket("anything", of: 1) == 0)
    }

    @Test func anEnrollmentsAssignmentIsChecked() async throws {
        let hub = try HubFixture()
        let registry = RegistryService(
            stores: .init(hub.database), bus: hub.bus, hubHostName: try HostName("hub.example"))
        _ = try await registry.ensureDefaultTenant()
        _ = try await registry.createTenant(try TenantID("east"))
        let twins = try await TwinService(
            store: hub.database, persistence: hub.persistence, broker: hub.broker, clock: SystemClock())
        let service = ProvisioningService(store: hub.database, registry: registry, twins: twins, bus: hub.bus)
        let east = try TenantID("east")
        func create(_ name: String, _ assignment: EnrollmentAssignment) async throws -> Enrollment {
            try await service.createEnrollment(
                .defaultTenant, .group(try EnrollmentGroupName(name)), assignment: assignment)
        }
        let refusals: [(EnrollmentAssignment, String)] = [
            (EnrollmentAssignment(tenants: [.defaultTenant, east]), "static names one"),
            (EnrollmentAssignment(tenants: [east, east], allocation: .hashed), "each once"),
            (EnrollmentAssignment(tenants: [try TenantID("west")], allocation: .hashed), "no tenant"),
            (EnrollmentAssignment(allocation: .custom(webhook: "file:///etc/passwd")), "http or https"),
            (EnrollmentAssignment(allocation: .custom(webhook: "https://")), "http or https"),
            (
                EnrollmentAssignment(
                    allocation: .custom(webhook: "https://a.example/" + String(repeating: "x", count: 2048))),
                "http or https"
            ),
        ]
        for (index, (assignment, why)) in refusals.enumerated() {
            await #expect(throws: WardenError.self, "\(why)") { _ = try await create("bad-\(index)", assignment) }
        }
        let made = try await create(
            "spread",
            EnrollmentAssignment(
                tenants: [.defaultTenant, east], allocation: .custom(webhook: "https://alloc.example/?code=k"),
                reprovisioning: .never))
        let stored = try await service.enrollment(.defaultTenant, made.kind)
        #expect(stored.assignableTenants == [.defaultTenant, east])
        #expect(stored.allocation == .custom(webhook: "https://alloc.example/?code=k"))
        #expect(stored.reprovisioning == .never)
        let changed = try await service.updateEnrollment(
            .defaultTenant, made.kind, assignment: EnrollmentAssignment(tenants: [east]))
        #expect(changed.assignableTenants == [east] && changed.allocation == .static)
        #expect(changed.reprovisioning == .migrate)
    }
}
