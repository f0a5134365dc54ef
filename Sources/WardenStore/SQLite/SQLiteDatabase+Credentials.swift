public import Foundation
import GRDB
import WardenCore

extension SQLiteDatabase: CredentialStore {
    public func storeCredentialHash(name: String, hash: [UInt8], createdAt: Date) async throws {
        try await write { db in
            try db.execute(
                sql:
                    "INSERT OR REPLACE INTO management_credentials (name, credential_hash, created_at) VALUES (?, ?, ?)",
                arguments: [name, Data(hash), createdAt])
        }
    }

    public func credentialHashes() async throws -> [String: [UInt8]] {
        try await read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT name, credential_hash FROM management_credentials")
            return try Dictionary(
                uniqueKeysWithValues: rows.map {
                    (try $0.decode(forColumn: "name"), Array(try $0.decode(Data.self, forColumn: "credential_hash")))
                })
        }
    }
}
