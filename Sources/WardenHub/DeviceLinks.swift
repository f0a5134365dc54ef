import Synchronization
import WardenCore

/// Each device's link of another protocol than MQTT (an AMQP link) for one hub feature, by attachment number:
/// a later link of a device takes the place of an earlier one. MQTT sessions are the broker's; these are
/// what the feature delivers to instead while attached.
final class DeviceLinks<Link: Sendable>: Sendable {
    private struct Key: Hashable {
        let tenantID: TenantID
        let deviceID: DeviceID
    }

    private let links = Mutex<[Key: (number: UInt64, link: Link)]>([:])
    private let nextNumber = Atomic<UInt64>(0)
    /// Tells a link that a later one of its device took its place (it must not call back into the feature:
    /// the cloud-to-device queue attaches inside its lock).
    private let superseded: @Sendable (Link) -> Void

    init(superseded: @escaping @Sendable (Link) -> Void) {
        self.superseded = superseded
    }

    /// Attaches `link` for the device, telling the link whose place it took; returns its number and that
    /// link's.
    func attach(_ link: Link, _ tenantID: TenantID, _ deviceID: DeviceID) -> (number: UInt64, earlier: UInt64?) {
        let number = nextNumber.wrappingAdd(1, ordering: .relaxed).newValue
        let earlier = links.withLock {
            $0.updateValue((number, link), forKey: Key(tenantID: tenantID, deviceID: deviceID))
        }
        if let earlier { superseded(earlier.link) }
        return (number, earlier?.number)
    }

    /// Ends attachment `number`, unless a later link took its place.
    func detach(_ number: UInt64, _ tenantID: TenantID, _ deviceID: DeviceID) {
        let key = Key(tenantID: tenantID, deviceID: deviceID)
        links.withLock { links in
            if links[key]?.number == number { links[key] = nil }
        }
    }

    /// The device's attached link, if any.
    func link(_ tenantID: TenantID, _ deviceID: DeviceID) -> (number: UInt64, link: Link)? {
        links.withLock { $0[Key(tenantID: tenantID, deviceID: deviceID)] }
    }
}
