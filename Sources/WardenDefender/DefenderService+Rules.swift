import Foundation
import Metrics
import Synchronization
public import WardenCore

/// What the Defender may change in the registry by itself (the registry's write path, given at start-up).
public protocol DeviceControl: Sendable {
    /// Disables the device with `reason` as its status reason.
    func disable(_ deviceID: DeviceID, in tenantID: TenantID, reason: String) async throws
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
    }

    /// Feeds the bus's authentication outcomes and policy denials to the rules.
    func observe(_ event: DomainEvent) {
        switch event {
        // A refusal a ban caused is not a guess at a credential: counting it would let a banned device behind
        // a NAT get the whole address banned.
        case .authentication(let record) where !record.isAccepted && record.failure != .authBanned:
            countFailure(from: record.peerAddress, at: record.at)
            guard let tenantID = record.tenantID else { return }
            let rules = rules(for: tenantID)
            countTenant(
                RuleName.tenantAuthFailures, rules.tenantAuthFailures, in: tenantID, at: record.at,
                summary: "\(rules.tenantAuthFailures.threshold) refused authentications in '\(tenantID)' within "
                    + "\(rules.tenantAuthFailures.window) s.")
            count(
                RuleName.deviceAuthFailures, rules.authFailures, principal: record.principal, in: tenantID,
                at: record.at, severity: .high,
                summary: "\(rules.authFailures.threshold) refused authentications as '\(record.principal)' within "
                    + "\(rules.authFailures.window) s (the last from \(record.peerAddress)).")
        // Connections only: the HTTPS device API authenticates every request.
        case .authentication(let record) where record.isAccepted && record.protocolName != "https":
            guard let tenantID = record.tenantID else { return }
            let rules = rules(for: tenantID)
            count(
                RuleName.flapping, rules.flapping, principal: record.principal, in: tenantID, at: record.at,
                severity: .medium,
                summary: "'\(record.principal)' connected \(rules.flapping.threshold) times within "
                    + "\(rules.flapping.window) s.")
            if rules.newNetwork.enabled, let deviceID = Self.device(record.principal) {
                let finding = profile(tenantID, deviceID, at: record.at) { profile in
                    profile.observeConnection(from: record.peerAddress, at: record.at, rules: rules.newNetwork)
                }
                if let finding {
                    fire(finding, device: deviceID, in: tenantID, severity: .low, response: rules.newNetwork.response)
                }
            }
        case .authorizationDenied(let denial) where denial.isEnforced:
            let rules = rules(for: denial.tenantID)
            count(
                RuleName.policyDenials, rules.policyDenials, principal: denial.principal, in: denial.tenantID,
                at: denial.at, severity: .medium,
                summary: "\(rules.policyDenials.threshold) requests of '\(denial.principal)' refused by policy within "
                    + "\(rules.policyDenials.window) s (the last: \(denial.action) '\(denial.topic)').")
        default:
            break
        }
    }

    // MARK: ConnectionObserver

    public var sampleInterval: Double { settings.sampleInterval }

    /// Judges one interval of a device's traffic against its baseline and hours.
    public func activity(_ sample: DeviceActivity) {
        let rules = rules(for: sample.tenantID)
        guard rules.behaviour.enabled || rules.unusualHours.enabled else { return }
        let (findings, hour) = profile(sample.tenantID, sample.deviceID, at: sample.at) { profile in
            (
                rules.behaviour.enabled ? profile.observe(sample, rules: rules.behaviour) : [],
                rules.unusualHours.enabled ? profile.observeHour(sample, rules: rules.unusualHours) : nil
            )
        }
        for finding in findings {
            fire(
                finding, device: sample.deviceID, in: sample.tenantID, severity: .medium,
                response: rules.behaviour.response)
        }
        if let hour {
            fire(
                hour, device: sample.deviceID, in: sample.tenantID, severity: .low,
                response: rules.unusualHours.response)
        }
    }

    /// Counts a connection that ended without its client saying so.
    public func ended(_ ending: ConnectionEnding) {
        guard ending.cause.isAbnormal else { return }
        let rules = rules(for: ending.tenantID)
        count(
            RuleName.abnormalDisconnects, rules.abnormalDisconnects, principal: ending.principal, in: ending.tenantID,
            at: ending.at, severity: .low,
            summary: "\(rules.abnormalDisconnects.threshold) connections of '\(ending.principal)' ended abnormally "
                + "within \(rules.abnormalDisconnects.window) s (the last: \(ending.cause.rawValue)).")
    }

    // MARK: Address rules (the platform's)

    /// Counts a TCP connection let in from `address`; the threshold-th within the window raises a flood alert.
    public func accepted(from address: IPAddress) {
        let now = clock.now()
        count(
            Self.floodRule, key: address.description, threshold: settings.floodThreshold, window: settings.floodWindow,
            at: now
        ) {
            [self] in
            await firedOnAddress(
                Self.floodRule, address, severity: .high, ban: settings.floodBan,
                summary: "\(settings.floodThreshold) connections from \(address) within "
                    + "\(Int(clamping: settings.floodWindow)) s.")
        }
    }

    /// Counts a refused authentication from `address`; the threshold-th within the window raises the alert (and
    /// bans the address when the settings say so), once per burst.
    private func countFailure(from address: IPAddress, at now: Date) {
        count(
            Self.authFailuresRule, key: address.description, threshold: settings.authFailureThreshold,
            window: settings.authFailureWindow, at: now
        ) { [self] in
            await firedOnAddress(
                Self.authFailuresRule, address, severity: .high, ban: settings.authFailureBan,
                summary: "\(settings.authFailureThreshold) refused authentications from \(address) within "
                    + "\(Int(clamping: settings.authFailureWindow)) s.")
        }
    }

    /// Raises an address rule's alert, then bans the address when the settings say so and it is not banned yet.
    private func firedOnAddress(
        _ rule: String, _ address: IPAddress, severity: Alert.Severity, ban lifetime: TimeInterval?, summary: String
    ) async {
        guard
            let alert = try? await raise(
                rule, on: "address \(address)", severity: severity, tenantID: nil, summary: summary),
            let lifetime, banIndex.withLock({ $0.ban(of: address, at: clock.now()) }) == nil
        else { return }
        let range = CIDR(enclosing: address, prefixLength: address.bytes.count * 8)
        await banAutomatically(.address(range), lifetime: lifetime, rule: rule, alert: alert, tenantID: nil)
    }

    // MARK: Counting

    /// A device rule's window for one principal of a tenant; the threshold-th event fires the rule on it.
    private func count(
        _ rule: String, _ settings: DeviceRules.Threshold, principal: String, in tenantID: TenantID, at now: Date,
        severity: Alert.Severity, summary: String
    ) {
        guard settings.enabled else { return }
        count(
            rule, key: "\(tenantID)/\(principal)", threshold: settings.threshold,
            window: TimeInterval(settings.window), at: now
        ) { [self] in
            let finding = DeviceProfile.Finding(rule: rule, summary: summary)
            if let deviceID = Self.device(principal) {
                await respond(finding, device: deviceID, in: tenantID, severity: severity, response: settings.response)
            } else {
                // A service (`$service/{policy}`) or a name that is no device id: alerted on, never answered.
                _ = try? await raise(
                    rule, on: "client \(tenantID)/\(principal)", severity: severity, tenantID: tenantID,
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
            rule, key: tenantID.rawValue, threshold: settings.threshold, window: TimeInterval(settings.window), at: now
        ) {
            [self] in
            _ = try? await raise(rule, on: "tenant \(tenantID)", severity: .high, tenantID: tenantID, summary: summary)
        }
    }

    /// The sliding window of one rule: the threshold-th event of `key` within `window` runs `fire` in a task
    /// of its own, once per burst (the count starts again from nothing). At most `maximumTrackedSources`
    /// sources per rule are counted; past it, the idlest go first.
    func count(
        _ rule: String, key: String, threshold: Int, window: TimeInterval, at now: Date,
        fire: @escaping @Sendable () async -> Void
    ) {
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
            return reached
        }
        if fires { raising(rule + " " + key, fire) }
    }

    /// Runs `fire` in a task of its own unless the same slot is already raising or too many are.
    private func raising(_ slot: String, _ fire: @escaping @Sendable () async -> Void) {
        let starts = counts.withLock { counts in
            counts.raising.count < Self.maximumRaising && counts.raising.insert(slot).inserted
        }
        guard starts else { return }
        Task {
            await fire()
            _ = self.counts.withLock { $0.raising.remove(slot) }
        }
    }

    /// Runs `update` on the device's profile, made when new; past `maximumProfiles` the longest unseen tenth
    /// is forgotten first.
    private func profile<Result>(
        _ tenantID: TenantID, _ deviceID: DeviceID, at now: Date, _ update: (inout DeviceProfile) -> Result
    ) -> Result {
        let key = "\(tenantID)/\(deviceID)"
        return profiles.withLock { profiles in
            if profiles[key] == nil, profiles.count >= settings.maximumProfiles {
                let oldest = profiles.sorted { $0.value.lastSeen < $1.value.lastSeen }.prefix(
                    max(1, profiles.count / 10))
                for (key, _) in oldest { profiles.removeValue(forKey: key) }
            }
            return update(&profiles[key, default: DeviceProfile(at: now)])
        }
    }

    // MARK: Responses

    /// Raises a device finding's alert and answers it, in a task of its own (once at a time per rule and device).
    private func fire(
        _ finding: DeviceProfile.Finding, device deviceID: DeviceID, in tenantID: TenantID, severity: Alert.Severity,
        response: DeviceRules.Response
    ) {
        raising("\(finding.rule) \(tenantID)/\(deviceID)") { [self] in
            await respond(finding, device: deviceID, in: tenantID, severity: severity, response: response)
        }
    }

    /// Raises the alert on the device, then answers it as its rule says, unless the answer is already in force
    /// (banned, quarantined at that level or above). Each answer is a `defenderActed` event for the audit log.
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
            bus.publish(
                .disconnectRequested(tenantID, deviceID, reason: "Disconnected by the Defender (alert \(alert.id))."))
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
                    != nil
            else { return }
            acted(.disable)
        case .ban(let seconds):
            guard banIndex.withLock({ $0.ban(of: deviceID, in: tenantID, at: now) }) == nil else { return }
            await banAutomatically(
                .device(tenantID, deviceID), lifetime: TimeInterval(seconds), rule: finding.rule, alert: alert,
                tenantID: tenantID)
        }
    }

    /// Puts a ban in force for an alert, unless the Defender already keeps its most bans.
    private func banAutomatically(
        _ subject: Ban.Subject, lifetime: TimeInterval, rule: String, alert: Alert, tenantID: TenantID?
    ) async {
        let automatic = banIndex.withLock { index in
            index.byID.values.filter { $0.createdBy.hasPrefix("defender:") }.count
        }
        guard automatic < Self.maximumAutomaticBans,
            let ban = try? await addBan(
                subject, reason: alert.summary, lifetime: lifetime, by: "defender:\(rule)", alertID: alert.id)
        else { return }
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

    /// The device a principal names (a service's `$service/…` names none).
    static func device(_ principal: String) -> DeviceID? {
        principal.hasPrefix("$") ? nil : try? DeviceID(principal)
    }
}
