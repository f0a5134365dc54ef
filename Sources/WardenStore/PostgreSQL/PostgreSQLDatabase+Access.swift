public import Foundation
import PostgresNIO
public import WardenCore

extension PostgreSQLDatabase: AccessStore {
    // MARK: Users

    public func allUsers() async throws -> [User] {
        let sealer = self.sealer
        return try await read { connection in
            let roles = try await Self.roleBindings(connection)
            return try await connection.rows("SELECT * FROM users ORDER BY username").map { row in
                let id: String = try row.value("id")
                return try AccessRows.user(row, roles: roles[id] ?? [:], sealer: sealer)
            }
        }
    }

    public func createUser(_ user: User) async throws {
        let sealer = self.sealer
        try await write { connection in
            if try await connection.exists("SELECT 1 FROM users WHERE username = \(user.username.rawValue)") {
                throw WardenError(.userAlreadyExists, "A user named '\(user.username)' exists.")
            }
            try await Self.save(user, connection, sealer: sealer)
        }
    }

    public func updateUser(_ id: String, _ change: @escaping @Sendable (inout User) throws -> Void) async throws -> User
    {
        let sealer = self.sealer
        return try await write { connection in
            guard let row = try await connection.rows("SELECT * FROM users WHERE id = \(id)").first else {
                throw WardenError(.userNotFound, "There is no user with id '\(id)'.")
            }
            let roles = try await Self.roleBindings(connection, subject: id)
            var user = try AccessRows.user(row, roles: roles, sealer: sealer)
            let username = user.username
            try change(&user)
            if user.username != username,
                try await connection.exists("SELECT 1 FROM users WHERE username = \(user.username.rawValue)")
            {
                throw WardenError(.userAlreadyExists, "A user named '\(user.username)' exists.")
            }
            try await Self.save(user, connection, sealer: sealer)
            return user
        }
    }

    public func deleteUser(_ id: String) async throws {
        try await write { connection in
            guard try await connection.run("DELETE FROM users WHERE id = \(id)") == 1 else {
                throw WardenError(.userNotFound, "There is no user with id '\(id)'.")
            }
            try await connection.run("DELETE FROM role_bindings WHERE subject_id = \(id)")
            try await connection.run("DELETE FROM refresh_tokens WHERE user_id = \(id)")
        }
    }

    private static func save(_ user: User, _ connection: PostgresConnection, sealer: any SecretSealer) async throws {
        let (totp, pending) = try AccessRows.sealedSecrets(user, sealer: sealer)
        try await connection.run(
            """
            INSERT INTO users (id, username, password_hash, enabled, platform_admin, totp_secret, pending_totp_secret,
            last_totp_step, must_change_password, created_at)
            VALUES (\(user.id), \(user.username.rawValue), \(user.passwordHash), \(user.isEnabled),
            \(user.isPlatformAdmin), \(totp), \(pending), \(user.lastTOTPStep), \(user.mustChangePassword),
            \(user.createdAt))
            ON CONFLICT (id) DO UPDATE SET username = excluded.username, password_hash = excluded.password_hash,
            enabled = excluded.enabled, platform_admin = excluded.platform_admin, totp_secret = excluded.totp_secret,
            pending_totp_secret = excluded.pending_totp_secret, last_totp_step = excluded.last_totp_step,
            must_change_password = excluded.must_change_password, created_at = excluded.created_at
            """)
        try await saveRoles(user.roles, subject: user.id, connection)
    }

    // MARK: Roles

    private static func saveRoles(_ roles: [TenantID: Role], subject: String, _ connection: PostgresConnection)
        async throws
    {
        try await connection.run("DELETE FROM role_bindings WHERE subject_id = \(subject)")
        for (tenant, role) in roles {
            guard try await tenantExists(connection, tenant) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(tenant)'.")
            }
            try await connection.run(
                """
                INSERT INTO role_bindings (subject_id, tenant_id, role)
                VALUES (\(subject), \(tenant.rawValue), \(role.rawValue))
                """)
        }
    }

    private static func roleBindings(_ connection: PostgresConnection, subject: String) async throws
        -> [TenantID: Role]
    {
        let rows = try await connection.rows(
            "SELECT subject_id, tenant_id, role FROM role_bindings WHERE subject_id = \(subject)")
        return try AccessRows.roleBindings(rows)[subject] ?? [:]
    }

    private static func roleBindings(_ connection: PostgresConnection) async throws -> [String: [TenantID: Role]] {
        try AccessRows.roleBindings(try await connection.rows("SELECT subject_id, tenant_id, role FROM role_bindings"))
    }

    // MARK: Service principals

    public func allServicePrincipals() async throws -> [ServicePrincipal] {
        try await read { connection in
            let roles = try await Self.roleBindings(connection)
            return try await connection.rows("SELECT * FROM service_principals ORDER BY name").map { row in
                let id: String = try row.value("id")
                return try AccessRows.servicePrincipal(row, roles: roles[id] ?? [:])
            }
        }
    }

    public func createServicePrincipal(_ principal: ServicePrincipal) async throws {
        try await write { connection in try await Self.save(principal, connection) }
    }

    public func updateServicePrincipal(
        _ id: String, _ change: @escaping @Sendable (inout ServicePrincipal) throws -> Void
    ) async throws -> ServicePrincipal {
        try await write { connection in
            guard let row = try await connection.rows("SELECT * FROM service_principals WHERE id = \(id)").first else {
                throw WardenError(.servicePrincipalNotFound, "There is no service principal '\(id)'.")
            }
            let roles = try await Self.roleBindings(connection, subject: id)
            var principal = try AccessRows.servicePrincipal(row, roles: roles)
            try change(&principal)
            try await Self.save(principal, connection)
            return principal
        }
    }

    public func deleteServicePrincipal(_ id: String) async throws {
        try await write { connection in
            guard try await connection.run("DELETE FROM service_principals WHERE id = \(id)") == 1 else {
                throw WardenError(.servicePrincipalNotFound, "There is no service principal '\(id)'.")
            }
            try await connection.run("DELETE FROM role_bindings WHERE subject_id = \(id)")
        }
    }

    private static func save(_ principal: ServicePrincipal, _ connection: PostgresConnection) async throws {
        try await connection.run(
            """
            INSERT INTO service_principals (id, name, secret_hash, enabled, created_at)
            VALUES (\(principal.id), \(principal.name), \(Data(principal.secretHash)), \(principal.isEnabled),
            \(principal.createdAt))
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
            enabled = excluded.enabled, created_at = excluded.created_at
            """)
        try await saveRoles(principal.roles, subject: principal.id, connection)
    }

    // MARK: API keys

    public func allAPIKeys() async throws -> [APIKey] {
        try await read { connection in
            try await connection.rows("SELECT * FROM api_keys ORDER BY tenant_id, created_at").map(AccessRows.apiKey)
        }
    }

    public func createAPIKey(_ key: APIKey) async throws {
        let permissions = try JSONColumn.encode(key.permissions.sorted())
        try await write { connection in
            guard try await Self.tenantExists(connection, key.tenant) else {
                throw WardenError(.tenantNotFound, "There is no tenant '\(key.tenant)'.")
            }
            try await connection.run(
                """
                INSERT INTO api_keys (id, tenant_id, name, permissions, device_group, expires_at, revoked_at,
                last_used_at, created_by, created_at, secret_hash)
                VALUES (\(key.id), \(key.tenant.rawValue), \(key.name), \(permissions), \(key.deviceGroup?.rawValue),
                \(key.expiresAt), \(key.revokedAt), \(key.lastUsedAt), \(key.createdBy), \(key.createdAt),
                \(Data(key.secretHash)))
                """)
        }
    }

    public func revokeAPIKey(_ tenant: TenantID, _ id: String, at date: Date) async throws -> APIKey {
        try await write { connection in
            try await connection.run(
                """
                UPDATE api_keys SET revoked_at = coalesce(revoked_at, \(date))
                WHERE tenant_id = \(tenant.rawValue) AND id = \(id)
                """)
            guard
                let key = try await connection.rows(
                    "SELECT * FROM api_keys WHERE tenant_id = \(tenant.rawValue) AND id = \(id)"
                ).first.map(AccessRows.apiKey)
            else { throw WardenError(.apiKeyNotFound, "There is no API key '\(id)' in tenant '\(tenant)'.") }
            return key
        }
    }

    public func recordAPIKeyUse(_ uses: [String: Date]) async throws -> [String: Date] {
        try await write { connection in
            for (id, date) in uses {
                try await connection.run(
                    """
                    UPDATE api_keys SET last_used_at = \(date)
                    WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at < \(date))
                    """)
            }
            let rows = try await connection.rows("SELECT id, last_used_at FROM api_keys WHERE last_used_at IS NOT NULL")
            return Dictionary(try rows.map { (try $0.value("id") as String, try $0.value("last_used_at") as Date) }) {
                first, _ in first
            }
        }
    }

    // MARK: Refresh tokens

    public func insertRefreshToken(_ token: RefreshToken) async throws {
        try await write { connection in try await Self.insert(token, connection) }
    }

    public func exchangeRefreshToken(
        _ hash: [UInt8], successorHash: [UInt8], successorExpiresAt: Date, at date: Date
    ) async throws -> RefreshToken? {
        try await write { connection in
            guard
                let token = try await connection.rows("SELECT * FROM refresh_tokens WHERE hash = \(Data(hash))").first
                    .map(AccessRows.refreshToken)
            else { return nil }
            if token.usedAt != nil || token.revokedAt != nil {
                // A spent token presented again: someone holds a copy. Nothing from this sign-in stays valid.
                try await connection.run(
                    """
                    UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, \(date)) WHERE family = \(token.family)
                    """)
                return token
            }
            guard token.expiresAt > date else { return token }
            try await connection.run("UPDATE refresh_tokens SET used_at = \(date) WHERE hash = \(Data(hash))")
            try await Self.insert(
                RefreshToken(
                    hash: successorHash, family: token.family, userID: token.userID, issuedAt: date,
                    expiresAt: successorExpiresAt), connection)
            return token
        }
    }

    public func refreshTokenFamily(_ hash: [UInt8]) async throws -> String? {
        try await read { connection in
            try await connection.rows("SELECT family FROM refresh_tokens WHERE hash = \(Data(hash))").first
                .map { try $0.value("family") as String }
        }
    }

    public func revokeRefreshFamily(_ family: String, at date: Date) async throws {
        try await write { connection -> Void in
            try await connection.run(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, \(date)) WHERE family = \(family)")
        }
    }

    public func revokeRefreshTokens(userID: String, at date: Date) async throws {
        try await write { connection -> Void in
            try await connection.run(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, \(date)) WHERE user_id = \(userID)")
        }
    }

    public func revokedRefreshFamilies(since date: Date) async throws -> [String: Date] {
        try await read { connection in
            let rows = try await connection.rows(
                """
                SELECT family, MIN(revoked_at) AS revoked_at FROM refresh_tokens WHERE revoked_at >= \(date)
                GROUP BY family
                """)
            return Dictionary(
                try rows.map { (try $0.value("family") as String, try $0.value("revoked_at") as Date) }
            ) { first, _ in first }
        }
    }

    public func deleteExpiredRefreshTokens(before date: Date) async throws -> Int {
        try await write { connection in
            try await connection.run("DELETE FROM refresh_tokens WHERE expires_at < \(date)")
        }
    }

    private static func insert(_ token: RefreshToken, _ connection: PostgresConnection) async throws {
        try await connection.run(
            """
            INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at, used_at, revoked_at)
            VALUES (\(Data(token.hash)), \(token.family), \(token.userID), \(token.issuedAt), \(token.expiresAt),
            \(token.usedAt), \(token.revokedAt))
            """)
    }

    // MARK: Signing keys

    public func accessTokenKeys() async throws -> [(id: String, secret: SecretBytes, createdAt: Date)] {
        let sealer = self.sealer
        return try await read { connection in
            try await connection.rows("SELECT * FROM access_token_keys ORDER BY created_at DESC, id").map {
                try AccessRows.signingKey($0, sealer: sealer)
            }
        }
    }

    public func addAccessTokenKey(id: String, secret: SecretBytes, createdAt: Date, keep: Int) async throws {
        let sealed = Data(try sealer.seal(secret, context: AccessRows.signingKeyContext(id)))
        try await write { connection in
            try await connection.run(
                "INSERT INTO access_token_keys (id, private_key, created_at) VALUES (\(id), \(sealed), \(createdAt))")
            try await connection.run(
                """
                DELETE FROM access_token_keys WHERE id NOT IN
                    (SELECT id FROM access_token_keys ORDER BY created_at DESC, id LIMIT \(keep))
                """)
        }
    }
}
