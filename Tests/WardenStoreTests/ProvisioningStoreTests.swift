import Foundation
import Testing
import WardenCore
import WardenStore

/// The provisioning store (ID scopes, enrollments, registrations), against each engine (`StoreEngine`).
struct ProvisioningStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func makeTenants(_ store: any PortedStores) async throws {
        _ = try await store.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
        _ = try await store.createTenant(
            Tenant(id: try TenantID("other"), hostName: try HostName("other.example"), createdAt: now), etag: "t")
    }

    private func enrollment(
        _ kind: Enrollment.Kind, _ attestation: Enrollment.Attestation, tenantID: TenantID = .defaultTenant
    ) -> Enrollment {
        Enrollment(tenantID: tenantID, kind: kind, attestation: attestation, createdAt: now, updatedAt: now)
    }

    /// An attestation as text, secrets included, to compare what was stored with what was read.
    private func text(_ attestation: Enrollment.Attestation) -> String {
        switch attestation {
        case .symmetricKey(let keys): "keys \(keys.primary.base64) \(keys.secondary.base64)"
        case .certificateAuthority(let name): "ca \(name.rawValue)"
        case .thumbprints(let primary, let secondary): "thumbprints \(primary.rawValue) \(secondary?.rawValue ?? "-")"
        }
    }

    private func expectSame(_ loaded: Enrollment?, _ expected: Enrollment) {
        guard let loaded else {
            Issue.record("\(expected.kind.reference) is missing")
            return
        }
        #expect(loaded.tenantID == expected.tenantID)
        #expect(loaded.kind == expected.kind)
        #expect(text(loaded.attestation) == text(expected.attestation))
        #expect(loaded.isEnabled == expected.isEnabled)
        #expect(loaded.initialDesired == expected.initialDesired)
        #expect(loaded.deviceID == expected.deviceID)
        #expect(loaded.tenants == expected.tenants)
        #expect(loaded.allocation == expected.allocation)
        #expect(loaded.reprovisioning == expected.reprovisioning)
        #expect(loaded.createdAt == expected.createdAt)
        #expect(loaded.updatedAt == expected.updatedAt)
    }

    @Test(arguments: StoreEngine.allCases) func anIDScopeIsAssignedOnceAndUnique(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenants(fresh.store)
            #expect(try await fresh.store.idScope(.defaultTenant, orAssign: "0ne00000001") == "0ne00000001")
            #expect(try await fresh.store.idScope(.defaultTenant, orAssign: "0ne00000002") == "0ne00000001")
            let reopened = try await fresh.reopen()
            #expect(try await reopened.tenant(forScope: "0ne00000001") == .defaultTenant)
            #expect(try await reopened.tenant(forScope: "0ne00000002") == nil)
            // Another tenant cannot take the same scope.
            await #expect(throws: WardenError(.storeConstraintViolated, "")) {
                _ = try await reopened.idScope(try TenantID("other"), orAssign: "0ne00000001")
            }
            #expect(try await reopened.idScope(try TenantID("other"), orAssign: "0ne00000003") == "0ne00000003")
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                _ = try await reopened.idScope(try TenantID("nobody"), orAssign: "0ne00000004")
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func enrollmentsSurviveReopenWithTheirSecrets(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            try await makeTenants(fresh.store)
            let keys = SASKeyPair.random()
            let meters = Enrollment(
                tenantID: .defaultTenant, kind: .group(try EnrollmentGroupName("meters")),
                attestation: .symmetricKey(keys), initialDesired: ["mode": "eco", "interval": 30],
                tenants: [.defaultTenant, try TenantID("other")],
                allocation: .custom(webhook: "https://allocator.example/allocate?code=secret"),
                reprovisioning: .reset, createdAt: now, updatedAt: now)
            let gateways = enrollment(
                .group(try EnrollmentGroupName("gateways")), .certificateAuthority(try CAName("root")))
            let single = Enrollment(
                tenantID: .defaultTenant, kind: .individual(try DeviceID("reg-1")),
                attestation: .thumbprints(primary: try Thumbprint(String(repeating: "AB", count: 32)), secondary: nil),
                isEnabled: false, deviceID: try DeviceID("device-1"), allocation: .hashed, reprovisioning: .never,
                createdAt: now, updatedAt: now)
            for created in [single, meters, gateways] { _ = try await fresh.store.createEnrollment(created) }

            let reopened = try await fresh.reopen()
            // Groups first, each kind in name order.
            let all = try await reopened.enrollments(.defaultTenant)
            #expect(all.map(\.kind) == [gateways.kind, meters.kind, single.kind])
            for expected in [meters, gateways, single] {
                expectSame(all.first { $0.kind == expected.kind }, expected)
                expectSame(try await reopened.enrollment(.defaultTenant, expected.kind), expected)
            }
            #expect(try await reopened.enrollment(.defaultTenant, .individual(try DeviceID("reg-2"))) == nil)
            #expect(try await reopened.enrollments(try TenantID("other")).isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases) func enrollmentsChangeAndRefuseWhatIsWrong(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenants(store)
            let kind = Enrollment.Kind.group(try EnrollmentGroupName("meters"))
            let created = Enrollment(
                tenantID: .defaultTenant, kind: kind, attestation: .symmetricKey(.random()),
                allocation: .custom(webhook: "https://allocator.example/a"), createdAt: now, updatedAt: now)
            _ = try await store.createEnrollment(created)
            await #expect(throws: WardenError(.enrollmentAlreadyExists, "")) {
                _ = try await store.createEnrollment(created)
            }
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                _ = try await store.createEnrollment(
                    enrollment(kind, .symmetricKey(.random()), tenantID: try TenantID("nobody")))
            }

            let later = now.addingTimeInterval(60)
            let changed = try await store.updateEnrollment(.defaultTenant, kind) { enrollment in
                enrollment.isEnabled = false
                enrollment.allocation = .hashed
                enrollment.attestation = .certificateAuthority(try CAName("root"))
                enrollment.updatedAt = later
            }
            expectSame(try await fresh.reopen().enrollment(.defaultTenant, kind), changed)
            #expect(changed.updatedAt == later)
            #expect(changed.createdAt == now)
            // A change that throws writes nothing.
            await #expect(throws: WardenError(.enrollmentDisabled, "")) {
                _ = try await store.updateEnrollment(.defaultTenant, kind) { enrollment in
                    enrollment.isEnabled = true
                    throw WardenError(.enrollmentDisabled, "refused")
                }
            }
            #expect(try await store.enrollment(.defaultTenant, kind)?.isEnabled == false)

            let missing = Enrollment.Kind.individual(try DeviceID("reg-9"))
            await #expect(throws: WardenError(.enrollmentNotFound, "")) {
                _ = try await store.updateEnrollment(.defaultTenant, missing) { _ in }
            }
            await #expect(throws: WardenError(.enrollmentNotFound, "")) {
                try await store.deleteEnrollment(.defaultTenant, missing)
            }
            try await store.deleteEnrollment(.defaultTenant, kind)
            #expect(try await store.enrollment(.defaultTenant, kind) == nil)
            await #expect(throws: WardenError(.enrollmentNotFound, "")) {
                try await store.deleteEnrollment(.defaultTenant, kind)
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func aRegistrationKeepsWhenItFirstRegistered(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenants(store)
            let other = try TenantID("other")
            let registrationID = try DeviceID("reg-1")
            #expect(try await store.registration(.defaultTenant, registrationID: registrationID) == nil)
            let first = try await store.recordRegistration(
                .defaultTenant, registrationID: registrationID, enrollment: "group/meters",
                assignedTenant: .defaultTenant, deviceID: registrationID, at: now)
            #expect(first == now)
            #expect(
                try await store.registration(.defaultTenant, registrationID: registrationID)
                    == Registration(tenantID: .defaultTenant, deviceID: registrationID, createdAt: now))

            // Registered again, elsewhere: the new assignment, the first time.
            let again = try await store.recordRegistration(
                .defaultTenant, registrationID: registrationID, enrollment: "group/meters", assignedTenant: other,
                deviceID: try DeviceID("meter-1"), at: now.addingTimeInterval(3_600))
            #expect(again == now)
            #expect(
                try await fresh.reopen().registration(.defaultTenant, registrationID: registrationID)
                    == Registration(tenantID: other, deviceID: try DeviceID("meter-1"), createdAt: now))
            // Registrations are per ID scope's tenant.
            #expect(try await store.registration(other, registrationID: registrationID) == nil)
        }
    }

    /// A registration's operation is kept until it expires, and deleted with the next one kept after that.
    @Test(arguments: StoreEngine.allCases) func operationsAreKeptUntilTheyExpire(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            func operation(_ id: String, expiresAt: Int64) throws -> StoredProvisioningOperation {
                StoredProvisioningOperation(
                    id: id, tenantID: .defaultTenant, registrationID: try DeviceID("gw-1"), enrollment: "group/meters",
                    body: Array("{\"status\":\"assigned\"}".utf8), expiresAt: expiresAt)
            }
            let first = try operation("op-1", expiresAt: 1_000)
            try await store.putProvisioningOperation(first, now: 0)
            #expect(try await fresh.reopen().provisioningOperation("op-1", now: 999) == first)
            #expect(try await store.provisioningOperation("op-1", now: 1_001) == nil)
            #expect(try await store.provisioningOperation("op-2", now: 0) == nil)
            try await store.putProvisioningOperation(try operation("op-2", expiresAt: 3_000), now: 2_000)
            #expect(try await store.provisioningOperation("op-1", now: 0) == nil)
            #expect(try await store.provisioningOperation("op-2", now: 2_500)?.expiresAt == 3_000)
        }
    }
}
