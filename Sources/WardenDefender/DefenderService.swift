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
        /// Accepted connections of one client (tenant and principal) within `flappingWindow` that raise a
        /// flapping alert (EMQX's flapping detection: a client that keeps reconnecting).
        public var flappingThreshold = 15
        public var flappingWindow: TimeInterval = 60
        /// Seconds the client id is banned for; nil bans nobody by itself.
        public var flappingBan: TimeInterval?
        /// Sources (addresses, clients) counted at once; past it, the idle ones are dropped first.
        public var maximumTrackedSources = 65_536

        public init() {}
    }

    /// The rules' counters, under a lock of their own: the connection path reads the bans, never waits for these.
    struct Counts {
        /// Each rule's recent events per source.
        var windows: [String: [String: WindowCount]] = [:]
        /// Rules firing now on a subject, so that a burst raises one alert.
        var raising: Set<String> = []
    }

    /// Alerts raised at once, at most; a rule firing beyond it is counted again at its next burst.
    static let maximumRaising = 256
    /// Bans the Defender puts in force by itself, at most; beyond it, it alerts only.
    static let maximumAutomaticBans = 10_000

    let store: any DefenderStore
    let bus: EventBus
    let settings: Settings
    let clock: any WardenClock
    let banIndex = Mutex(BanIndex())
    let counts = Mutex(Counts())
    private let refused = Mutex<[String: Counter]>([:])
    private let bansGauge = Gauge(label: "warden_defender_bans_active")
    private let alertsGauge = Gauge(label: "warden_defender_alerts_open")

    /// The rule of refused authentications from one source address.
    public static let authFailuresRule = "auth.failures.address"
    /// The rule of a client that keeps reconnecting.
    public static let flappingRule = "connection.flapping"
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
        banIndex.withLock { index in
            for ban in bans { index.add(ban) }
        }
        bansGauge.record(bans.count)
        alertsGauge.record(try await store.countAlerts(status: .open))
    }

    /// Keeps the bans current and feeds the rules.
    public func follow(_ bus: EventBus) {
        bus.observe { [weak self] event in
            guard let self else { return }
            switch event {
            case .banAdded(let ban):
                let count = banIndex.withLock { index in
                    index.add(ban)
                    return index.count
                }
                bansGauge.record(count)
            case .banRemoved(let ban):
                let count = banIndex.withLock { index in
                    index.remove(ban.id)
                    return index.count
                }
                bansGauge.record(count)
            // A refusal a ban caused is not a guess at a credential: counting it would let a banned device
            // behind a NAT get the whole address banned.
            case .authentication(let record) where !record.isAccepted && record.failure != .authBanned:
                countFailure(from: record.peerAddress, at: record.at)
            // Connections only: the HTTPS device API authenticates every request.
            case .authentication(let record) where record.isAccepted && record.protocolName != "https":
                if let tenantID = record.tenantID { countConnect(of: record.principal, in: tenantID, at: record.at) }
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
        return banIndex.withLock { $0.byID.values.filter { $0.isActive(at: now) } }
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
        let now = clock.now()
        return refusing(banIndex.withLock { $0.ban(of: address, at: now) })
    }

    public func ban(ofClientID clientID: String) -> Ban? {
        let now = clock.now()
        return refusing(banIndex.withLock { $0.ban(ofClientID: clientID, at: now) })
    }

    public func ban(of deviceID: DeviceID, in tenantID: TenantID) -> Ban? {
        let now = clock.now()
        return refusing(banIndex.withLock { $0.ban(of: deviceID, in: tenantID, at: now) })
    }

    /// `ban`, counted by its kind when there is one.
    private func refusing(_ ban: Ban?) -> Ban? {
        guard let ban else { return nil }
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
        alertsGauge.record(try await store.countAlerts(status: .open))
        return alert
    }

    /// Raises `rule` on `subject`, or counts it again on the alert not yet resolved.
    func raise(
        _ rule: String, on subject: String, severity: Alert.Severity, tenantID: TenantID?, summary: String
    ) async throws -> Alert {
        let now = clock.now()
        let current = try await store.unresolvedAlert(rule: rule, subject: subject)
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
        alertsGauge.record(try await store.countAlerts(status: .open))
        return alert
    }

    // MARK: Rules

    /// Counts a refused authentication from `address`; the threshold-th within the window raises the alert (and
    /// bans the address when the settings say so), once per burst.
    private func countFailure(from address: IPAddress, at now: Date) {
        count(
            Self.authFailuresRule, key: address.description, threshold: settings.authFailureThreshold,
            window: settings.authFailureWindow, at: now
        ) { [self] in
            let summary =
                "\(settings.authFailureThreshold) refused authentications from \(address) within "
                + "\(Int(clamping: settings.authFailureWindow)) s."
            let range = try? CIDR(address.description + (address.description.contains(":") ? "/128" : "/32"))
            let banned = banIndex.withLock { $0.ban(of: address, at: now) } != nil
            await fired(
                Self.authFailuresRule, on: "address \(address)", severity: .high, tenantID: nil, summary: summary,
                ban: settings.authFailureBan.flatMap { lifetime in
                    range.flatMap { banned ? nil : (.address($0), lifetime) }
                })
        }
    }

    /// Counts an accepted connection of `principal` in `tenantID`; the threshold-th within the window raises the
    /// flapping alert (and bans the device, in its tenant only, when the settings say so), once per burst.
    private func countConnect(of principal: String, in tenantID: TenantID, at now: Date) {
        let key = "\(tenantID)/\(principal)"
        count(
            Self.flappingRule, key: key, threshold: settings.flappingThreshold, window: settings.flappingWindow,
            at: now
        ) { [self] in
            let summary =
                "'\(principal)' connected \(settings.flappingThreshold) times within "
                + "\(Int(clamping: settings.flappingWindow)) s."
            // A device is banned in its own tenant (a client id would be refused in every tenant); a service's
            // principal (`$service/{policy}`) names no device.
            let device = principal.hasPrefix("$") ? nil : try? DeviceID(principal)
            let banned = device.map { id in banIndex.withLock { $0.ban(of: id, in: tenantID, at: now) } != nil }
            await fired(
                Self.flappingRule, on: "client \(key)", severity: .medium, tenantID: tenantID, summary: summary,
                ban: settings.flappingBan.flatMap { lifetime in
                    device.flatMap { banned == true ? nil : (.device(tenantID, $0), lifetime) }
                })
        }
    }

    /// The sliding window of one rule: the threshold-th event of `key` within `window` runs `fire` in a task
    /// of its own, once per burst (the count starts again from nothing). At most `maximumTrackedSources`
    /// sources per rule are counted; past it, the idlest go first.
    private func count(
        _ rule: String, key: String, threshold: Int, window: TimeInterval, at now: Date,
        fire: @escaping @Sendable () async -> Void
    ) {
        let slot = rule + " " + key
        let fires = counts.withLock { counts -> Bool in
            var windows = counts.windows[rule] ?? [:]
            if windows[key] == nil, windows.count >= settings.maximumTrackedSources {
                windows = windows.filter { now.timeIntervalSince($0.value.lastWindowStart) < 2 * window }
                if windows.count >= settings.maximumTrackedSources { windows.removeAll() }
            }
            var counter = windows[key] ?? WindowCount(at: now)
            let estimate = counter.add(at: now, window: window)
            let reached = estimate >= Double(threshold)
            windows[key] = reached ? nil : counter
            counts.windows[rule] = windows
            guard reached, counts.raising.count < Self.maximumRaising else { return false }
            return counts.raising.insert(slot).inserted
        }
        guard fires else { return }
        Task {
            await fire()
            _ = self.counts.withLock { $0.raising.remove(slot) }
        }
    }

    /// Raises the alert, then puts `ban` in force with it (unless the Defender already keeps its most bans).
    private func fired(
        _ rule: String, on subject: String, severity: Alert.Severity, tenantID: TenantID?, summary: String,
        ban: (Ban.Subject, TimeInterval)?
    ) async {
        guard let alert = try? await raise(rule, on: subject, severity: severity, tenantID: tenantID, summary: summary),
            let (banned, lifetime) = ban,
            banIndex.withLock({ index in index.byID.values.filter { $0.createdBy.hasPrefix("defender:") }.count })
                < Self.maximumAutomaticBans
        else { return }
        _ = try? await addBan(banned, reason: summary, lifetime: lifetime, by: "defender:\(rule)", alertID: alert.id)
    }
}
