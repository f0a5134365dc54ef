import GRDB

/// The schema's history, in order. A shipped migration is never edited or renumbered (STYLE R9.4).
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(Migration0001CreateTenants.identifier, migrate: Migration0001CreateTenants.migrate)
        migrator.registerMigration(Migration0002CreateDevices.identifier, migrate: Migration0002CreateDevices.migrate)
        migrator.registerMigration(Migration0003CreateGroups.identifier, migrate: Migration0003CreateGroups.migrate)
        migrator.registerMigration(
            Migration0004CreateSharedAccessPolicies.identifier, migrate: Migration0004CreateSharedAccessPolicies.migrate
        )
        migrator.registerMigration(
            Migration0005CreateMQTTState.identifier, migrate: Migration0005CreateMQTTState.migrate)
        migrator.registerMigration(
            Migration0006CreateCertificateAuthorities.identifier,
            migrate: Migration0006CreateCertificateAuthorities.migrate)
        migrator.registerMigration(
            Migration0007CreateTelemetry.identifier, migrate: Migration0007CreateTelemetry.migrate)
        migrator.registerMigration(
            Migration0008CreateCloudToDevice.identifier, migrate: Migration0008CreateCloudToDevice.migrate)
        migrator.registerMigration(Migration0009CreateTwins.identifier, migrate: Migration0009CreateTwins.migrate)
        migrator.registerMigration(Migration0010CreateAccess.identifier, migrate: Migration0010CreateAccess.migrate)
        migrator.registerMigration(Migration0011CreateAudit.identifier, migrate: Migration0011CreateAudit.migrate)
        migrator.registerMigration(
            Migration0012CreateAuthorizationPolicies.identifier,
            migrate: Migration0012CreateAuthorizationPolicies.migrate)
        migrator.registerMigration(
            Migration0013IndexAuditReferences.identifier, migrate: Migration0013IndexAuditReferences.migrate)
        migrator.registerMigration(
            Migration0014CreateIssuedCertificates.identifier, migrate: Migration0014CreateIssuedCertificates.migrate)
        migrator.registerMigration(
            Migration0015CreateRevocationLists.identifier, migrate: Migration0015CreateRevocationLists.migrate)
        migrator.registerMigration(
            Migration0016CreateProvisioning.identifier, migrate: Migration0016CreateProvisioning.migrate)
        migrator.registerMigration(
            Migration0017AddCertificateAttestation.identifier,
            migrate: Migration0017AddCertificateAttestation.migrate)
        migrator.registerMigration(Migration0018AddTokenKeys.identifier, migrate: Migration0018AddTokenKeys.migrate)
        migrator.registerMigration(Migration0019CreateDataKeys.identifier, migrate: Migration0019CreateDataKeys.migrate)
        migrator.registerMigration(Migration0020AddAllocation.identifier, migrate: Migration0020AddAllocation.migrate)
        migrator.registerMigration(Migration0021AddOCSPChecks.identifier, migrate: Migration0021AddOCSPChecks.migrate)
        migrator.registerMigration(Migration0022CreateDefender.identifier, migrate: Migration0022CreateDefender.migrate)
        migrator.registerMigration(
            Migration0023DefenderRulesAndInventory.identifier, migrate: Migration0023DefenderRulesAndInventory.migrate)
        return migrator
    }
}
