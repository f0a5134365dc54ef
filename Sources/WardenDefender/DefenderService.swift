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
        /// TCP connections from one address within `floodWindow` that raise a connection-flood alert.
        public var floodThreshold = 200
        public var floodWindow: TimeInterval = 10
        /// Seconds such an address is banned for; nil bans nobody by itself.
        public var floodBan: TimeInterval?
        /// The device rules of every tenant that did not change them (`defender.flapping.*` set the flapping one).
        public var deviceRules = DeviceRules()
        /// Seconds between two activity reports of a connection (the behaviour baselines' interval).
        public var sampleInterval: Double = 10
        /// Sources (addresses, clients) counted at once per rule; past it, the idle ones are dropped first.
        public var maximumTrackedSources = 65_536
        /// Devices whose behaviour is learned at once; past it, the longest unseen are forgotten first.
        public var maximumProfiles = 100_000
        /// Seconds between two scheduled audits (the first one this long after start); nil: on demand only.
        public var auditInterval: TimeInterval? = 86_400
        /// Whether alerts are delivered to a webhook (the posture report's evidence).
        public var webhookConfigured = false

        public init() {}
    }

    /// The rules' counters, under a lock of their own: the connection path reads the bans, never waits for these.
    struct Counts {
        /// Each rule's recent events per source.
        var windows: [String: [String: WindowCount]] = [:]
        /// Rules firing now on a subject, so that a burst raises one alert; and how many per tenant (nil: the
        /// address rules).
        var raising: Set<String> = []
        var raisingPerTenant: [TenantID?: Int] = [:]
        /// Takeovers of each client's session since the day's count began (the audit's conflicting ids).
        var takeovers: [String: (count: Int, since: Date)] = [:]
        /// On a node of a cluster (`shareCounts`): this node, the other nodes' estimates of the same windows, by
        /// rule and source, each node's last word until it goes stale; and the windows that fired here since the
        /// last share.
        var node: UUID?
        var elsewhere: [String: [String: [UUID: (estimate: Double, until: Date)]]] = [:]
        var fired: [SharedCounts.Key] = []
        /// The windows whose estimate reached a tenth of their threshold when last counted: what is shared, with
        /// what their rule does when the other nodes' words alone bring the sum to the threshold.
        var nearThreshold: [SharedCounts.Key: Firing] = [:]
        /// When each window fired here lately: other nodes' words about it, sent before they heard, are not taken.
        var firedHere: [SharedCounts.Key: Date] = [:]
        /// Shares since `elsewhere` was last swept of stale words.
        var sharesSinceSweep = 0

        var isSharing: Bool { node != nil }

        /// The other nodes' words about `window` that still count.
        func elsewhere(_ window: SharedCounts.Key, at now: Date) -> (sum: Double, nodes: [UUID]) {
            let fresh = elsewhere[window.rule]?[window.key]?.filter { $0.value.until > now } ?? [:]
            return (fresh.values.reduce(0) { $0 + $1.estimate }, Array(fresh.keys))
        }

        /// Starts `window` again from nothing here, and tells the other nodes at the next share that it fired.
        mutating func fire(_ window: SharedCounts.Key, at now: Date) {
            windows[window.rule]?[window.key] = nil
            elsewhere[window.rule]?[window.key] = nil
            guard isSharing else { return }
            nearThreshold[window] = nil
            if fired.count < DefenderService.maximumSharedFired {
                fired.append(window)
                firedHere[window] = now
            }
        }
    }

    /// What a rule does when a window reaches its threshold (raises its alert, and may ban), for its tenant; the
    /// estimate this node last shared of the window, and since when the other nodes' words have brought it to its
    /// threshold while a lower node was to fire.
    struct Firing {
        let tenant: TenantID?
        let fire: @Sendable () async -> Void
        var shared: Double?
        var waitingSince: Date?
    }

    /// Alerts raised at once, at most, in all, per tenant, and for the address rules (reserved, so that no
    /// tenant's rules starve them); a rule firing beyond it is counted again at its next burst.
    static let maximumRaising = 256
    static let maximumRaisingPerTenant = 32
    static let maximumRaisingForAddresses = 64
    /// Address bans the Defender puts in force by itself, at most, and device bans per tenant; beyond them it
    /// alerts only.
    static let maximumAutomaticBans = 10_000
    static let maximumAutomaticBansPerTenant = 1_000

    let store: any DefenderStore
    let bus: EventBus
    let settings: Settings
    let clock: any WardenClock
    /// Disables devices (the registry's write path), for the `disable` response.
    let control: (any DeviceControl)?
    /// Whether this node runs the scheduled audit (one node of a cluster does).
    let duty: PeriodicDuty
    let banIndex = Mutex(BanIndex())
    let counts = Mutex(Counts())
    /// Each tenant's rules where its document changed them.
    let tenantRules = Mutex<[TenantID: DeviceRules]>([:])
    /// What each device's behaviour taught, by `{tenant}/{device}`.
    let profiles = Mutex<[String: DeviceProfile]>([:])
    /// Quarantined devices' levels, by `{tenant}/{device}`, so that a rule does not quarantine twice.
    let quarantined = Mutex<[String: String]>([:])
    /// Devices' connections not yet written to the store (the inventory's), by `{tenant}/{device}`.
    let unsavedSightings = Mutex<[String: DeviceConnection]>([:])
    /// What devices sent over the HTTPS device API since their last sample, by `{tenant}/{device}`.
    let requestTallies = Mutex<[DeviceKey: RequestTally]>([:])
    /// How the audit gathers its facts, once the server has set it.
    let auditGathering = Mutex<AuditGathering?>(nil)
    /// The facts the last report gathered, and when (reports reuse them for a minute).
    let recentAuditFacts = Mutex<(Date, AuditFacts)?>(nil)
    private let refused = Mutex<[String: Counter]>([:])
    private let bansGauge = Gauge(label: "warden_defender_bans_active")
    let alertsGauge = Gauge(label: "warden_defender_alerts_open")

    /// The rule of refused authentications from one source address.
    public static let authFailuresRule = "auth.failures.address"
    /// The rule of many TCP connections from one source address.
    public static let floodRule = "connection.flood"
    /// Most alerts a listing returns.
    public static let maximumListed = 1_000

    public init(
        store: any DefenderStore, bus: EventBus, settings: Settings, control: (any DeviceControl)? = nil,
        clock: any WardenClock = SystemClock(), duty: PeriodicDuty = PeriodicDuty()
    ) {
        self.duty = duty
        self.store = store
        self.bus = bus
        self.settings = settings
        self.control = control
        self.clock = clock
    }

    /// Reads the bans, quarantines and tenants' rules in force again and puts the bans and quarantines that
    /// changed meanwhile on the bus as from another node (a node of a cluster that may have missed other nodes'
    /// notices): connections a new ban refuses close, and the policy sees a device's risk level as it is.
    public func reload() async throws {
        // Known before the store is read: a ban added here meanwhile is not taken for one lifted elsewhere.
        let known = banIndex.withLock { $0.byID }
        let stored = try await store.bans()
        let ids = Set(stored.map(\.id))
        let current = banIndex.withLock { $0.byID }
        for ban in stored where current[ban.id] == nil { bus.publish(.banAdded(ban), from: .otherNode) }
        for ban in known.values where !ids.contains(ban.id) { bus.publish(.banRemoved(ban), from: .otherNode) }

        let levels = quarantined.withLock { $0 }
        var held = Set<String>()
        for quarantine in try await store.quarantines() {
            let key = "\(quarantine.tenantID)/\(quarantine.deviceID)"
            held.insert(key)
            if levels[key] != quarantine.level { bus.publish(.quarantined(quarantine), from: .otherNode) }
        }
        // A tenant id holds no '/': what follows the first is the device id.
        for key in levels.keys where !held.contains(key) {
            guard let slash = key.firstIndex(of: "/"), let tenantID = try? TenantID(String(key[..<slash])),
                let deviceID = try? DeviceID(String(key[key.index(after: slash)...]))
            else { continue }
            bus.publish(.released(tenantID, deviceID), from: .otherNode)
        }
        let rules = try await store.defenderRules()
        for (tenantID, text) in rules { adopt(text, for: tenantID) }
        // A tenant whose rules went back to the defaults elsewhere has no row any more.
        let customized = Set(rules.map(\.tenantID))
        for tenantID in tenantRules.withLock({ Array($0.keys) }) where !customized.contains(tenantID) {
            adopt(nil, for: tenantID)
        }
    }

    /// Reads the bans in force and the tenants' rules, and puts the quarantined devices' levels on the bus
    /// (start-up, before listeners open).
    public func load() async throws {
        for quarantine in try await store.quarantines() {
            quarantined.withLock { $0["\(quarantine.tenantID)/\(quarantine.deviceID)"] = quarantine.level }
            bus.publish(.quarantined(quarantine))
        }
        for (tenantID, text) in try await store.defenderRules() { adopt(text, for: tenantID) }
        let bans = try await store.bans()
        banIndex.withLock { index in
            for ban in bans { index.add(ban) }
        }
        bansGauge.record(bans.count)
        alertsGauge.record(try await store.countAlerts(status: .open))
    }

    /// Keeps the bans, rules and quarantines current and feeds the rules.
    public func follow(_ bus: EventBus) {
        bus.observeWithOrigin { [weak self] event, origin in
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
            case .quarantined(let quarantine):
                quarantined.withLock { $0["\(quarantine.tenantID)/\(quarantine.deviceID)"] = quarantine.level }
            case .released(let tenantID, let deviceID):
                _ = quarantined.withLock { $0.removeValue(forKey: "\(tenantID)/\(deviceID)") }
            case .defenderRulesChanged(let tenantID, let text):
                adopt(text, for: tenantID)
            // Resolving a behaviour alert, on any node, accepts the device's new behaviour: its baseline learns
            // again from nothing on the node that holds it.
            case .alertChanged(let alert):
                if alert.status == .resolved, alert.rule.hasPrefix("behaviour."), alert.subject.hasPrefix("device ") {
                    profiles.withLock { $0[String(alert.subject.dropFirst("device ".count))]?.forgetBehaviour() }
                }
            // The store forgets a deleted device's quarantine (ON DELETE CASCADE): one made again starts afresh.
            case .deviceDeleted(let tenantID, let deviceID):
                _ = profiles.withLock { $0.removeValue(forKey: "\(tenantID)/\(deviceID)") }
                _ = quarantined.withLock { $0.removeValue(forKey: "\(tenantID)/\(deviceID)") }
            case .tenantDeleted(let tenantID):
                _ = tenantRules.withLock { $0.removeValue(forKey: tenantID) }
                quarantined.withLock { levels in
                    levels = levels.filter { !$0.key.hasPrefix("\(tenantID)/") }
                }
            // Rules count what happened here; another node counts its own.
            default:
                if origin == .thisNode { observe(event) }
            }
        }
    }

    /// Removes expired bans from the store every 10 seconds (they stop refusing when they expire, before that),
    /// writes the devices' connections seen since, and runs the audit when it is due.
    public func run() async throws {
        let start = clock.now()
        // Due an interval after the last audit, even one a previous run made (a daily restart still audits).
        let last = try? await latestAudit().finishedAt
        try? await cancelWhenGracefulShutdown {
            var nextAudit = self.settings.auditInterval.map { interval in
                max(start.addingTimeInterval(60), (last ?? start).addingTimeInterval(interval))
            }
            var nextUpkeep = start
            // Ticks as often as HTTPS devices' activity is sampled, at least every 10 seconds.
            let tick = min(10, max(1, self.settings.sampleInterval))
            while !Task.isCancelled {
                let now = self.clock.now()
                self.sampleRequests(at: now)
                if now >= nextUpkeep {
                    nextUpkeep = now.addingTimeInterval(10)
                    if let due = nextAudit, now >= due, let interval = self.settings.auditInterval {
                        if self.duty.isThisNode { _ = try? await self.audit() }
                        nextAudit = self.clock.now().addingTimeInterval(interval)
                    }
                    if let expired = try? await self.store.removeBans(expiredBefore: now) {
                        for ban in expired { self.bus.publish(.banRemoved(ban)) }
                    }
                    await self.saveSightings()
                }
                try await Task.sleep(for: .seconds(tick))
            }
        }
        // What the last interval saw is kept at a graceful stop.
        await saveSightings()
    }

    // MARK: Bans

    /// Puts a ban in force; it refuses at once, everywhere (`DomainEvent.banAdded`).
    public func addBan(
        _ subject: Ban.Subject, reason: String, lifetime: TimeInterval?, by author: String, alertID: String? = nil
    ) async throws -> Ban {
        let ban = try makeBan(subject, reason: reason, lifetime: lifetime, by: author, alertID: alertID)
        // One ban per device: a new one replaces what was in force (tenants' operators make device bans, so they
        // stay as many as the devices).
        let replaced = banIndex.withLock { index in index.byID.values.filter { $0.subject == subject } }
        try await store.addBan(ban)
        bus.publish(.banAdded(ban))
        if case .device = subject {
            for old in replaced { _ = try? await removeBan(old.id) }
        }
        return ban
    }

    /// A new ban in force from now; `request.invalid_field` for a reason or lifetime out of bounds.
    func makeBan(
        _ subject: Ban.Subject, reason: String, lifetime: TimeInterval?, by author: String, alertID: String?
    ) throws -> Ban {
        guard !reason.isEmpty, reason.utf8.count <= 1_024 else {
            throw WardenError(.requestInvalidField, "A ban's reason is 1 to 1024 bytes.")
        }
        if let lifetime, !(1...31_536_000).contains(lifetime) {
            throw WardenError(.requestInvalidField, "A ban lasts 1 second to 365 days, or until removed.")
        }
        let now = clock.now()
        return Ban(
            id: Hex.encode(SecretBytes.random(count: 8).bytes), subject: subject, reason: reason, createdAt: now,
            expiresAt: lifetime.map { now.addingTimeInterval($0) }, createdBy: author, alertID: alertID)
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

    /// Closes the device's live connections, on whichever node holds them (`DomainEvent.disconnectRequested`).
    public func disconnect(_ deviceID: DeviceID, in tenantID: TenantID, reason: String) {
        bus.publish(.disconnectRequested(tenantID, deviceID, reason: reason))
    }

    /// The tenant's quarantined devices.
    public func quarantines(in tenantID: TenantID) async throws -> [Quarantine] {
        try await store.quarantines().filter { $0.tenantID == tenantID }
    }

    // MARK: Rules documents

    /// The device rules in force in `tenantID`: the platform's, with what its document changes.
    public func rules(for tenantID: TenantID) -> DeviceRules {
        tenantRules.withLock { $0[tenantID] } ?? settings.deviceRules
    }

    /// Replaces a tenant's rules document (nil: back to the platform's rules); `request.invalid_field` naming the
    /// field of a document that does not read, before anything is stored.
    public func setRules(_ text: String?, for tenantID: TenantID) async throws -> DeviceRules {
        let rules = try text.map { text throws(WardenError) in try settings.deviceRules.applying(text) }
        try await store.saveDefenderRules(text, for: tenantID)
        bus.publish(.defenderRulesChanged(tenantID, text))
        return rules ?? settings.deviceRules
    }

    /// The tenant's document as stored, if it has one.
    public func rulesDocument(for tenantID: TenantID) async throws -> String? {
        try await store.defenderRules().first { $0.tenantID == tenantID }?.text
    }

    /// Takes a stored (so already checked) document into force.
    private func adopt(_ text: String?, for tenantID: TenantID) {
        let rules = text.flatMap { try? settings.deviceRules.applying($0) }
        tenantRules.withLock { $0[tenantID] = rules }
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

    /// The newest alerts first, of one status or all, of one tenant or all (at most 1,000).
    public func alerts(status: Alert.Status?, in tenantID: TenantID? = nil) async throws -> [Alert] {
        try await store.alerts(status: status, tenantID: tenantID, limit: Self.maximumListed)
    }

    /// Acknowledges or resolves an alert (of `tenantID` only, when given); `alert.not_found`. A resolved alert
    /// stays as it is: resolving it again changes nothing, acknowledging it is `alert.resolved` (its rule raises
    /// a new alert on the subject when it fires again).
    public func setStatus(_ id: String, _ status: Alert.Status, by author: String, in tenantID: TenantID? = nil)
        async throws -> Alert
    {
        guard let current = try await store.alert(id), tenantID == nil || current.tenantID == tenantID else {
            throw WardenError(.alertNotFound, "There is no alert '\(id)'.")
        }
        guard let alert = try await store.changeAlertStatus(id, to: status, by: author, at: clock.now()) else {
            // Resolved, here or on another node, before this change.
            guard status == .resolved else {
                throw WardenError(.alertResolved, "The alert '\(id)' is resolved; it stays resolved.")
            }
            return try await store.alert(id) ?? current
        }
        bus.publish(.alertChanged(alert))
        alertsGauge.record(try await store.countAlerts(status: .open))
        return alert
    }

    /// Raises `rule` on `subject`, or counts it again on the alert not yet resolved.
    func raise(
        _ rule: String, on subject: String, severity: Alert.Severity, tenantID: TenantID?, summary: String
    ) async throws -> Alert {
        let now = clock.now()
        let alert = try await store.raiseAlert(
            Alert(
                id: Hex.encode(SecretBytes.random(count: 8).bytes), tenantID: tenantID, rule: rule,
                severity: severity, subject: subject, summary: summary, count: 1, firstSeen: now, lastSeen: now))
        bus.publish(.alertChanged(alert))
        if alert.count == 1 {
            Counter(
                label: "warden_defender_alerts_raised_total",
                dimensions: [("rule", rule), ("severity", severity.rawValue)]
            ).increment()
        }
        alertsGauge.record(try await store.countAlerts(status: .open))
        return alert
    }
}
