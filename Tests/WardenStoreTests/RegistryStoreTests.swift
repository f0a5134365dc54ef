import Foundation
import Testing
import WardenCore
import WardenStore

/// The registry's store protocols, against each engine (`StoreEngine`).
struct RegistryStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func device(_ id: String, keys: SASKeyPair = .random()) throws -> Device {
        Device(
            tenantID: .defaultTenant, id: try DeviceID(id), generationID: "g1", etag: "e1", status: .enabled,
            statusReason: nil, statusUpdatedAt: now, authentication: .sas(keys), attributes: ["model": "m1"],
            createdAt: now, updatedAt: now)
    }

    private func makeTenant(_ store: any PortedStores) async throws {
        _ = try await store.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
    }

    private func append(
        _ store: any PortedStores, _ document: String, auditOnly: Bool = false, keep: Int = 100
    ) async throws -> AuthorizationPolicyVersion {
        try await store.appendPolicyVersion(
            .defaultTenant, document: document, isAuditOnly: auditOnly, author: "user:ada", createdAt: now,
            restoredFrom: nil, keep: keep)
    }

    @Test func appliesEveryMigrationInOrder() async throws {
        let expected = [
            "0001-create-tenants", "0002-create-devices", "0003-create-groups",
            "0004-create-shared-access-policies", "0005-create-mqtt-state", "0006-create-certificate-authorities",
            "0007-create-telemetry", "0008-create-cloud-to-device", "0009-create-twins", "0010-create-access",
            "0011-create-audit", "0012-create-authorization-policies", "0013-index-audit-references",
            "0014-create-issued-certificates", "0015-create-revocation-lists",
            "0016-create-provisioning", "0017-add-certificate-attestation",
            "0018-add-token-keys", "0019-create-data-keys", "0020-add-allocation",
            "0021-add-ocsp-checks", "0022-create-defender", "0023-defender-rules-and-inventory",
            "0024-create-node-slots", "0025-add-session-node", "0026-add-cloud-to-device-locks",
            "0027-add-node-slot-names", "0028-index-refresh-token-revocations",
            "0029-create-provisioning-operations",
            "0030-stamp-retained-messages", "0031-create-sign-in-failures",
            "0032-one-open-alert-per-subject",
        ]
        #expect(try await TemporaryDatabase().database.appliedMigrations() == expected)
        try await StoreEngine.postgresql.withFreshStore { fresh in
            let database = try #require(fresh.store as? PostgreSQLDatabase)
            #expect(try await database.appliedMigrations() == expected)
            // Opened again (as a second node would), nothing is applied twice.
            _ = try await fresh.reopen()
            #expect(try await database.appliedMigrations() == expected)
        }
    }

    @Test(arguments: StoreEngine.allCases) func devicesSurviveReopenWithTheirKeys(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            let keys = SASKeyPair.random()
            _ = try await fresh.store.createDevice(try device("dev-1", keys: keys))
            let reopened = try await fresh.reopen()
            let loaded = try #require(try await reopened.device(.defaultTenant, try DeviceID("dev-1")))
            guard case .sas(let loadedKeys) = loaded.authentication else {
                Issue.record("not SAS")
                return
            }
            #expect(loadedKeys.primary.bytes == keys.primary.bytes)
            #expect(loadedKeys.secondary.bytes == keys.secondary.bytes)
            #expect(loaded.attributes == ["model": "m1"])
            #expect(loaded.createdAt == now)
        }
    }

    @Test func databaseFileHoldsNoPlaintextKey() async throws {
        let temporary = try TemporaryDatabase()
        try await makeTenant(temporary.database)
        let keys = SASKeyPair.random()
        _ = try await temporary.database.createDevice(try device("dev-1", keys: keys))
        var bytes = Data()
        for suffix in ["", "-wal"] {
            bytes += FileManager.default.contents(atPath: temporary.path + suffix) ?? Data()
        }
        #expect(!bytes.isEmpty)
        for key in [keys.primary, keys.secondary] {
            #expect(bytes.range(of: Data(key.bytes)) == nil)
            #expect(bytes.range(of: Data(key.base64.utf8)) == nil)
        }
    }

    @Test(arguments: StoreEngine.allCases) func duplicatesAreRefused(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            await #expect(throws: WardenError(.tenantAlreadyExists, "")) { try await makeTenant(fresh.store) }
            _ = try await fresh.store.createDevice(try device("dev-1"))
            await #expect(throws: WardenError(.deviceAlreadyExists, "")) {
                try await fresh.store.createDevice(try device("dev-1"))
            }
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                var stranger = try device("dev-2")
                stranger = Device(
                    tenantID: try TenantID("nobody"), id: stranger.id, generationID: "g", etag: "e",
                    status: .enabled, statusReason: nil, statusUpdatedAt: now, authentication: .x509CA,
                    attributes: [:], createdAt: now, updatedAt: now)
                _ = try await fresh.store.createDevice(stranger)
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func pagesFollowTheCursor(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            for index in 0..<5 { _ = try await fresh.store.createDevice(try device("d\(index)")) }
            let first = try await fresh.store.devices(.defaultTenant, after: nil, limit: 2)
            #expect(first.items.map(\.id.rawValue) == ["d0", "d1"])
            let second = try await fresh.store.devices(.defaultTenant, after: first.nextCursor, limit: 2)
            #expect(second.items.map(\.id.rawValue) == ["d2", "d3"])
            let last = try await fresh.store.devices(.defaultTenant, after: second.nextCursor, limit: 2)
            #expect(last.items.map(\.id.rawValue) == ["d4"])
            #expect(last.nextCursor == nil)
            #expect(try await fresh.store.deviceCounts() == [.defaultTenant: 5])
            #expect(try await fresh.store.allDevices().count == 5)
        }
    }

    @Test(arguments: StoreEngine.allCases) func anUpdateIsOneReadChangeWrite(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            _ = try await fresh.store.createDevice(try device("d"))
            let (updated, _) = try await fresh.store.updateDevice(.defaultTenant, try DeviceID("d")) { device in
                device.status = .disabled
                device.statusReason = "stolen"
                return .status
            }
            #expect(updated.status == .disabled)
            #expect(try await fresh.store.device(.defaultTenant, try DeviceID("d"))?.statusReason == "stolen")
            // A change that throws writes nothing.
            await #expect(throws: WardenError(.deviceNotFound, "")) {
                _ = try await fresh.store.updateDevice(.defaultTenant, try DeviceID("d")) { device in
                    device.status = .enabled
                    throw WardenError(.deviceNotFound, "refused")
                }
            }
            #expect(try await fresh.store.device(.defaultTenant, try DeviceID("d"))?.status == .disabled)
            // Ten updates at once: none is lost (serialised, retried where the engine must).
            try await withThrowingTaskGroup { group in
                for index in 0..<10 {
                    group.addTask {
                        _ = try await fresh.store.updateDevice(.defaultTenant, try DeviceID("d")) { device in
                            device.attributes["n\(index)"] = "\(index)"
                            return .attributes
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await fresh.store.device(.defaultTenant, try DeviceID("d"))?.attributes.count == 11)
        }
    }

    @Test(arguments: StoreEngine.allCases) func tenantWithDevicesCannotBeDeleted(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            _ = try await fresh.store.createDevice(try device("d"))
            await #expect(throws: WardenError(.tenantNotEmpty, "")) {
                try await fresh.store.deleteTenant(.defaultTenant)
            }
            try await fresh.store.deleteDevice(.defaultTenant, try DeviceID("d"))
            await #expect(throws: WardenError(.deviceNotFound, "")) {
                try await fresh.store.deleteDevice(.defaultTenant, try DeviceID("d"))
            }
            try await fresh.store.deleteTenant(.defaultTenant)
            #expect(try await fresh.store.tenant(.defaultTenant) == nil)
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                try await fresh.store.deleteTenant(.defaultTenant)
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func groupsKeepTheirMembers(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            _ = try await fresh.store.createDevice(try device("d"))
            _ = try await fresh.store.createDevice(try device("e"))
            let name = try GroupName("g")
            _ = try await fresh.store.createGroup(
                DeviceGroup(
                    tenantID: .defaultTenant, name: name, description: "", members: [try DeviceID("d")],
                    createdAt: now))
            _ = try await fresh.store.setMembership(.defaultTenant, name, try DeviceID("e"), isMember: true)
            #expect(try await fresh.store.allGroups().first?.members == [try DeviceID("d"), try DeviceID("e")])
            await #expect(throws: WardenError(.deviceNotFound, "")) {
                _ = try await fresh.store.setMembership(.defaultTenant, name, try DeviceID("x"), isMember: true)
            }
            try await fresh.store.deleteDevice(.defaultTenant, try DeviceID("d"))
            #expect(try await fresh.store.group(.defaultTenant, name)?.members == [try DeviceID("e")])
            #expect(try await fresh.store.groups(.defaultTenant, after: nil, limit: 10).items.map(\.name) == [name])
            try await fresh.store.deleteGroup(.defaultTenant, name)
            await #expect(throws: WardenError(.groupNotFound, "")) {
                try await fresh.store.deleteGroup(.defaultTenant, name)
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func admissionRulesAreReplacedByEtag(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            let list = try await fresh.store.accessList(.defaultTenant)
            #expect(list.etag == "t")
            let filter = try IPFilter(
                defaultAction: .reject,
                rules: [IPFilter.Rule(name: "lan", action: .accept, cidr: try CIDR("10.0.0.0/8"))],
                etag: "f2")
            _ = try await fresh.store.replaceIPFilter(.defaultTenant, filter, ifMatch: "t")
            await #expect(throws: WardenError(.ipFilterEtagMismatch, "")) {
                _ = try await fresh.store.replaceIPFilter(.defaultTenant, filter, ifMatch: "t")
            }
            #expect(try await fresh.store.ipFilter(.defaultTenant) == filter)
            #expect(try await fresh.store.allAdmissionRules()[.defaultTenant]?.1 == filter)
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                _ = try await fresh.store.accessList(try TenantID("nobody"))
            }
        }
    }

    @Test(arguments: StoreEngine.allCases) func sharedAccessPoliciesKeepTheirKeys(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            let policy = SharedAccessPolicy(
                tenantID: .defaultTenant, name: try PolicyName("service"), permissions: [.serviceConnect],
                keys: .random(), createdAt: now)
            _ = try await fresh.store.createPolicy(policy)
            await #expect(throws: WardenError(.policyAlreadyExists, "")) {
                _ = try await fresh.store.createPolicy(policy)
            }
            let loaded = try #require(try await fresh.reopen().policies(.defaultTenant).first)
            #expect(loaded.keys.primary.bytes == policy.keys.primary.bytes)
            #expect(loaded.permissions == [.serviceConnect])
            try await fresh.store.deletePolicy(.defaultTenant, policy.name)
            #expect(try await fresh.store.allPolicies().isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases) func credentialsAndDataKeysAreKept(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await fresh.store.storeCredentialHash(name: "admin", hash: [1, 2, 3], createdAt: now)
            try await fresh.store.storeCredentialHash(name: "admin", hash: [4, 5], createdAt: now)
            #expect(try await fresh.store.credentialHashes() == ["admin": [4, 5]])
            let first = try await fresh.store.dataKey("audit", orStore: SecretBytes([9, 9, 9]))
            let second = try await fresh.reopen().dataKey("audit", orStore: SecretBytes([7, 7, 7]))
            #expect(first.bytes == [9, 9, 9])
            #expect(second.bytes == [9, 9, 9])
        }
    }

    @Test(arguments: StoreEngine.allCases) func policyVersionsAreNumberedAndKept(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            let first = try await append(fresh.store, "{ \"statements\": [] }")
            let second = try await append(fresh.store, "{\n  \"tolerance\": \"strict\"\n}")
            #expect(first.number == 1)
            #expect(second.number == 2)
            let reopened = try await fresh.reopen()
            #expect(try await reopened.policyVersion(.defaultTenant, 1)?.document == "{ \"statements\": [] }")
            #expect(try await reopened.policyVersions(.defaultTenant).map(\.number) == [2, 1])
            #expect(try await reopened.policyVersions(.defaultTenant).first?.byteCount == second.document.utf8.count)
            #expect(try await reopened.currentPolicyVersions().map(\.number) == [2])
            #expect(try await reopened.policyVersion(.defaultTenant, 3) == nil)
        }
    }

    @Test(arguments: StoreEngine.allCases) func pruningKeepsTheNewestAndTheEnforcedVersion(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            try await makeTenant(fresh.store)
            _ = try await append(fresh.store, "{}", keep: 2)
            _ = try await append(fresh.store, "{\"statements\": []}", keep: 2)
            // Three audit-only versions in a row: version 2 stays, because it is still the one enforced.
            for tolerance in 1...3 {
                _ = try await append(
                    fresh.store, "{\"tolerance\": \"audit-only\", \"include-default\": \(tolerance == 2)}",
                    auditOnly: true, keep: 2)
            }
            #expect(try await fresh.store.policyVersions(.defaultTenant).map(\.number) == [5, 4, 2])
            #expect(try await fresh.store.currentPolicyVersions().map(\.number) == [2, 5])
            _ = try await append(fresh.store, "{\"include-default\": true}", keep: 2)
            #expect(try await fresh.store.policyVersions(.defaultTenant).map(\.number) == [6, 5])
            #expect(try await fresh.store.currentPolicyVersions().map(\.number) == [6])
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                _ = try await fresh.store.appendPolicyVersion(
                    try TenantID("nobody"), document: "{}", isAuditOnly: false, author: "a", createdAt: now,
                    restoredFrom: nil, keep: 2)
            }
        }
    }
}
