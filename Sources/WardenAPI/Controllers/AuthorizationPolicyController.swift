import Foundation
import Hummingbird
import NIOCore
import WardenAudit
import WardenCore
import WardenHub
import WardenMQTT
import WardenPolicy
import WardenRegistry

/// `/api/v1/tenants/{tenant}/policies`: the tenant's authorization policy (docs/policy.md), its versions, and
/// what it would decide.
struct AuthorizationPolicyController {
    let registry: RegistryService
    let facts: any PolicyFacts
    let twins: TwinService
    let auditReader: AuditReader
    let clock: any WardenClock
    static let base = "/api/v1/tenants/{tenant}/policies"

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, Self.base, "getPolicyInForce",
                "The statements in force, the shipped ones included, and the versions enforced and tried",
                permission: .policiesRead, success: (200, "PolicyInForce")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                _ = try await registry.tenant(tenantID)
                return try JSONResponse.make(PolicyInForceResource(facts.policy(tenantID, device: nil).0))
            },
            APIRoute(
                .put, Self.base + "/document", "putPolicyDocument",
                "Put a policy document (JSON, or YAML) in force as a new version (unchanged: the newest, 200)",
                permission: .policiesManage, request: "PolicyDocument", success: (201, "PolicyVersion")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let document = try await Self.document(request)
                let written = try await registry.writeAuthorizationPolicy(
                    tenantID, document: document, author: try context.author(), ifMatch: request.ifMatch)
                context.auditDetail("policy.version", "\(written.version.number)")
                return try JSONResponse.make(
                    PolicyVersionResource(written.version.summary), status: written.isNew ? .created : .ok,
                    etag: "\(written.version.number)")
            },
            APIRoute(
                .get, Self.base + "/document", "getPolicyDocument",
                "The newest document, byte for byte as written; its version is the ETag",
                permission: .policiesRead, success: (200, "PolicyDocument")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                guard let version = try await registry.authorizationPolicy(tenantID) else {
                    throw WardenError(
                        .policyVersionNotFound,
                        "Tenant '\(tenantID)' has written no policy document; the shipped statements alone are in force."
                    )
                }
                // As written: JSON when it starts with `{`, else YAML.
                let isJSON = version.document.first { !$0.isWhitespace } == "{"
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: isJSON ? "application/json" : "application/yaml", .eTag: "\"\(version.number)\"",
                    ],
                    body: .init(byteBuffer: ByteBuffer(string: version.document)))
            },
            APIRoute(
                .get, Self.base + "/versions", "listPolicyVersions", "The kept versions, newest first",
                permission: .policiesRead, success: (200, "PolicyVersionList")
            ) { request, context in
                let versions = try await registry.authorizationPolicyVersions(try request.tenantID(context))
                return try JSONResponse.make(
                    ListResource(items: versions.map { PolicyVersionResource($0) }, nextCursor: nil))
            },
            APIRoute(
                .get, Self.base + "/versions/{version}", "getPolicyVersion", "One kept version with its document",
                permission: .policiesRead, success: (200, "PolicyVersion")
            ) { request, context in
                let version = try await registry.authorizationPolicyVersion(
                    try request.tenantID(context), try Self.number(request, context))
                return try JSONResponse.make(PolicyVersionResource(version))
            },
            APIRoute(
                .post, Self.base + "/rollback", "rollBackPolicy",
                "Put an earlier version's document back in force, as a new version",
                permission: .policiesManage, request: "RollbackPolicy", success: (201, "PolicyVersion")
            ) { request, context in
                let body = try await request.decodeJSON(RollbackPolicyRequest.self, context)
                let version = try await registry.rollBackAuthorizationPolicy(
                    try request.tenantID(context), to: body.version, author: try context.author())
                context.auditDetail("policy.version", "\(version.number)")
                return try JSONResponse.make(
                    PolicyVersionResource(version.summary), status: .created, etag: "\(version.number)")
            },
            APIRoute(
                .post, Self.base + "/simulate", "simulatePolicy",
                "Whether the policy in force would allow a request, and why; no traffic is needed",
                permission: .policiesRead, request: "SimulatePolicy", success: (200, "PolicySimulation")
            ) { request, context in
                let body = try await request.decodeJSON(SimulatePolicyRequest.self, context)
                var question = PolicySimulation.Question(
                    device: body.device, service: body.service, action: body.action, topic: body.topic,
                    sourceAddress: body.context?.sourceAddress, protocolName: body.context?.protocol,
                    time: body.context?.time, risk: body.context?.risk)
                question.tlsVersion = body.context?.tlsVersion
                question.payloadSize = body.context?.payloadSize
                question.messageRate = body.context?.messageRate
                question.connectionAge = body.context?.connectionAge
                return try JSONResponse.make(
                    try await PolicySimulation(registry: registry, facts: facts, twins: twins, clock: clock).answer(
                        question, in: try request.tenantID(context)))
            },
            APIRoute(
                .get, Self.base + "/explanations/{reference}", "explainPolicyDecision",
                "The story of a recorded decision: what was asked, seen and decided, and each statement's part",
                permission: .auditRead, success: (200, "PolicyStory")
            ) { request, context in
                context.audit.set { $0.isSensitiveRead = true }
                return try JSONResponse.make(
                    try await story(try request.parameter("reference", context), in: try request.tenantID(context)))
            },
        ]
    }

    /// The audit record of a policy decision, and that decision made again with the recorded version for the
    /// requestor as the registry holds it now.
    private func story(_ reference: String, in tenantID: TenantID) async throws -> PolicyStoryResource {
        var filter = AuditFilter(tenant: tenantID)
        filter.referenceID = reference
        guard let record = try await auditReader.records(filter, before: nil, limit: 1).first,
            record.action.hasPrefix("device."),
            record.reason == "not_authorized" || record.reason == "audit_only_denied"
        else {
            throw WardenError(
                .policyDecisionNotFound,
                "Tenant '\(tenantID)' has no recorded policy decision with reference '\(reference)'.")
        }
        let version = record.details["policy.version"].flatMap { Int($0) }  // total: parses text: nil unless a number.
        func story(_ replay: PolicyStoryResource.Replay?, unavailable: String?) -> PolicyStoryResource {
            PolicyStoryResource(
                record: AuditRecordResource(record), policyVersion: version,
                statement: record.details["policy.statement"],
                replay: replay, replayUnavailable: unavailable)
        }
        guard let version else { return story(nil, unavailable: "the record names no policy version") }
        guard let action = PolicyAction(rawValue: String(record.action.dropFirst("device.".count))) else {
            return story(nil, unavailable: "the record's action is not a policy action")
        }
        let engine: PolicyEngine
        if version == 0 {
            engine = PolicyEngine()
        } else {
            do {
                let stored = try await registry.authorizationPolicyVersion(tenantID, version)
                engine = PolicyEngine(try PolicyDocument(text: Array(stored.document.utf8)))
            } catch let error as WardenError {
                return story(nil, unavailable: error.reason)
            }
        }
        guard let requestor = try await requestor(record, in: tenantID) else {
            return story(nil, unavailable: "'\(record.actor)' is no longer registered")
        }
        let resource: AuthorizationRequest.Resource? =
            switch action {
            case .connect: nil
            case .subscribe: (try? TopicFilter(record.target)).map { .filter($0) }
            default: .topic(record.target)
            }
        let context = PolicyContext(
            peerAddress: IPAddress(record.sourceIP), protocolName: record.details["protocol"] ?? "mqtt")
        let decision = engine.decide(requestor, action, resource, in: context)
        return story(
            .init(
                decision: decision.isAllowed ? "allow" : "deny", statement: decision.statementID,
                considered: engine.trace(requestor, action, resource, in: context).map(PolicyTraceResource.init)),
            unavailable: nil)
    }

    /// The recorded principal as the registry holds it now; nil when it is gone.
    private func requestor(_ record: AuditRecord, in tenantID: TenantID) async throws -> PolicyRequestor? {
        if record.actorKind == "service" {
            let name = try PolicyName(String(record.actor.dropFirst("$service/".count)))
            guard let policy = try await registry.policies(tenantID).first(where: { $0.name == name }) else {
                return nil
            }
            return PolicyRequestor(tenantID: tenantID, kind: .service(name, permissions: policy.permissions))
        }
        guard let deviceID = try? DeviceID(record.actor), let device = facts.policy(tenantID, device: deviceID).1
        else { return nil }
        return PolicyRequestor(tenantID: tenantID, kind: .device(device))
    }

    /// The body, up to a document's limit (larger than other bodies').
    private static func document(_ request: Request) async throws -> [UInt8] {
        do {
            return Array(try await request.collectBody(upTo: PolicyDocument.maximumBytes).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw WardenError(
                .requestBodyTooLarge, "A policy document is at most \(PolicyDocument.maximumBytes) bytes.")
        }
    }

    private static func number(_ request: Request, _ context: APIRequestContext) throws -> Int {
        // total: parses text: nil unless a whole number.
        guard let number = Int(try request.parameter("version", context)), number > 0 else {
            throw WardenError(.policyVersionNotFound, "A policy version is a whole number from 1.")
        }
        return number
    }
}
