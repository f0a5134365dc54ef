import GRDB

/// One step of the schema's history, in both engines' dialects. A shipped migration is never edited or
/// renumbered (STYLE R9.4); every new one is written for both.
protocol StoreMigration: SendableMetatype {
    static var identifier: String { get }
    /// The change in PostgreSQL's dialect, one statement per element (its extended protocol runs one at a time).
    static var postgres: [String] { get }
    /// The change in SQLite's dialect.
    static func migrate(_ db: Database) throws
}

/// One migration as the runners use it (a value: the compiler mishandles existential metatypes in async code).
struct MigrationStep: Sendable {
    let identifier: String
    let postgres: [String]
    let sqlite: @Sendable (Database) throws -> Void

    init<Migration: StoreMigration>(_: Migration.Type) {
        identifier = Migration.identifier
        postgres = Migration.postgres
        sqlite = { try Migration.migrate($0) }
    }
}

/// The schema's history, in order.
enum StoreMigrations {
    static let all = [
        MigrationStep(Migration0001CreateTenants.self),
        MigrationStep(Migration0002CreateDevices.self),
        MigrationStep(Migration0003CreateGroups.self),
        MigrationStep(Migration0004CreateSharedAccessPolicies.self),
        MigrationStep(Migration0005CreateMQTTState.self),
        MigrationStep(Migration0006CreateCertificateAuthorities.self),
        MigrationStep(Migration0007CreateTelemetry.self),
        MigrationStep(Migration0008CreateCloudToDevice.self),
        MigrationStep(Migration0009CreateTwins.self),
        MigrationStep(Migration0010CreateAccess.self),
        MigrationStep(Migration0011CreateAudit.self),
        MigrationStep(Migration0012CreateAuthorizationPolicies.self),
        MigrationStep(Migration0013IndexAuditReferences.self),
        MigrationStep(Migration0014CreateIssuedCertificates.self),
        MigrationStep(Migration0015CreateRevocationLists.self),
        MigrationStep(Migration0016CreateProvisioning.self),
        MigrationStep(Migration0017AddCertificateAttestation.self),
        MigrationStep(Migration0018AddTokenKeys.self),
        MigrationStep(Migration0019CreateDataKeys.self),
        MigrationStep(Migration0020AddAllocation.self),
        MigrationStep(Migration0021AddOCSPChecks.self),
        MigrationStep(Migration0022CreateDefender.self),
        MigrationStep(Migration0023DefenderRulesAndInventory.self),
        MigrationStep(Migration0024CreateNodeSlots.self),
        MigrationStep(Migration0025AddSessionNode.self),
        MigrationStep(Migration0026AddCloudToDeviceLocks.self),
        MigrationStep(Migration0027AddNodeSlotNames.self),
        MigrationStep(Migration0028IndexRefreshTokenRevocations.self),
        MigrationStep(Migration0029CreateProvisioningOperations.self),
        MigrationStep(Migration0030StampRetainedMessages.self),
        MigrationStep(Migration0031CreateSignInFailures.self),
        MigrationStep(Migration0032OneOpenAlertPerSubject.self),
    ]

    /// GRDB's migrator over the history (its table, `grdb_migrations`, records what ran).
    static var sqlite: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for step in all {
            migrator.registerMigration(step.identifier, migrate: step.sqlite)
        }
        return migrator
    }
}
