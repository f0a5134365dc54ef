import CoreMetrics
public import Foundation
public import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenNATS
import WardenSecurity
public import WardenStore

/// Carries this node's events to the other nodes and theirs to this one (docs/scaling.md): each event this
/// node publishes goes out as a `ClusterNotice`; each notice from another node is turned back into its event
/// by reading the current value from the shared store, and published on this node's bus marked as from
/// another node, so that every cache that follows the bus follows the whole cluster. A revocation or ban made
/// anywhere closes the connections it concerns here within the time it takes to read one row.
///
/// Notices are applied one at a time in arrival order. The queue between NATS and the store holds at most
/// `bufferLimit` notices; past it new ones are dropped and counted (`warden_cluster_events_dropped_total`).
/// Whatever may have been missed — notices dropped, or sent while this node was away from NATS — is made up
/// for by reading the store again (`resynchronize`, the caches the server names), in the same queue, so that
/// no notice applied after it is undone by it; until that is done the node is not ready. So is a notice whose
/// change could not be read from the store. Notices this node could not send (NATS away, its buffer full), or
/// that a lost connection may have taken with it, are made up for on the other nodes: once it can, this node
/// asks them all to read the store again (`warden.resynchronize`).
public final class ClusterEvents: Sendable {
    private enum Work: Sendable {
        case notice(ClusterNotice)
        case resynchronize
    }

    private let node: UUID
    private let nats: NATSClient
    private let bus: EventBus
    private let store: any HubStore
    private let logger: Logger
    private let resynchronize: @Sendable () async throws -> Void
    private let work: AsyncStream<Work>
    private let queue: AsyncStream<Work>.Continuation
    /// Set when something may have been missed, cleared once the store has been read again.
    private let behind = Atomic(true)
    /// Set when a notice was dropped: the marker that reads the store again goes behind what is queued as soon
    /// as there is room.
    private let markerOwed = Atomic(false)
    /// Set while a marker is queued and not yet begun: one reading covers every reason to read that came before
    /// it began, so no second one is queued (N nodes asking each other after NATS restarts read once each).
    private let markerQueued = Atomic(false)
    /// Set when this node's notices may not have reached the other nodes: it asks them to read the store again
    /// at its next successful send or connection.
    private let requestOwed = Atomic(false)
    private let hasConnected = Atomic(false)
    private let sent = Counter(label: "warden_cluster_events_sent_total")
    private let applied = Counter(label: "warden_cluster_events_applied_total")
    private let dropped = Counter(label: "warden_cluster_events_dropped_total")
    private let unsent = Counter(label: "warden_cluster_events_unsent_total")
    private let unreadable = Counter(label: "warden_cluster_events_unreadable_total")
    private let resynchronized = Counter(label: "warden_cluster_resynchronizations_total")

    public init(
        node: UUID, nats: NATSClient, bus: EventBus, store: any HubStore, logger: Logger, bufferLimit: Int = 10_000,
        resynchronize: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.node = node
        self.nats = nats
        self.bus = bus
        self.store = store
        self.logger = logger
        self.resynchronize = resynchronize
        (work, queue) = AsyncStream.makeStream(of: Work.self, bufferingPolicy: .bufferingOldest(bufferLimit))
    }

    /// Whether this node may have missed another node's change and not yet read the store again.
    public var isBehind: Bool { behind.load(ordering: .relaxed) }

    /// Sends this node's events from now on and takes the other nodes'.
    public func start() {
        bus.observeThisNode { [weak self] event in self?.send(event) }
        nats.subscribe(ClusterSubject.events) { [weak self] message in self?.receive(message) }
        nats.subscribe(ClusterSubject.resynchronize) { [weak self] message in
            guard let self, message.payload.readableBytes == 16,
                message.payload.getBytes(at: message.payload.readerIndex, length: 16) != Self.bytes(of: node)
            else { return }
            fallBehind()
        }
    }

    /// The connection to NATS is (again) up: what was sent while it was not is read from the store; after a
    /// lost connection (or notices that could not go), the other nodes are asked to do the same.
    public func connected() {
        fallBehind()
        if hasConnected.exchange(true, ordering: .relaxed) { requestOwed.store(true, ordering: .relaxed) }
        askOthersIfOwed()
    }

    /// Something may have been missed: the store is read again behind what is queued.
    private func fallBehind() {
        behind.store(true, ordering: .relaxed)
        queueMarker()
    }

    /// Queues the marker that reads the store again, unless one is queued and not yet begun; when the queue is
    /// full, it goes as soon as there is room.
    private func queueMarker() {
        guard !markerQueued.exchange(true, ordering: .relaxed) else { return }
        if case .dropped = queue.yield(.resynchronize) {
            markerQueued.store(false, ordering: .relaxed)
            markerOwed.store(true, ordering: .relaxed)
        }
    }

    /// Asks every other node to read the store again, if this node owes them that.
    private func askOthersIfOwed() {
        guard requestOwed.exchange(false, ordering: .relaxed) else { return }
        if !nats.publish(ClusterSubject.resynchronize, payload: ByteBuffer(bytes: Self.bytes(of: node))) {
            requestOwed.store(true, ordering: .relaxed)
        }
    }

    private static func bytes(of node: UUID) -> [UInt8] {
        withUnsafeBytes(of: node.uuid) { Array($0) }
    }

    /// Applies the other nodes' notices until the service group stops.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                // A request to the other nodes that could not go (the outbound buffer full, the node quiet since)
                // is tried again every second.
                group.addTask { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        self?.askOthersIfOwed()
                    }
                }
                // The store is read again where the marker stands: after every notice queued before it, so that
                // none of those, applied later, undoes what the reading found.
                for await item in work {
                    switch item {
                    case .notice(let notice): await apply(notice)
                    case .resynchronize:
                        markerQueued.store(false, ordering: .relaxed)
                        await catchUp()
                    }
                    if markerOwed.exchange(false, ordering: .relaxed) { queueMarker() }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.queue.finish()
        }
    }

    private func apply(_ notice: ClusterNotice) async {
        do {
            if let event = try await event(for: notice) {
                bus.publish(event, from: .otherNode)
                applied.increment()
            }
        } catch {
            logger.error(
                "A change made on another node could not be read from the store; reading everything again",
                metadata: ["kind": "\(notice.kind.rawValue)", "error": "\(error)"])
            behind.store(true, ordering: .relaxed)
            markerOwed.store(true, ordering: .relaxed)
        }
    }

    /// Reads the store again; on failure the node stays behind (not ready) and tries again with the next item
    /// or in a second.
    private func catchUp() async {
        behind.store(false, ordering: .relaxed)
        do {
            try await resynchronize()
            resynchronized.increment()
        } catch {
            behind.store(true, ordering: .relaxed)
            logger.error("Could not read the store again after missing changes", metadata: ["error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            queueMarker()
        }
    }

    private func send(_ event: DomainEvent) {
        guard let notice = ClusterNotice(event, origin: node), let json = try? JSONEncoder().encode(notice) else {
            return
        }
        if nats.publish(ClusterSubject.events, payload: ByteBuffer(bytes: json)) {
            sent.increment()
            askOthersIfOwed()
        } else {
            unsent.increment()
            requestOwed.store(true, ordering: .relaxed)
        }
    }

    private func receive(_ message: NATSMessage) {
        guard let notice = try? JSONDecoder().decode(ClusterNotice.self, from: Data(message.payload.readableBytesView))
        else {
            unreadable.increment()
            return
        }
        guard notice.origin != node else { return }
        if case .dropped = queue.yield(.notice(notice)) {
            dropped.increment()
            // Made up for by reading the store again once the queue has room.
            markerOwed.store(true, ordering: .relaxed)
            if !behind.exchange(true, ordering: .relaxed) {
                logger.error("Changes made on other nodes were dropped: the queue of notices is full")
            }
        }
    }

    /// The event a notice stands for, as the store has it now; nil when the thing is gone since (its deletion's
    /// notice follows).
    func event(for notice: ClusterNotice) async throws -> DomainEvent? {
        let tenant = try notice.tenant.map { text throws(WardenError) in try TenantID(text) }
        let device = try notice.device.map { text throws(WardenError) in try DeviceID(text) }
        func required<T>(_ value: T?) throws(WardenError) -> T {
            guard let value else { throw WardenError(.requestInvalidField, "A notice lacks a field its kind needs.") }
            return value
        }
        switch notice.kind {
        case .tenantCreated:
            return try await store.tenant(required(tenant)).map { .tenantCreated($0) }
        case .tenantDeleted:
            return .tenantDeleted(try required(tenant))
        case .deviceCreated:
            return try await store.device(required(tenant), required(device)).map { .deviceCreated($0) }
        case .deviceUpdated:
            let change = notice.detail.flatMap(DeviceChange.init(rawValue:)) ?? .attributes
            return try await store.device(required(tenant), required(device)).map { .deviceUpdated($0, change) }
        case .deviceDeleted:
            return .deviceDeleted(try required(tenant), try required(device))
        case .groupChanged:
            return try await store.group(required(tenant), GroupName(required(notice.name))).map { .groupChanged($0) }
        case .groupDeleted:
            return .groupDeleted(try required(tenant), try GroupName(required(notice.name)))
        case .accessListChanged:
            let tenantID = try required(tenant)
            return .accessListChanged(tenantID, try await store.accessList(tenantID))
        case .ipFilterChanged:
            let tenantID = try required(tenant)
            return .ipFilterChanged(tenantID, try await store.ipFilter(tenantID))
        case .policyChanged:
            let name = try PolicyName(required(notice.name))
            return try await store.policies(required(tenant)).first { $0.name == name }.map { .policyChanged($0) }
        case .policyDeleted:
            return .policyDeleted(try required(tenant), try PolicyName(required(notice.name)))
        case .certificateAuthorityChanged:
            let name = try CAName(required(notice.name))
            return try await store.certificateAuthorities(required(tenant)).first { $0.name == name }
                .map { .certificateAuthorityChanged($0) }
        case .certificateAuthorityDeleted:
            return .certificateAuthorityDeleted(try required(tenant), try CAName(required(notice.name)))
        case .certificateRevoked:
            return try await store.issuedCertificate(required(tenant), serial: required(notice.id))
                .map { .certificateRevoked($0) }
        case .revocationListChanged:
            return try await revocationList(required(tenant), CAName(required(notice.name))).map {
                .revocationListChanged($0)
            }
        case .authorizationPolicyChanged:
            // total: nil for text that is not a number in range.
            guard let number = notice.id.flatMap({ Int($0) }) else { return nil }
            return try await store.policyVersion(required(tenant), number).map { .authorizationPolicyChanged($0) }
        case .twinReportedChanged:
            return .twinReportedChanged(try required(tenant), try required(device))
        case .enrollmentChanged:
            return try await store.enrollment(required(tenant), enrollmentKind(required(notice.name)))
                .map { .enrollmentChanged($0) }
        case .enrollmentDeleted:
            return .enrollmentDeleted(try required(tenant), try enrollmentKind(required(notice.name)))
        case .banAdded:
            // The store's ban, not the notice's fields: a notice cannot put in force a ban the store does not
            // hold (a forged `0.0.0.0/0` on the NATS network).
            let id = try required(notice.id)
            return try await store.bans().first { $0.id == id }.map { .banAdded($0) }
        case .banRemoved:
            // Lifted only once the store no longer holds it; the notice's subject says which table to clear.
            let id = try required(notice.id)
            guard try await !store.bans().contains(where: { $0.id == id }) else { return nil }
            return .banRemoved(
                Ban(
                    id: id, subject: try Ban.Subject(kind: required(notice.detail), value: required(notice.name)),
                    reason: notice.text ?? "", createdAt: notice.at ?? Date(), expiresAt: notice.until,
                    createdBy: notice.by ?? "", alertID: notice.alert))
        case .alertResolved:
            return try await store.alert(required(notice.id)).map { .alertChanged($0) }
        case .quarantined:
            let (tenantID, deviceID) = (try required(tenant), try required(device))
            return try await store.quarantines().first { $0.tenantID == tenantID && $0.deviceID == deviceID }
                .map { .quarantined($0) }
        case .released:
            return .released(try required(tenant), try required(device))
        case .defenderRulesChanged:
            // The document the store holds now (nil: the platform's rules), whatever the notice says.
            let tenantID = try required(tenant)
            return .defenderRulesChanged(
                tenantID, try await store.defenderRules().first { $0.tenantID == tenantID }?.text)
        case .disconnectRequested:
            return .disconnectRequested(try required(tenant), try required(device), reason: notice.detail ?? "")
        case .twinChanged:
            let (tenantID, deviceID) = (try required(tenant), try required(device))
            let patch = try notice.text.map { try JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) }
            return .twinChanged(
                tenantID, deviceID, twin: try await store.twin(tenantID, deviceID), desiredPatch: patch)
        case .principalsChanged:
            return .accessChanged(.principals)
        case .signedOut:
            return .accessChanged(.signedOut(session: try required(notice.id), until: try required(notice.until)))
        case .tokensRevoked:
            return .accessChanged(.tokensRevoked(userID: try required(notice.id), before: try required(notice.until)))
        case .cloudToDeviceChanged:
            // total: nil for text that is not a number in range.
            guard let sequence = notice.id.flatMap({ Int64($0) }) else { return nil }
            let (tenantID, deviceID) = (try required(tenant), try required(device))
            let message = try await store.cloudToDeviceMessage(sequence: sequence)
            return .cloudToDeviceChanged(
                tenantID, deviceID, sequence: sequence,
                message: message.flatMap { $0.tenantID == tenantID && $0.deviceID == deviceID ? $0 : nil })
        }
    }

    /// The external CA's CRL in force as the store keeps it (its DER, read against the CA's certificate).
    private func revocationList(_ tenantID: TenantID, _ name: CAName) async throws -> RevocationListState? {
        guard let authority = try await store.certificateAuthorities(tenantID).first(where: { $0.name == name }),
            let certificate = CertificateAuthorityCheck.certificate(pem: authority.certificatePEM),
            let stored = try await store.revocationLists().first(where: {
                $0.tenantID == tenantID && $0.authority == name
            })
        else { return nil }
        let list = try ExternalRevocationList(bytes: stored.der, issuer: certificate)
        return RevocationListState(
            tenantID: tenantID, authority: name, issuer: authority.thumbprint, serials: list.serials,
            thisUpdate: list.thisUpdate, nextUpdate: list.nextUpdate, number: list.number, source: stored.source,
            updatedAt: stored.updatedAt)
    }

    /// `group/{name}` or `individual/{registration id}` (`Enrollment.Kind.reference`).
    private func enrollmentKind(_ reference: String) throws(WardenError) -> Enrollment.Kind {
        if reference.hasPrefix("group/") { return .group(try EnrollmentGroupName(String(reference.dropFirst(6)))) }
        if reference.hasPrefix("individual/") {
            return .individual(try DeviceID(String(reference.dropFirst(11))))
        }
        throw WardenError(.requestInvalidField, "An enrollment reference is group/{name} or individual/{id}.")
    }
}
