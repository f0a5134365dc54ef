public import WardenBroker
public import WardenCore

/// Which devices are connected now, for the portal and reports.
public struct DevicePresence: Sendable {
    let broker: Broker

    public init(broker: Broker) {
        self.broker = broker
    }

    /// The ids of `tenantID`'s devices with a connected MQTT session now.
    public func connected(in tenantID: TenantID) -> Set<String> {
        broker.connectedClientIDs(in: tenantID)
    }
}
