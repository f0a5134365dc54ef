/// What a management route requires; every route declares exactly one.
public enum Permission: String, Sendable, CaseIterable, Codable {
    /// Create and delete tenants (platform-wide).
    case tenantsManage = "tenants.manage"
    /// Read tenants.
    case tenantsRead = "tenants.read"
    /// Read devices, groups, lists and filters.
    case registryRead = "registry.read"
    /// Create, change and delete devices, groups, lists and filters.
    case registryWrite = "registry.write"
    /// Read or issue device credentials (keys, connection strings, SAS tokens).
    case credentialsManage = "credentials.manage"
    /// Control devices: send cloud-to-device messages, purge their queues, invoke methods.
    case devicesControl = "devices.control"
    /// Read devices' telemetry (monitoring).
    case telemetryRead = "telemetry.read"
    /// Read server metrics.
    case metricsRead = "metrics.read"
}
