import Synchronization
import WardenAuthentication
import WardenCore
import WardenHub

/// Ends a device's authority on its AMQP connections the moment the registry revokes it, as `LiveRevocation`
/// closes its MQTT connection: changed credentials, deletion, a device ban or a disconnect request end it at
/// once; a status, allow/block list, group or IP filter change ends it when the device no longer passes.
final class AMQPLiveRevocation: Sendable {
    /// A device's authority on one connection: whom it proved, from where, and how to take it back (the
    /// handler hops to its event loop, detaches the device's links and forgets its token).
    struct Hold: Sendable {
        let identity: DeviceIdentity
        let peerAddress: IPAddress
        /// Called with the hold's id (a renewed token's hold is another) and why.
        let revoke: @Sendable (_ id: UInt64, _ reason: String) -> Void
    }

    private struct Key: Hashable {
        let tenantID: TenantID
        let deviceID: DeviceID
    }

    private let gateway: DeviceGateway
    /// Holds by device, each connection's by its id.
    private let holds = Mutex<[Key: [UInt64: Hold]]>([:])
    private let nextID = Atomic<UInt64>(0)
    /// Revocations by number, so that a token checked while its device was revoked is not held afterwards:
    /// the device's last revocation, and below `floor` every device (the table is bounded).
    private let revocations = Mutex(Revocations())

    private struct Revocations {
        var count: UInt64 = 0
        var floor: UInt64 = 0
        var last: [Key: UInt64] = [:]
    }

    private static let rememberedRevocations = 4096

    init(gateway: DeviceGateway) {
        self.gateway = gateway
    }

    func follow(_ bus: EventBus) {
        bus.observe { [weak self] event in self?.handle(event) }
    }

    /// Registers a connection's authority over a device; the id it returns releases it.
    func hold(_ hold: Hold) -> UInt64 {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let key = Key(tenantID: hold.identity.tenantID, deviceID: hold.identity.deviceID)
        holds.withLock { $0[key, default: [:]][id] = hold }
        return id
    }

    func release(_ id: UInt64, _ identity: DeviceIdentity) {
        let key = Key(tenantID: identity.tenantID, deviceID: identity.deviceID)
        holds.withLock { holds in
            holds[key]?[id] = nil
            if holds[key]?.isEmpty == true { holds[key] = nil }
        }
    }

    /// The number of revocations so far: read before a token is checked, compared by `revokedSince`.
    func epoch() -> UInt64 {
        revocations.withLock { $0.count }
    }

    /// Whether `identity`'s device was revoked (credentials, deletion, ban, disconnect) after `epoch`.
    func revokedSince(_ epoch: UInt64, _ identity: DeviceIdentity) -> Bool {
        let key = Key(tenantID: identity.tenantID, deviceID: identity.deviceID)
        return revocations.withLock { $0.floor > epoch || ($0.last[key] ?? 0) > epoch }
    }

    func handle(_ event: DomainEvent) {
        switch event {
        case .deviceUpdated(let device, .keysRotated), .deviceUpdated(let device, .authentication):
            revoke(device.tenantID, device.id, "The device's credentials changed.")
        case .deviceUpdated(let device, .status):
            recheck { $0 == Key(tenantID: device.tenantID, deviceID: device.id) }
        case .deviceDeleted(let tenantID, let deviceID):
            revoke(tenantID, deviceID, "The device was deleted.")
        case .accessListChanged(let tenantID, _), .ipFilterChanged(let tenantID, _):
            recheck { $0.tenantID == tenantID }
        case .groupChanged(let group):
            recheck { $0.tenantID == group.tenantID }
        case .tenantDeleted(let tenantID):
            for key in keys(where: { $0.tenantID == tenantID }) {
                revoke(key.tenantID, key.deviceID, "The tenant was deleted.")
            }
        case .banAdded(let ban):
            if case .device(let tenantID, let deviceID) = ban.subject {
                revoke(tenantID, deviceID, "Banned (ban \(ban.id)).")
            }
        case .disconnectRequested(let tenantID, let deviceID, let reason):
            revoke(tenantID, deviceID, reason)
        default:
            break
        }
    }

    private func keys(where matches: (Key) -> Bool) -> [Key] {
        holds.withLock { $0.keys.filter(matches) }
    }

    private func revoke(_ tenantID: TenantID, _ deviceID: DeviceID, _ reason: String) {
        revocations.withLock { revocations in
            revocations.count += 1
            if revocations.last.count >= Self.rememberedRevocations {
                revocations.last = [:]
                revocations.floor = revocations.count
            }
            revocations.last[Key(tenantID: tenantID, deviceID: deviceID)] = revocations.count
        }
        let removed = holds.withLock { $0.removeValue(forKey: Key(tenantID: tenantID, deviceID: deviceID)) } ?? [:]
        for (id, hold) in removed { hold.revoke(id, reason) }
    }

    private func recheck(_ matches: (Key) -> Bool) {
        let candidates = holds.withLock { holds in holds.filter { matches($0.key) }.flatMap { $0.value } }
        for (id, hold) in candidates {
            guard let refusal = gateway.revocation(of: hold.identity, peerAddress: hold.peerAddress) else { continue }
            release(id, hold.identity)
            hold.revoke(id, refusal.reason)
        }
    }
}
