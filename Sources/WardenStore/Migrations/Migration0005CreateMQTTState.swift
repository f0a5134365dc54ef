import GRDB

/// Persistent MQTT sessions, their subscriptions and messages, and retained messages (issue 3).
enum Migration0005CreateMQTTState: StoreMigration {
    static let identifier = "0005-create-mqtt-state"

    /// The same change in PostgreSQL's dialect, one statement each.
    static let postgres = [
        """
        CREATE TABLE mqtt_sessions (
            tenant_id TEXT COLLATE "C" NOT NULL,
            client_id TEXT COLLATE "C" NOT NULL,
            expiry_interval BIGINT NOT NULL,
            disconnected_at DOUBLE PRECISION,
            PRIMARY KEY (tenant_id, client_id)
        )
        """,
        """
        CREATE TABLE mqtt_subscriptions (
            tenant_id TEXT COLLATE "C" NOT NULL,
            client_id TEXT COLLATE "C" NOT NULL,
            filter TEXT COLLATE "C" NOT NULL,
            options BIGINT NOT NULL,
            identifier BIGINT,
            PRIMARY KEY (tenant_id, client_id, filter),
            FOREIGN KEY (tenant_id, client_id) REFERENCES mqtt_sessions(tenant_id, client_id) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE mqtt_session_messages (
            tenant_id TEXT COLLATE "C" NOT NULL,
            client_id TEXT COLLATE "C" NOT NULL,
            sequence BIGINT NOT NULL,
            topic TEXT COLLATE "C" NOT NULL,
            payload BYTEA NOT NULL,
            qos BIGINT NOT NULL,
            properties BYTEA NOT NULL,
            expires_at DOUBLE PRECISION,
            delivery_qos BIGINT NOT NULL,
            retain BOOLEAN NOT NULL,
            subscription_identifiers TEXT COLLATE "C" NOT NULL,
            packet_id BIGINT,
            phase BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, client_id, sequence),
            FOREIGN KEY (tenant_id, client_id) REFERENCES mqtt_sessions(tenant_id, client_id) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE mqtt_retained (
            tenant_id TEXT COLLATE "C" NOT NULL,
            topic TEXT COLLATE "C" NOT NULL,
            payload BYTEA NOT NULL,
            qos BIGINT NOT NULL,
            properties BYTEA NOT NULL,
            expires_at DOUBLE PRECISION,
            PRIMARY KEY (tenant_id, topic)
        )
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE mqtt_sessions (
                    tenant_id TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    expiry_interval INTEGER NOT NULL,
                    disconnected_at REAL,
                    PRIMARY KEY (tenant_id, client_id)
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE mqtt_subscriptions (
                    tenant_id TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    filter TEXT NOT NULL,
                    options INTEGER NOT NULL,
                    identifier INTEGER,
                    PRIMARY KEY (tenant_id, client_id, filter),
                    FOREIGN KEY (tenant_id, client_id) REFERENCES mqtt_sessions(tenant_id, client_id) ON DELETE CASCADE
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE mqtt_session_messages (
                    tenant_id TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    qos INTEGER NOT NULL,
                    properties BLOB NOT NULL,
                    expires_at REAL,
                    delivery_qos INTEGER NOT NULL,
                    retain INTEGER NOT NULL,
                    subscription_identifiers TEXT NOT NULL,
                    packet_id INTEGER,
                    phase INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, client_id, sequence),
                    FOREIGN KEY (tenant_id, client_id) REFERENCES mqtt_sessions(tenant_id, client_id) ON DELETE CASCADE
                ) STRICT;
                CREATE TABLE mqtt_retained (
                    tenant_id TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    qos INTEGER NOT NULL,
                    properties BLOB NOT NULL,
                    expires_at REAL,
                    PRIMARY KEY (tenant_id, topic)
                ) STRICT;
                """)
    }
}
