import GRDB

/// Device groups and memberships; deleting a device or group removes its memberships.
enum Migration0003CreateGroups: StoreMigration {
    static let identifier = "0003-create-groups"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE device_groups (
            tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
            name TEXT COLLATE "C" NOT NULL,
            description TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tenant_id, name)
        )
        """,
        """
        CREATE TABLE group_members (
            tenant_id TEXT COLLATE "C" NOT NULL,
            group_name TEXT COLLATE "C" NOT NULL,
            device_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (tenant_id, group_name, device_id),
            FOREIGN KEY (tenant_id, group_name) REFERENCES device_groups(tenant_id, name) ON DELETE CASCADE,
            FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, device_id) ON DELETE CASCADE
        )
        """,
        """
        CREATE INDEX group_members_by_device ON group_members(tenant_id, device_id)
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE device_groups (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    description TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, name)
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE group_members (
                    tenant_id TEXT NOT NULL,
                    group_name TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, group_name, device_id),
                    FOREIGN KEY (tenant_id, group_name) REFERENCES device_groups(tenant_id, name) ON DELETE CASCADE,
                    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, device_id) ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX group_members_by_device ON group_members(tenant_id, device_id);
                """)
    }
}
