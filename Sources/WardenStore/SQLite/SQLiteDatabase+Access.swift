public import Foundation
import GRDB
public import WardenCore

extension SQLiteDatabase: AccessStore {
    // MARK: Users

    public func allUsers() async throws -> [User] {
        let sealer = self.sealer
        return try await read { db in
            let roles = try Self.roleBindings(db)
            return try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY username").map {
                try AccessRows.user(
                    $0, roles: roles[try $0.decode(String.self, forColumn: "id")] ?? [:], sealer: sealer)
            }
        }
    }

    public func createUser(_ user: User) async throws {
        let sealer = self.sealer
        try await write { db in
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?)",
                    arguments: [user.username.rawValue]) != true
            else {
                throw WardenError(.userAlreadyExists, "A user named '\(user.username)' exists.")
            }
            try Self.save(user, db, sealer: sealer)
        }
    }

    public func updateUser(_ id: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User
    {
        let sealer = self.sealer
        return try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]) else {
                throw WardenError(.userNotFound, "There is no user with id '\(id)'.")
            }
            var user = try AccessRows.user(row, roles: try Self.roleBindings(db, subject: id), sealer: sealer)
            let username = user.username
            try change(&user)
            if user.username != username,
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?)",
                    arguments: [user.username.rawValue]) == true
            {
                throw WardenError(.userAlreadyExists, "A user named '\(user.username)' exists.")
            }
            try Self.save(user, db, sealer: sealer)
            return user
        }
    }

    public func deleteUser(_ id: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw WardenError(.userNotFound, "There is no user with id '\(id)'.") }
            try db.execute(sql: "DELETE FROM role_bindings WHERE subject_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM refresh_tokens WHERE user_id = ?", arguments: [id])
        }
    }

    private static func save(_ user: User, _ db: Database, sealer: any SecretSealer) throws {
        let (totp, pending) = try AccessRows.sealedSecrets(user, sealer: sealer)
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO users (id, username, password_hash, enabled, platform_admin, totp_secret,
                    pending_totp_secret, last_totp_step, must_change_password, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                user.id, user.username.rawValue, user.passwordHash, user.isEnabled, user.isPlatformAdmin, totp, pending,
                user.lastTOTPStep, user.mustChangePassword, user.createdAt,
            ])
        try saveRoles(user.roles, subject: user.id, db)
    }

    // MARK: Roles

    private static func saveRoles(_ roles: [TenantID: Role], subject: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM role_bindings WHERE subject_id = ?", arguments: [subject])
        for (tenant, role) in roles {
            guard try tenantExists(db, tenant) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenant)'.")
            }
            try db.execute(
                sql: "INSERT INTO role_bindings (subject_id, tenant_id, role) VALUES (?, ?, ?)",
                arguments: [subject, tenant.rawValue, role.rawValue])
        }
    }

    private static func roleBindings(_ db: Database, subject: String? = nil) throws -> [TenantID: Role] {
        try roleBindings(db, where: "WHERE subject_id = ?", [subject])[subject ?? ""] ?? [:]
    }

    private static func roleBindings(_ db: Database) throws -> [String: [TenantID: Role]] {
        try roleBindings(db, where: "", [])
    }

    private static func roleBindings(_ db: Database, where clause: String, _ arguments: [String?]) throws
        -> [String: [TenantID: Role]]
    {
        try AccessRows.roleBindings(
            Row.fetchAll(
                db, sql: "SELECT subject_id, tenant_id, role FROM role_bindings \(clause)",
                arguments: StatementArguments(arguments)))
    }

    // MARK: Service principals

    public func allServicePrincipals() async throws -> [ServicePrincipal] {
        try await read { db in
            let roles = try Self.roleBindings(db)
            return try Row.fetchAll(db, sql: "SELECT * FROM service_principals ORDER BY name").map {
                try AccessRows.servicePrincipal($0, roles: roles[try $0.decode(String.self, forColumn: "id")] ?? [:])
            }
        }
    }

    public func createServicePrincipal(_ principal: ServicePrincipal) async throws {
        try await write { db in try Self.save(principal, db) }
    }

    public func updateServicePrincipal(
        _ id: String, _ change: @escaping @Sendable (inout ServicePrincipal) throws -> Void
    ) async throws -> ServicePrincipal {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM service_principals WHERE id = ?", arguments: [id])
            else { throw WardenError(.servicePrincipalNotFound, "There is no service principal '\(id)'.") }
            var principal = try AccessRows.servicePrincipal(row, roles: try Self.roleBindings(db, subject: id))
            try change(&principal)
            try Self.save(principal, db)
            return principal
        }
    }

    public func deleteServicePrincipal(_ id: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM service_principals WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else {
                throw WardenError(.servicePrincipalNotFound, "There is no service principal '\(id)'.")
            }
            try db.execute(sql: "DELETE FROM role_bindings WHERE subject_id = ?", arguments: [id])
        }
    }

    private static func save(_ principal: ServicePrincipal, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO service_principals (id, name, secret_hash, enabled, created_at)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [
                principal.id, principal.name, Data(principal.secretHash), principal.isEnabled, principal.createdAt,
            ])
        try saveRoles(principal.roles, subject: principal.id, db)
    }

    // MARK: API keys

    public func allAPIKeys() async throws -> [APIKey] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY tenant_id, created_at").map(AccessRows.apiKey)
        }
    }

    public func createAPIKey(_ key: APIKey) async throws {
        let permissions = try JSONColumn.encode(key.permissions.sorted())
        try await write { db in
            guard try Self.tenantExists(db, key.tenant) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(key.tenant)'.")
            }
            try db.execute(
                sql: """
                    INSERT INTO api_keys (id, tenant_id, name, permissions, device_group, expires_at, revoked_at,
                        last_used_at, created_by, created_at, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.id, key.tenant.rawValue, key.name, permissions, key.deviceGroup?.rawValue, key.expiresAt,
                    key.revokedAt, key.lastUsedAt, key.createdBy, key.createdAt, Data(key.secretHash),
                ])
        }
    }

    public func revokeAPIKey(_ tenant: TenantID, _ id: String, at date: Date) async throws -> APIKey {
        try await write { db in
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?",
                arguments: [date, tenant.rawValue, id])
            guard
                let key = try Row.fetchOne(
                    db, sql: "SELECT * FROM api_keys WHERE tenant_id = ? AND id = ?", arguments: [tenant.rawValue, id]
                ).map(AccessRows.apiKey)
            else { throw WardenError(.apiKeyNotFound, "There is no API key '\(id)' in tenant '\(tenant)'.") }
            return key
        }
    }

    public func recordAPIKeyUse(_ uses: [String: Date]) async throws -> [String: Date] {
        try await write { db in
            for (id, date) in uses {
                try db.execute(
                    sql:
                        "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)",
                    arguments: [date, id])
            }
            let rows = try Row.fetchAll(db, sql: "SELECT id, last_used_at FROM api_keys WHERE last_used_at IS NOT NULL")
            return Dictionary(
                try rows.map { row in
                    (try row.decode(forColumn: "id") as String, try row.decode(forColumn: "last_used_at") as Date)
                }
            ) { first, _ in first }
        }
    }

    // MARK: Refresh tokens

    public func insertRefreshToken(_ token: RefreshToken) async throws {
        try await write { db in try Self.insert(token, db) }
    }

    public func exchangeRefreshToken(
        _ hash: [UInt8], successorHash: [UInt8], successorExpiresAt: Date, at date: Date
    ) async throws -> RefreshToken? {
        try await write { db in
            guard
                let token = try Row.fetchOne(
                    db, sql: "SELECT * FROM refresh_tokens WHERE hash = ?", arguments: [Data(hash)]
                ).map(AccessRows.refreshToken)
            else { return nil }
            if token.usedAt != nil || token.revokedAt != nil {
                // A spent token presented again: someone holds a copy. Nothing from this sign-in stays valid.
                try db.execute(
                    sql: "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE family = ?",
                    arguments: [date, token.family])
                return token
            }
            guard token.expiresAt > date else { return token }
            try db.execute(sql: "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?", arguments: [date, Data(hash)])
            try Self.insert(
                RefreshToken(
                    hash: successorHash, family: token.family, userID: token.userID, issuedAt: date,
                    expiresAt: successorExpiresAt), db)
            return token
        }
    }

    public func refreshTokenFamily(_ hash: [UInt8]) async throws -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT family FROM refresh_tokens WHERE hash = ?", arguments: [Data(hash)])
        }
    }

    public func revokeRefreshFamily(_ family: String, at date: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE family = ?",
                arguments: [date, family])
        }
    }

    public func revokeRefreshTokens(userID: String, at date: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ?",
                arguments: [date, userID])
        }
    }

    public func revokedRefreshFamilies(since date: Date) async throws -> [String: Date] {
        try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT family, MIN(revoked_at) AS revoked_at FROM refresh_tokens WHERE revoked_at >= ?
                    GROUP BY family
                    """,
                arguments: [date])
            return Dictionary(
                try rows.map {
                    (try $0.decode(String.self, forColumn: "family"), try $0.decode(Date.self, forColumn: "revoked_at"))
                }
            ) { first, _ in first }
        }
    }

    public func deleteExpiredRefreshTokens(before date: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM refresh_tokens WHERE expires_at < ?", arguments: [date])
            return db.changesCount
        }
    }

    private static func insert(_ token: RefreshToken, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at, used_at, revoked_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Data(token.hash), token.family, token.userID, token.issuedAt, token.expiresAt, token.usedAt,
                token.revokedAt,
            ])
    }

    // MARK: Signing keys

    public func accessTokenKeys() async throws -> [(id: String, secret: SecretBytes, createdAt: Date)] {
        let sealer = self.sealer
        return try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM access_token_keys ORDER BY created_at DESC, id").map {
                try AccessRows.signingKey($0, sealer: sealer)
            }
        }
    }

    public func addAccessTokenKey(id: String, secret: SecretBytes, createdAt: Date, keep: Int) async throws {
        let sealed = Data(try sealer.seal(secret, context: AccessRows.signingKeyContext(id)))
        try await write { db in
            try db.execute(
                sql: "INSERT INTO access_token_keys (id, private_key, created_at) VALUES (?, ?, ?)",
                arguments: [id, sealed, createdAt])
            try db.execute(
                sql: """
                    DELETE FROM access_token_keys WHERE id NOT IN
                        (SELECT id FROM access_token_keys ORDER BY created_at DESC, id LIMIT ?)
                    """,
                arguments: [keep])
        }
    }
}
