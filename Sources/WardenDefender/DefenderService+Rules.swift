import Foundation
import Metrics
import Synchronization
public import WardenCore
import WardenStore

/// What the Defender may change in the registry by itself (the registry's write path, given at start-up).
public protocol DeviceControl: Sendable {
    /// Disables the device with `reason` as its status reason; false when it was disabled already.
    func disable(_ deviceID: DeviceID, in tenantID: TenantID, reason: String) async throws -> Bool
    /// Gives a SAS device two new keys (its connections close, old tokens stop working); false for a device
    /// without SAS keys.
    func rotateKeys(_ deviceID: DeviceID, in tenantID: TenantID) async throws -> Bool
    /// Revokes every valid certificate Warden issued to the device (key compromise); how many.
    func revokeCertificates(_ deviceID: DeviceID, in tenantID: TenantID) async throws -> Int
}

/// Who a rule counts: a device (answered as its rule says) or a service (alerted on only). Anonymous clients
/// are never counted as devices: their ClientId may be any device's id.
struct Counted {
    let principal: String
    let device: DeviceID?

    static func device(_ id: DeviceID) -> Counted { Counted(principal: id.rawValue, device: id) }
}

/// The rules (issue 16): counted on the bus observer and the broker's activity reports, under the Defender's
/// own locks, and raised and answered in tasks of their own, so that no connection waits for them.
extension DefenderService: ConnectionObserver {
    /// The device rules' names, as alerts carry them.
    public enum RuleName {
        public static let deviceAuthFailures = "auth.failures.device"
        public static let tenantAuthFailures = "auth.failures.tenant"
        public static let flapping = "connection.flapping"
        public static let abnormalDisconnects = "connection.abnormal"
        public static let policyDenials = "policy.denials"
        public static let commandRefusals = "c2d.rejections"
    }

    /// Feeds the bus's authentication outcomes and policy denials to the rules.
    func observe(_ event: DomainEvent) {
        switch event {
        // Guesses only: an identity that proved itself but may not connect (disabled, blocked, banned) is not
        // guessing, and counting it would let one such device behind a NAT get the whole address banned.
        case .authentication(let record) where !record.isAccepted && record.isCredentialFailure:
            countFailure(from: record.peerAddress, at: record.at)
            guard let tenantID = record.tenantID else { return }
            let rules = rules(for: tenantID)
            countTenant(
                RuleName.tenantAuthFailures, rules.tenantAuthFailures, in: tenantID, at: record.at,
                summary: "\(rules.tenantAuthFailures.threshold) refused authentications in '\(tenantID)' within "
                    + "\(rules.tenantAuthFailures.window) s.")
            // Per device only when the attempt named one that exists: any other name is the attacker's to choose.
            if let deviceID = record.guessedDevice {
                count(
                    RuleName.deviceAuthFailures, rules.authFailures, .device(deviceID), in: tenantID, at: record.at,
                    severity: .high,
                    summary: "\(rules.authFailures.threshold) refused authentications as '\(deviceID)' within "
                        + "\(rules.authFailures.window) s (the last from \(record.peerAddress)).")
            }
        // The HTTPS device API authenticates every request: each is a sighting for the inventory, not a connection
        // for the rules (the broker reports MQTT connections itself, with their TLS details).
        case .authentication(let record) where record.isAccepted && record.protocolName == "https":
            guard let tenantID = record.tenantID, let deviceID = Self.counted(record)?.device else { return }
            connected(
                DeviceConnection(
                    tenantID: tenantID, deviceID: deviceID, peerAddress: record.peerAddress, protocolName: "https",
                    method: record.method.rawValue, tlsVersion: nil, cipherSuite: nil, clientLibrary: nil,
                    certificateNotAfter: nil, at: record.at))
        case .authentication(let record) where record.isAccepted:
            guard let tenantID = record.tenantID, let counted = Self.counted(record) else { return }
            let rules = rules(for: tenantID)
            count(
                RuleName.flapping, rules.flapping, counted, in: tenantID, at: record.at, severity: .medium,
                summary: "'\(counted.principal)' connected \(rules.flapping.threshold) times within "
                    + "\(rules.flapping.window) s.")
            if rules.newNetwork.enabled, let deviceID = counted.device {
                let finding = profile(tenantID, deviceID, at: record.at) { profile in
                    profile.observeConnection(from: record.peerAddress, rules: rules.newNetwork)
                }
                if let finding {
                    fire(finding, device: deviceID, in: tenantID, severity: .low, response: rules.newNetwork.response)
                }
            }
        case .authorizationDenied(let denial) where denial.isEnforced:
            let counted: Counted? =
                if let deviceID = denial.deviceID { .device(deviceID) } else if denial.principal.hasPrefix("$service/")
                {
                    Counted(principal: denial.principal, device: nil)
                } else { nil }
            guard let counted else { return }
            let rules = rules(for: denial.tenantID)
            count(
                RuleName.policyDenials, rules.policyDenials, counted, in: denial.tenantID, at: denial.at,
                severity: .medium,
                summary: "\(rules.policyDenials.threshold) requests of '\(counted.principal)' refused by policy "
                    + "within \(rules.policyDenials.window) s (the last: \(denial.action) "
                    + "'\(denial.topic.prefix(DeviceActivity.maximumTopicBytes))').")
        case .cloudToDeviceRefused(let tenantID, let deviceID, let rejected):
            let rules = rules(for: tenantID)
            count(
                RuleName.commandRefusals, rules.commandRefusals, .device(deviceID), in: tenantID, at: clock.now(),
                severity: .medium,
                summary: "'\(deviceID)' turned down \(rules.commandRefusals.threshold) cloud-to-device messages within "
                    + "\(rules.commandRefusals.window) s (the last \(rejected ? "rejected" : "abandoned")).")
        default:
            break
        }
    }

    /// The device or service an accepted authentication proved (nil for anonymous clients).
    private static func counted(_ record: AuthenticationRecord) -> Counted? {
        switch record.method {
        case .sas, .x509Thumbprint, .x509CA: (try? DeviceID(record.principal)).map(Counted.device)
        case .service: Counted(principal: record.principal, device: nil)
        case .anonymous, .none: nil
        }
    }

    // MARK: ConnectionObserver

    public var sampleInterval: Double { settings.sampleInterval }

    /// Judges one interval of a device's traffic against its baseline and hours.
    public func activity(_ sample: DeviceActivity) {
        let rules = rules(for: sample.tenantID)
        guard rules.behaviour.enabled || rules.unusualHours.enabled else { return }
        // Worked out before the lock: a calendar is not free.
        let hour =
            rules.unusualHours.enabled ? DeviceProfile.hourAndDay(of: sample.at, in: rules.unusualHours.zone) : nil
        let (findings, unusual) = profile(sample.tenantID, sample.deviceID, at: sample.at) { profile in
            (
                rules.behaviour.enabled ? profile.observe(sample, rules: rules.behaviour) : [],
                hour.flatMap { profile.observeHour($0, of: sample, rules: rules.unusualHours) }
            )
        }
        for finding in findings {
            fire(
                finding, device: sample.deviceID, in: sample.tenantID, severity: .medium,
                response: rules.behaviour.response)
        }
        if let unusual {
            fire(
                unusual, device: sample.deviceID, in: sample.tenantID, severity: .low,
                response: rules.unusualHours.response)
        }
    }

    /// Counts a connection that ended without its client saying so.
    public func ended(_ ending: ConnectionEnding) {
        if ending.cause == .sessionTakenOver { countTakeover(of: ending.principal, in: ending.tenantID, at: ending.at) }
        guard ending.cause.isAbnormal else { return }
        let rules = rules(for: ending.tenantID)
        count(
            RuleName.abnormalDisconnects, rules.abnormalDisconnects,
            Counted(principal: ending.principal, device: ending.deviceID), in: ending.tenantID, at: ending.at,
            severity: .low,
            summary: "\(rules.abnormalDisconnects.threshold) connections of '\(ending.principal)' ended abnormally "
                + "within \(rules.abnormalDisconnects.window) s (the last: \(ending.cause.rawValue)).")
    }

    // MARK: Address rules (the platform's)

    /// Counts a TCP connection let in from `address`; the threshold-th within the window raises a flood alert.
    public func accepted(from address: IPAddress) {
        let source = Self.source(of: address)
        count(
            Self.floodRule, key: source.description, threshold: settings.floodThreshold,
            window: settings.floodWindow, tenant: nil, at: clock.now()
        ) { [self] in
            await firedOnAddress(
                Self.floodRule, source, severity: .high, ban: settings.floodBan,
                summary: "\(settings.floodThreshold) connections from \(Self.name(source)) within "
                    + "\(Int(clamping: settings.floodWindow)) s.")
        }
    }

    /// Counts a guess at a credential from `address`; the threshold-th within the window raises the alert (and
    /// bans the address when the settings say so), once per burst.
    private func countFailure(from address: IPAddress, at now: Date) {
        let source = Self.source(of: address)
        count(
            Self.authFailuresRule, key: source.description, threshold: settings.authFailureThreshold,
            window: settings.authFailureWindow, tenant: nil, at: now
        ) { [self] in
            await firedOnAddress(
                Self.authFailuresRule, source, severity: .high, ban: settings.authFailureBan,
                summary: "\(settings.authFailureThreshold) refused authentications from \(Self.name(source)) within "
                    + "\(Int(clamping: settings.authFailureWindow)) s.")
        }
    }

    /// Raises an address rule's alert, then bans the source when the settings say so and it is not banned yet.
    private func firedOnAddress(
        _ rule: String, _ source: CIDR, severity: Alert.Severity, ban lifetime: TimeInterval?, summary: String
    ) async {
        guard
            let alert = try? await raise(
                rule, on: "address \(Self.name(source))", severity: severity, tenantID: nil, summary: summary),
            let lifetime, banIndex.withLock({ $0.ban(of: source.network, at: clock.now()) }) == nil
        else { return }
        await banAutomatically(.address(source), lifetime: lifetime, rule: rule, alert: alert, tenantID: nil)
    }

    /// What the address rules count as one source: an IPv4 address, or an IPv6 /64 (one subscriber's network,
    /// whose 2^64 addresses an attacker walks through at no cost).
    static func source(of address: IPAddress) -> CIDR {
        CIDR(enclosing: address, prefixLength: address.isIPv4 ? 32 : 64)
    }

    /// An IPv4 source as its address, an IPv6 one as its /64.
    static func name(_ source: CIDR) -> String {
        source.network.isIPv4 ? source.network.description : source.description
    }

    // MARK: Counting

    /// A device rule's window for one device or service of a tenant; the threshold-th event fires the rule on it.
    private func count(
        _ rule: String, _ settings: DeviceRules.Threshold, _ counted: Counted, in tenantID: TenantID, at now: Date,
        severity: Alert.Severity, summary: String
    ) {
        guard settings.enabled else { return }
        count(
            rule, key: "\(tenantID)/\(counted.principal)", threshold: settings.threshold,
            window: TimeInterval(settings.window), tenant: tenantID, at: now
        ) { [self] in
            let finding = DeviceProfile.Finding(rule: rule, summary: summary)
            if let deviceID = counted.device {
                await respond(finding, device: deviceID, in: tenantID, severity: severity, response: settings.response)
            } else {
                // A service (`$service/{policy}`): alerted on, never answered.
                _ = try? await raise(
                    rule, on: "client \(tenantID)/\(counted.principal)", severity: severity, tenantID: tenantID,
                    summary: summary)
            }
        }
    }

    /// A tenant-wide rule's window.
    private func countTenant(
        _ rule: String, _ settings: DeviceRules.Threshold, in tenantID: TenantID, at now: Date, summary: String
    ) {
        guard settings.enabled else { return }
        count(
            rule, key: tenantID.rawValue, threshold: settings.threshold, window: TimeInterval(settings.window),
            tenant: tenantID, at: now
        ) { [self] in
            _ = try? await raise(rule, on: "tenant \(tenantID)", severity: .high, tenantID: tenantID, summary: summary)
        }
    }

    /// The sliding window of one rule: the threshold-th event of `key` within `window` runs `fire` in a task
    /// of its own, once per burst (the count starts again from nothing). At most `maximumTrackedSources`
    /// sources per rule are counted; past it, those idle for two of their own windows go, then the idlest tenth.
    /// On a node of a cluster the other nodes' estimates count too (`takeCounts`): the event that brings the sum
    /// to the threshold fires, on whichever node it is counted.
    func count(
        _ rule: String, key: String, threshold: Int, window: TimeInterval, tenant: TenantID?, at now: Date,
        fire: @escaping @Sendable () async -> Void
    ) {
        let limit = settings.maximumTrackedSources
        let fires = counts.withLock { counts -> Bool in
            // Changed in place: a copy of a rule's table per event would cost its whole size under the lock.
            if counts.windows[rule]?[key] == nil, (counts.windows[rule]?.count ?? 0) >= limit {
                let before = counts.windows[rule]?.count ?? 0
                Self.evict(&counts.windows[rule, default: [:]], at: now, keeping: limit - limit / 10)
                Self.forgotten("sources", before - (counts.windows[rule]?.count ?? 0))
            }
            let estimate = counts.windows[rule, default: [:]][
                key, default: WindowCount(at: now, window: window, threshold: threshold)
            ].add(at: now, window: window, threshold: threshold)
            let window = SharedCounts.Key(rule: rule, key: key)
            if counts.isSharing, estimate * 10 >= Double(threshold) {
                let known = counts.nearThreshold[window]
                counts.nearThreshold[window] = Firing(
                    tenant: tenant, fire: fire, shared: known?.shared, waitingSince: known?.waitingSince)
            }
            guard estimate + counts.elsewhere(window, at: now).sum >= Double(threshold) else { return false }
            counts.fire(window, at: now)
            return true
        }
        if fires { raising(rule + " " + key, tenant: tenant, fire) }
    }

    /// Drops the sources idle for two of their windows; if that leaves more than `keeping`, the idlest beyond it.
    private static func evict(_ windows: inout [String: WindowCount], at now: Date, keeping: Int) {
        windows = windows.filter { !$0.value.isIdle(at: now) }
        guard windows.count > keeping else { return }
        let idlest = windows.sorted { $0.value.lastWindowStart < $1.value.lastWindowStart }.prefix(
            windows.count - keeping)
        for (key, _) in idlest { windows.removeValue(forKey: key) }
    }

    /// Runs `fire` in a task of its own unless the same slot is already raising, or its tenant (or, for the
    /// address rules, the platform) has its most raising at once: one tenant's rules cannot starve the others'.
    func raising(_ slot: String, tenant: TenantID?, _ fire: @escaping @Sendable () async -> Void) {
        let starts = counts.withLock { counts in
            let running = counts.raisingPerTenant[tenant, default: 0]
            guard running < (tenant == nil ? Self.maximumRaisingForAddresses : Self.maximumRaisingPerTenant),
                counts.raising.count < Self.maximumRaising, counts.raising.insert(slot).inserted
            else { return false }
            counts.raisingPerTenant[tenant] = running + 1
            return true
        }
        guard starts else { return }
        Task {
            await fire()
            self.counts.withLock { counts in
                counts.raising.remove(slot)
                counts.raisingPerTenant[tenant, default: 1] -= 1
                if counts.raisingPerTenant[tenant] == 0 { counts.raisingPerTenant[tenant] = nil }
            }
        }
    }

    /// Runs `update` on the device's profile, made when new and marked seen; past `maximumProfiles` the longest
    /// unseen tenth is forgotten first.
    private func profile<Result>(
        _ tenantID: TenantID, _ deviceID: DeviceID, at now: Date, _ update: (inout DeviceProfile) -> Result
    ) -> Result {
        let key = "\(tenantID)/\(deviceID)"
        return profiles.withLock { profiles in
            if profiles[key] == nil, profiles.count >= settings.maximumProfiles {
                Self.forgetIdlest(&profiles)
            }
            profiles[key, default: DeviceProfile(at: now)].lastSeen = now
            return update(&profiles[key, default: DeviceProfile(at: now)])
        }
    }

    /// Forgets about a tenth of the profiles, those unseen longest: the cut is the tenth percentile of a sample
    /// (a dictionary's order is its hashes', near enough random), so it costs one pass, not a sort of them all.
    private static func forgetIdlest(_ profiles: inout [String: DeviceProfile]) {
        let sample = profiles.values.prefix(1_024).map(\.lastSeen).sorted()
        guard let cut = sample.dropFirst(sample.count / 10).first else { return }
        let before = profiles.count
        profiles = profiles.filter { $0.value.lastSeen > cut }
        forgotten("profiles", before - profiles.count)
    }

    /// Counts what a bound made the Defender forget (`warden_defender_forgotten_total{table}`).
    static func forgotten(_ table: String, _ count: Int) {
        guard count > 0 else { return }
        Counter(label: "warden_defender_forgotten_total", dimensions: [("table", table)]).increment(by: count)
    }

    // MARK: Responses

    /// Raises a device finding's alert and answers it, in a task of its own (once at a time per rule and device).
    private func fire(
        _ finding: DeviceProfile.Finding, device deviceID: DeviceID, in tenantID: TenantID, severity: Alert.Severity,
        response: DeviceRules.Response
    ) {
        raising("\(finding.rule) \(tenantID)/\(deviceID)", tenant: tenantID) { [self] in
            await respond(finding, device: deviceID, in: tenantID, severity: severity, response: response)
        }
    }

    /// Raises the alert on the device, then answers it as its rule says, unless the answer is already in force
    /// (banned, quarantined at that level or above, disabled). Each answer is a `defenderActed` event for the
    /// audit log.
    func respond(
        _ finding: DeviceProfile.Finding, device deviceID: DeviceID, in tenantID: TenantID, severity: Alert.Severity,
        response: DeviceRules.Response
    ) async {
        let subject = "device \(tenantID)/\(deviceID)"
        guard
            let alert = try? await raise(
                finding.rule, on: subject, severity: severity, tenantID: tenantID, summary: finding.summary)
        else { return }
        let now = clock.now()
        let author = "defender:\(finding.rule)"
        func acted(_ kind: DefenderAction.Kind, _ details: [String: String] = [:]) {
            record(
                DefenderAction(
                    kind: kind, rule: finding.rule, alertID: alert.id, tenantID: tenantID, target: subject,
                    details: details, at: now))
        }
        switch response {
        case .alert:
            return
        case .disconnect:
            disconnect(deviceID, in: tenantID, reason: "Disconnected by the Defender (alert \(alert.id)).")
            acted(.disconnect)
        case .quarantine(let level):
            let current = quarantined.withLock { $0["\(tenantID)/\(deviceID)"] }
            let order = Quarantine.levels
            if let current, (order.firstIndex(of: current) ?? 0) >= (order.firstIndex(of: level) ?? 0) { return }
            guard
                (try? await quarantine(
                    deviceID, in: tenantID, level: level, reason: finding.summary, by: author, alertID: alert.id))
                    != nil
            else { return }
            acted(.quarantine, ["level": level])
        case .disable:
            guard let control,
                (try? await control.disable(deviceID, in: tenantID, reason: "\(finding.rule): alert \(alert.id)"))
                    == true
            else { return }
            acted(.disable)
        case .rotateKey:
            guard let control, (try? await control.rotateKeys(deviceID, in: tenantID)) == true else { return }
            acted(.rotateKey)
        case .revokeCertificates:
            guard let control, let count = try? await control.revokeCertificates(deviceID, in: tenantID), count > 0
            else { return }
            acted(.revokeCertificates, ["certificates": String(count)])
        case .ban(let seconds):
            guard banIndex.withLock({ $0.ban(of: deviceID, in: tenantID, at: now) }) == nil else { return }
            await banAutomatically(
                .device(tenantID, deviceID), lifetime: TimeInterval(seconds), rule: finding.rule, alert: alert,
                tenantID: tenantID)
        }
    }

    /// Puts a ban in force for an alert, unless the Defender already keeps its most bans of that kind (addresses
    /// have their own budget, and each tenant one for its devices, so that no tenant spends the others'), or the
    /// store holds a ban of the subject in force (another node's rule fired on it a moment before).
    private func banAutomatically(
        _ subject: Ban.Subject, lifetime: TimeInterval, rule: String, alert: Alert, tenantID: TenantID?
    ) async {
        let (kept, budget) = banIndex.withLock { index in
            let automatic = index.byID.values.filter { $0.createdBy.hasPrefix("defender:") }
            return switch subject {
            case .device(let tenant, _):
                (
                    automatic.filter { if case .device(tenant, _) = $0.subject { true } else { false } }.count,
                    Self.maximumAutomaticBansPerTenant
                )
            default:
                (
                    automatic.filter { if case .address = $0.subject { true } else { false } }.count,
                    Self.maximumAutomaticBans
                )
            }
        }
        guard kept < budget,
            let ban = try? makeBan(
                subject, reason: alert.summary, lifetime: lifetime, by: "defender:\(rule)", alertID: alert.id),
            (try? await store.addBanUnlessInForce(ban)) == true
        else { return }
        bus.publish(.banAdded(ban))
        var details = ["ban.id": ban.id]
        details["expires"] = ban.expiresAt.map { UTCTimestamp.string(milliseconds: $0.unixMilliseconds) }
        record(
            DefenderAction(
                kind: .ban, rule: rule, alertID: alert.id, tenantID: tenantID, target: subject.description,
                details: details, at: ban.createdAt))
    }

    /// Publishes what the Defender did (the audit log records it) and counts it.
    private func record(_ action: DefenderAction) {
        bus.publish(.defenderActed(action))
        Counter(label: "warden_defender_actions_total", dimensions: [("kind", action.kind.rawValue)]).increment()
    }
}
