/// Everything the hub keeps, whichever engine keeps it: the server opens one and hands it to every service as
/// the protocols each needs.
public protocol HubStore: TenantStore, DeviceStore, GroupStore, AdmissionStore, PolicyStore,
    AuthorizationPolicyStore, CredentialStore, CertificateAuthorityStore, IssuedCertificateStore, ProvisioningStore,
    SealedSecretStore, DefenderStore, DeviceStateStore, TelemetryStore, CloudToDeviceStore, TwinStore, AuditStore,
    AccessStore, NodeSlotStore
{
    /// Whether the engine answers a trivial query (for `/readyz`).
    func isReachable() async -> Bool
    /// The migrations applied so far, oldest first.
    func appliedMigrations() async throws -> [String]
}

extension SQLiteDatabase: HubStore {}
extension PostgreSQLDatabase: HubStore {}
