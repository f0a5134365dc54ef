import Foundation
public import WardenCore
import WardenMQTT
public import WardenPolicy
public import WardenRegistry

/// "Would this be allowed, and why": a request checked as the broker would check it, decided by the policy in
/// force for the requestor as the registry holds it, with each statement's part. The API's simulate route and
/// the portal's policy page ask it.
public struct PolicySimulation: Sendable {
    /// What is asked, as text from a body or a form.
    public struct Question: Sendable {
        public var device: DeviceID?
        public var service: PolicyName?
        public var action: String
        public var topic: String?
        public var sourceAddress: String?
        public var protocolName: String?
        /// ISO 8601 or an age; default now.
        public var time: String?
        /// A risk level; default `normal`.
        public var risk: String?
        /// `1.2`, `1.3` or `none`; default unknown.
        public var tlsVersion: String?
        /// The PUBLISH's payload in bytes; default unknown.
        public var payloadSize: Int?
        /// The connection's PUBLISHes per second; default unknown.
        public var messageRate: Double?
        /// How long the connection has been up: a duration (`15m`) or seconds; default unknown.
        public var connectionAge: String?

        public init(
            device: DeviceID? = nil, service: PolicyName? = nil, action: String, topic: String? = nil,
            sourceAddress: String? = nil, protocolName: String? = nil, time: String? = nil, risk: String? = nil
        ) {
            self.risk = risk
            self.device = device
            self.service = service
            self.action = action
            self.topic = topic
            self.sourceAddress = sourceAddress
            self.protocolName = protocolName
            self.time = time
        }
    }

    let registry: RegistryService
    let facts: any PolicyFacts
    /// The devices' twins as the hub holds them, for conditions on reported properties.
    let twins: TwinSource
    let clock: any WardenClock

    public init(
        registry: RegistryService, facts: any PolicyFacts, twins: some ReportedProperties, clock: any WardenClock
    ) {
        self.registry = registry
        self.facts = facts
        self.twins = TwinSource(twins)
        self.clock = clock
    }

    /// The decision on `question` in `tenantID`, with the statements considered.
    public func answer(_ question: Question, in tenantID: TenantID) async throws -> PolicySimulationResource {
        let simulated = try await request(question, in: tenantID)
        let explanation = PolicyAuthorizer(facts, clock: clock, twins: twins).explain(simulated)
        let considered =
            explanation.requestor.map {
                explanation.policy.enforced.engine.trace(
                    $0, explanation.request.action, simulated.resource, in: explanation.context)
            } ?? []
        return PolicySimulationResource(explanation, considered: considered)
    }

    /// The request asked about, each part checked; a refusal names the part.
    private func request(_ question: Question, in tenantID: TenantID) async throws -> AuthorizationRequest {
        guard let action = PolicyAction(rawValue: question.action) else {
            throw WardenError(
                .requestInvalidField,
                "'action' must be one of \(PolicyAction.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let subject: AuthorizationRequest.Subject
        switch (question.device, question.service) {
        case (let device?, nil):
            _ = try await registry.device(tenantID, device)
            subject = .device(device)
        case (nil, let name?):
            guard let policy = try await registry.policies(tenantID).first(where: { $0.name == name }) else {
                throw WardenError(.policyNotFound, "There is no shared access policy '\(name)' in '\(tenantID)'.")
            }
            subject = .service(name, permissions: policy.permissions)
        default:
            throw WardenError(.requestInvalidField, "Name exactly one of 'device' and 'service'.")
        }
        var simulated = AuthorizationRequest(
            tenantID: tenantID, subject: subject, action: action, resource: try Self.resource(question.topic, action))
        if let address = question.sourceAddress {
            guard let parsed = IPAddress(address) else {
                throw WardenError(.requestInvalidField, "'context.sourceAddress' is not an IP address.")
            }
            simulated.context.peerAddress = parsed
        }
        if let name = question.protocolName {
            guard PolicyContext.protocolNames.contains(name) else {
                throw WardenError(
                    .requestInvalidField,
                    "'context.protocol' must be one of \(PolicyContext.protocolNames.sorted().joined(separator: ", "))."
                )
            }
            simulated.context.protocolName = name
        }
        if let risk = question.risk {
            guard let level = RiskLevel(rawValue: risk) else {
                throw WardenError(
                    .requestInvalidField,
                    "'context.risk' must be one of \(RiskLevel.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            simulated.context.risk = level
        }
        if let time = question.time {
            let milliseconds = try TimeBound.milliseconds(time, name: "context.time", now: clock.now())
            // total: milliseconds since 1970 as a Double, exact below 2^53.
            simulated.context.now = Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
        }
        try Self.connection(question, into: &simulated.context, now: simulated.context.now ?? clock.now())
        return simulated
    }

    /// What the question says of the connection; a simulation never knows a client certificate.
    private static func connection(_ question: Question, into context: inout PolicyContext, now: Date) throws {
        context.certificateIsKnown = false
        if let version = question.tlsVersion {
            guard PolicyConditions.tlsVersionNames.contains(version) else {
                throw WardenError(
                    .requestInvalidField,
                    "'context.tlsVersion' must be one of \(PolicyConditions.tlsVersionNames.sorted().joined(separator: ", "))."
                )
            }
            context.tlsVersion = version
        }
        if let size = question.payloadSize {
            guard size >= 0 else { throw WardenError(.requestInvalidField, "'context.payloadSize' is a byte count.") }
            context.payloadSize = size
        }
        if let rate = question.messageRate {
            guard rate.isFinite, rate >= 0 else {
                throw WardenError(.requestInvalidField, "'context.messageRate' is messages per second, 0 or more.")
            }
            context.messageRate = rate
        }
        if let age = question.connectionAge {
            // total: parses text: nil unless a number or a duration within bounds.
            guard let seconds = Double(age).flatMap({ $0.isFinite && $0 >= 0 ? $0 : nil }) ?? DurationText.seconds(age)
            else {
                throw WardenError(
                    .requestInvalidField, "'context.connectionAge' is a duration such as 90s, 15m or 12h.")
            }
            context.connectedAt = now.addingTimeInterval(-seconds)
        }
    }

    /// The topic as the action takes it: a filter to subscribe, a topic name otherwise; `connect` takes none.
    private static func resource(_ topic: String?, _ action: PolicyAction) throws -> AuthorizationRequest.Resource? {
        guard let topic else {
            guard action != .publish, action != .subscribe, action != .receive else {
                throw WardenError(.requestInvalidField, "'\(action.rawValue)' needs a 'topic'.")
            }
            return nil
        }
        guard action != .connect else { throw WardenError(.requestInvalidField, "'connect' takes no 'topic'.") }
        if action == .subscribe {
            do {
                return .filter(try TopicFilter(topic))
            } catch {
                throw WardenError(.requestInvalidField, "'topic' is not a topic filter: \(error).")
            }
        }
        guard TopicName.isValid(topic) else {
            throw WardenError(.requestInvalidField, "'topic' is not a topic name (no '+' or '#').")
        }
        return .topic(topic)
    }
}
