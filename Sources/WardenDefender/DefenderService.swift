public import Foundation
import Metrics
public import ServiceLifecycle
import Synchronization
public import WardenCore
public import WardenStore

/// The Defender (issue 16): bans in force, answered from memory to every listener and CONNECT (the broker's and
/// the HTTPS listener's `ConnectionGate`), alerts with their lifecycle, and the rules that watch the bus.
///
/// A rule counts on the bus's observer (a lock and an array, off the store) and raises in a task of its own, so
/// detection costs the connection path nothing it waits for.
public final class DefenderService: ConnectionGate, Service, Sendable {
    public struct Settings: Sendable {
        /// Refused authentications from one address within `authFailureWindow` that raise an alert.
        public var authFailureThreshold = 20
        public var authFailureWindow: TimeInterval = 60
        /// Seconds an address that raised the alert is banned for; nil bans nobody by itself.
        public var authFailureBan: TimeInterval?
        /// Addresses whose failures are counted at once; past it, the oldest counts are dropped.
        public var maximumTrackedAddresses = 65_536

        public init() {}
    }

    struct State {
        var bans: [String: Ban] = [:]
        var failures: [IPAddress: [Date]] = [:]
        /// Rules firing now on a subject, so that a burst raises one alert.
        var raising: Set<String> = []
    }

    let store: any DefenderStore
    let bus: EventBus
    let settings: Settings
    let clock: any WardenClock
    let state = Mutex(State())
    private let refused = Mutex<[String: Counter]>([:])
    private let bansGauge = Gauge(label: "warden_defender_bans_active")
    private let alertsGauge = Gauge(label: "warden_defender_alerts_open")

    /// The rule of refused authentications from one source address.
    public static let authFailuresRule = "auth.failures.address"
    /// Most alerts a listing returns.
    public static let maximumListed = 1_000

    public init(store: any DefenderStore, bus: EventBus, settings: Settings, clock: any WardenClock = SystemClock()) {
        self.store = store
        self.bus = bus
        self.settings = settings
        self.clock = clock
    }

    /// Reads the bans in force and puts the quarantined devices' levels on the bus (start-up, before listeners
    /// open).
    public func load() async throws {
        for quarantine in try await store.quarantines() { bus.publish(.quarantined(quarantine)) }
        let bans = try await store.bans()
        state.withLock { state in
            for ban in bans { state.bans[ban.id] = ban }
        }
        bansGauge.record(bans.count)
        alertsGauge.record(try await store.alerts(status: .open, limit: Self.maximumListed).count)
    }

    /// Keeps the bans current and feeds the rules.
    public func follow(_ bus: EventBus) {
        bus.observe { [weak self] event in
            guard let self else { return }
            switch event {
            case .banAdded(let ban):
                let count = state.withLock { state in
                    state.bans[ban.id] = ban
                    return state.bans.count
                }
                bansGauge.record(count)
            case .banRemoved(let ban):
                let count = state.withLock { state in
                    state.bans[ban.id] = nil
                    return state.bans.count
                }
                bansGauge.record(count)
            case .authentication(let record) where !record.isAccepted:
                countFailure(from: record.peerAddress, at: record.at)
            default:
                break
            }
        }
    }

    /// Removes expired bans from the store every 10 seconds (they stop refusing when they expire, before that).
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let expired = try? await self.store.removeBans(expiredBefore: self.clock.now()) {
                    for ban in expired { self.bus.publish(.banRemoved(ban)) }
                }
                try await Task.sleep(for: .seconds(10))
            }
        }
    }

    // MARK: Bans

    /// Puts a ban in force; it refuses at once, everywhere (`DomainEvent.banAdded`).
    public func addBan(
        _ subject: Ban.Subject, reason: String, lifetime: TimeInterval?, by author: String, alertID: String? = nil
    ) async throws -> Ban {
        guard !reason.isEmpty, reason.utf8.count <= 1_024 else {
            throw WardenError(.requestInvalidField, "A ban's reason is 1 to 1024 bytes.")
        }
        if let lifetime, !(1...31_536_000).contains(lifetime) {
            throw WardenError(.requestInvalidField, "A ban lasts 1 second to 365 days, or until removed.")
        }
        let now = clock.now()
        let ban = Ban(
            id: Hex.encode(SecretBytes.random(count: 8).bytes), subject: subject, reason: reason, createdAt: now,
            expiresAt: lifetime.map { now.addingTimeInterval($0) }, createdBy: author, alertID: alertID)
        try await store.addBan(ban)
        bus.publish(.banAdded(ban))
        return ban
    }

    /// Lifts a ban; `ban.not_found`.
    public func removeBan(_ id: String) async throws -> Ban {
        let ban = try await store.removeBan(id)
        bus.publish(.banRemoved(ban))
        return ban
    }

    /// The bans in force now, oldest first.
    public func bans() -> [Ban] {
        let now = clock.now()
        return state.withLock { $0.bans.values.filter { $0.isActive(at: now) } }
            .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    // MARK: Quarantine

    /// Raises a device's risk level: the policy engine decides its live connections again at once (the shipped
    /// statements refuse its telemetry at `high` and `critical`); `device.not_found`.
    public func quarantine(
        _ deviceID: DeviceID, in tenantID: TenantID, level: String, reason: String, by author: String,
        alertID: String? = nil
    ) async throws -> Quarantine {
        guard Quarantine.levels.contains(level) else {
            throw WardenError(.requestInvalidField, "A quarantine's level is elevated, high or critical.")
        }
        guard !reason.isEmpty, reason.utf8.count <= 1_024 else {
            throw WardenError(.requestInvalidField, "A quarantine's reason is 1 to 1024 bytes.")
        }
        let quarantine = Quarantine(
            tenantID: tenantID, deviceID: deviceID, level: level, reason: reason, createdAt: clock.now(),
            createdBy: author, alertID: alertID)
        try await store.saveQuarantine(quarantine)
        bus.publish(.quarantined(quarantine))
        return quarantine
    }

    /// Brings a device back to `normal`; `device.not_found` when it was not quarantined.
    public func release(_ deviceID: DeviceID, in tenantID: TenantID) async throws -> Quarantine {
        guard let released = try await store.removeQuarantine(tenantID, deviceID) else {
            throw WardenError(.deviceNotFound, "Device '\(deviceID)' is not quarantined in '\(tenantID)'.")
        }
        bus.publish(.released(tenantID, deviceID))
        return released
    }

    /// The tenant's quarantined devices.
    public func quarantines(in tenantID: TenantID) async throws -> [Quarantine] {
        try await store.quarantines().filter { $0.tenantID == tenantID }
    }

    // MARK: ConnectionGate

    public func ban(of address: IPAddress) -> Ban? {
        refusing(
            state.withLock { state in
                state.bans.values.first { ban in
                    if case .address(let range) = ban.subject { range.contains(address) } else { false }
                }
            })
    }

    public func ban(ofClientID clientID: String) -> Ban? {
        refusing(state.withLock { $0.bans.values.first { $0.subject == .clientID(clientID) } })
    }

    public func ban(of deviceID: DeviceID, in tenantID: TenantID) -> Ban? {
        refusing(state.withLock { $0.bans.values.first { $0.subject == .device(tenantID, deviceID) } })
    }

    /// `ban` when it is in force, counted by its kind.
    private func refusing(_ ban: Ban?) -> Ban? {
        guard let ban, ban.isActive(at: clock.now()) else { return nil }
        let counter = refused.withLock { counters in
            if let counter = counters[ban.subject.kind] { return counter }
            let counter = Counter(label: "warden_defender_refused_total", dimensions: [("kind", ban.subject.kind)])
            counters[ban.subject.kind] = counter
            return counter
        }
        counter.increment()
        return ban
    }

    // MARK: Alerts

    /// The newest alerts first, of one status or all (at most 1,000).
    public func alerts(status: Alert.Status?) async throws -> [Alert] {
        try await store.alerts(status: status, limit: Self.maximumListed)
    }

    /// Acknowledges or resolves an alert; `alert.not_found`.
    public func setStatus(_ id: String, _ status: Alert.Status, by author: String) async throws -> Alert {
        guard var alert = try await store.alert(id) else {
            throw WardenError(.alertNotFound, "There is no alert '\(id)'.")
        }
        alert.status = status
        alert.changedBy = author
        alert.changedAt = clock.now()
        try await store.saveAlert(alert)
        bus.publish(.alertChanged(alert))
        alertsGauge.record(try await store.alerts(status: .open, limit: Self.maximumListed).count)
        return alert
    }

    /// Raises `rule` on `subject`, or counts it again on the alert not yet resolved.
    func raise(
        _ rule: String, on subject: String, severity: Alert.Severity, tenantID: TenantID?, summary: String
    ) async throws -> Alert {
        let now = clock.now()
        let current = try await store.alerts(status: nil, limit: Self.maximumListed).first {
            $0.rule == rule && $0.subject == subject && $0.status != .resolved
        }
        var alert =
            current
            ?? Alert(
                id: Hex.encode(SecretBytes.random(count: 8).bytes), tenantID: tenantID, rule: rule,
                severity: severity, subject: subject, summary: summary, count: 0, firstSeen: now, lastSeen: now)
        alert.count += 1
        alert.lastSeen = now
        alert.summary = summary
        try await store.saveAlert(alert)
        bus.publish(.alertChanged(alert))
        alertsGauge.record(try await store.alerts(status: .open, limit: Self.maximumListed).count)
        return alert
    }

    // MARK: Rules

    /// Counts a refused authentication from `address`; the threshold-th within the window raises the alert (and
    /// bans the address when the settings say so), once per burst.
    private func countFailure(from address: IPAddress, at now: Date) {
        let fires = state.withLock { state -> Bool in
            if state.failures[address] == nil, state.failures.count >= settings.maximumTrackedAddresses {
                state.failures = state.failures.filter { $0.value.last.map { now.timeIntervalSince($0) } ?? 0 < 60 }
                if state.failures.count >= settings.maximumTrackedAddresses { state.failures.removeAll() }
            }
            var recent = (state.failures[address] ?? []).filter {
                now.timeIntervalSince($0) < settings.authFailureWindow
            }
            recent.append(now)
            guard recent.count >= settings.authFailureThreshold else {
                state.failures[address] = recent
                return false
            }
            // The burst is counted: the next one starts from nothing.
            state.failures[address] = nil
            return state.raising.insert(Self.authFailuresRule + " " + address.description).inserted
        }
        guard fires else { return }
        Task { await self.authFailuresFired(address) }
    }

    private func authFailuresFired(_ address: IPAddress) async {
        defer { _ = state.withLock { $0.raising.remove(Self.authFailuresRule + " " + address.description) } }
        let summary =
            "\(settings.authFailureThreshold) refused authentications from \(address) within "
            + "\(Int(clamping: settings.authFailureWindow)) s."
        guard
            let alert = try? await raise(
                Self.authFailuresRule, on: "address \(address)", severity: .high, tenantID: nil, summary: summary)
        else { return }
        guard let lifetime = settings.authFailureBan, ban(of: address) == nil,
            let range = try? CIDR(address.description + (address.description.contains(":") ? "/128" : "/32"))
        else { return }
        _ = try? await addBan(
            .address(range), reason: summary, lifetime: lifetime, by: "defender:\(Self.authFailuresRule)",
            alertID: alert.id)
    }
}
