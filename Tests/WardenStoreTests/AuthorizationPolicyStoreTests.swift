import Foundation
import Testing
import WardenCore
import WardenStore

struct AuthorizationPolicyStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func store() async throws -> TemporaryDatabase {
        let temporary = try TemporaryDatabase()
        _ = try await temporary.database.createTenant(
            Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
        return temporary
    }

    private func append(
        _ database: SQLiteDatabase, _ document: String, auditOnly: Bool = false, keep: Int = 100
    ) async throws -> AuthorizationPolicyVersion {
        try await database.appendPolicyVersion(
            .defaultTenant, document: document, isAuditOnly: auditOnly, author: "user:ada", createdAt: now,
            restoredFrom: nil, keep: keep)
    }

    @Test func versionsAreNumberedAndKeptAsWritten() async throws {
        let temporary = try await store()
        let first = try await append(temporary.database, "{ \"statements\": [] }")
        let second = try await append(temporary.database, "{\n  \"tolerance\": \"strict\"\n}")
        #expect(first.number == 1)
        #expect(second.number == 2)
        let reopened = try temporary.reopen()
        #expect(try await reopened.policyVersion(.defaultTenant, 1)?.document == "{ \"statements\": [] }")
        #expect(try await reopened.policyVersions(.defaultTenant).map(\.number) == [2, 1])
        #expect(try await reopened.policyVersions(.defaultTenant).first?.byteCount == second.document.utf8.count)
        #expect(try await reopened.currentPolicyVersions().map(\.number) == [2])
        #expect(try await reopened.policyVersion(.defaultTenant, 3) == nil)
    }

    @Test func pruningKeepsTheNewestAndTheEnforcedVersion() async throws {
        let temporary = try await store()
        _ = try await append(temporary.database, "{}", keep: 2)
        _ = try await append(temporary.database, "{\"statements\": []}", keep: 2)
        // Three audit-only versions in a row: version 2 stays, because it is still the one enforced.
        for tolerance in 1...3 {
            _ = try await append(
                temporary.database, "{\"tolerance\": \"audit-only\", \"include-default\": \(tolerance == 2)}",
                auditOnly: true, keep: 2)
        }
        #expect(try await temporary.database.policyVersions(.defaultTenant).map(\.number) == [5, 4, 2])
        #expect(try await temporary.database.currentPolicyVersions().map(\.number) == [2, 5])
        _ = try await append(temporary.database, "{\"include-default\": true}", keep: 2)
        #expect(try await temporary.database.policyVersions(.defaultTenant).map(\.number) == [6, 5])
        #expect(try await temporary.database.currentPolicyVersions().map(\.number) == [6])
    }

    @Test func anUnknownTenantWritesNothing() async throws {
        let temporary = try TemporaryDatabase()
        await #expect(throws: WardenError.self) {
            _ = try await append(temporary.database, "{}")
        }
    }
}
